package onlineretail

import (
	"slices"
	"strings"

	"heed/engine"
)

// UserID returns heed's user id of a customer: "c" and the CustomerID.
func UserID(customer string) engine.UserID { return engine.UserID("c" + customer) }

// Events returns one purchase event per invoice, in the order of the file
// (chronological): User "c"+CustomerID, the invoice's lines as Items, Order
// the InvoiceNo, Region the Country, touchpoint web, OccurredAt the invoice
// date in Europe/London. Three wholesale invoices have more lines (up to
// 541) than the 500 engine.Event.Validate allows an API event; they are
// kept whole.
func (d *Dataset) Events() []engine.Event {
	var out []engine.Event
	for i := 0; i < len(d.Lines); {
		j := i + 1
		for j < len(d.Lines) && d.Lines[j].Invoice == d.Lines[i].Invoice {
			j++
		}
		l := d.Lines[i]
		items := make([]engine.LineItem, j-i)
		for k, m := range d.Lines[i:j] {
			items[k] = engine.LineItem{Item: engine.ItemID(m.StockCode), Quantity: m.Quantity, Price: m.UnitPrice}
		}
		out = append(out, engine.Event{
			Type:       engine.EventPurchase,
			User:       UserID(l.Customer),
			Items:      items,
			Order:      l.Invoice,
			Region:     l.Country,
			Touchpoint: engine.TouchpointWeb,
			OccurredAt: l.At,
		})
		i = j
	}
	return out
}

// Items returns the catalog, by ID: Title the description (the StockCode
// for the 17 products without one), Category a head noun guessed from it
// (see Category; empty without a description), Tags the colours, materials
// and themes it names (see Tags), Price the median unit price paid,
// LaunchAt the first sale, InStock true.
func (d *Dataset) Items() []engine.Item {
	prices := make(map[string][]float64, len(d.Products))
	for _, l := range d.Lines {
		prices[l.StockCode] = append(prices[l.StockCode], l.UnitPrice)
	}
	out := make([]engine.Item, len(d.Products))
	for i, p := range d.Products {
		title := p.Description
		if title == "" {
			title = p.StockCode
		}
		out[i] = engine.Item{
			ID:       engine.ItemID(p.StockCode),
			Title:    title,
			Category: Category(p.Description),
			Tags:     Tags(p.Description),
			Price:    median(prices[p.StockCode]),
			LaunchAt: p.FirstSeen,
			InStock:  true,
		}
	}
	return out
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	return xs[len(xs)/2]
}

// words splits a description into lower-case words of letters (digits and
// punctuation separate words; apostrophes are dropped).
func words(desc string) []string {
	return strings.FieldsFunc(strings.ToLower(strings.ReplaceAll(desc, "'", "")), func(r rune) bool {
		return !('a' <= r && r <= 'z') && r != '-'
	})
}

// notHead lists words that end a description without naming the product:
// colours, sizes, patterns, counts.
var notHead = map[string]bool{
	"of": true, "set": true, "sets": true, "assorted": true, "asst": true, "design": true, "designs": true,
	"colour": true, "colours": true, "color": true, "colors": true, "small": true, "large": true, "mini": true,
	"medium": true, "big": true, "jumbo": true, "giant": true, "tiny": true, "s": true, "l": true, "m": true,
	"retrospot": true, "spot": true, "spots": true, "polkadot": true, "dots": true, "stripe": true, "stripes": true,
	"vintage": true, "new": true, "and": true, "with": true, "in": true, "the": true, "a": true, "-": true,
	"rose": true, "flower": true, "flowers": true, "fairy": true, "doily": true, "paisley": true, "skull": true,
	"skulls": true, "christmas": true, "xmas": true, "love": true, "pantry": true, "heart": true, "hearts": true,
}

// Category guesses a product's kind from its description: the last word
// that is not a colour, size, pattern or count, singular, of the part before
// a comma. "WHITE HANGING HEART T-LIGHT HOLDER" → "holder", "JUMBO BAG RED
// RETROSPOT" → "bag", "SWISS ROLL TOWEL, PINK SPOTS" → "towel". Empty if
// nothing qualifies.
func Category(desc string) string {
	if i := strings.IndexByte(desc, ','); i > 0 {
		desc = desc[:i]
	}
	ws := words(desc)
	for i := len(ws) - 1; i >= 0; i-- {
		w := strings.Trim(ws[i], "-")
		if len(w) < 3 || notHead[w] || colours[w] || materials[w] {
			continue
		}
		return singular(w)
	}
	if len(ws) > 0 {
		return singular(strings.Trim(ws[len(ws)-1], "-"))
	}
	return ""
}

func singular(w string) string {
	switch {
	case strings.HasSuffix(w, "ss") || strings.HasSuffix(w, "us") || len(w) <= 3:
		return w
	case strings.HasSuffix(w, "ies"):
		return w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "xes"), strings.HasSuffix(w, "ches"), strings.HasSuffix(w, "shes"), strings.HasSuffix(w, "sses"):
		return w[:len(w)-2]
	case strings.HasSuffix(w, "s"):
		return w[:len(w)-1]
	}
	return w
}

var colours = map[string]bool{
	"red": true, "pink": true, "blue": true, "green": true, "white": true, "black": true, "ivory": true,
	"cream": true, "gold": true, "silver": true, "purple": true, "yellow": true, "orange": true, "brown": true,
	"grey": true, "gray": true, "lilac": true, "turquoise": true, "natural": true, "pastel": true, "copper": true,
	"bronze": true, "clear": true, "multicolour": true, "rainbow": true, "lavender": true, "aqua": true,
}

var materials = map[string]bool{
	"wooden": true, "wood": true, "glass": true, "ceramic": true, "metal": true, "zinc": true, "enamel": true,
	"paper": true, "felt": true, "tin": true, "cotton": true, "lace": true, "porcelain": true, "china": true,
	"wicker": true, "rattan": true, "velvet": true, "crochet": true, "knitted": true, "wool": true,
	"linen": true, "acrylic": true, "plastic": true, "resin": true, "iron": true, "wire": true, "leather": true,
	"silk": true, "bamboo": true, "feather": true, "jute": true, "cardboard": true, "fabric": true,
	"gingham": true, "sequin": true, "beaded": true, "diamante": true, "pottery": true,
}

var themes = map[string]string{
	"christmas": "christmas", "xmas": "christmas", "retrospot": "retrospot", "vintage": "vintage",
	"heart": "heart", "hearts": "heart", "love": "heart", "polkadot": "polkadot", "spotty": "polkadot",
	"regency": "regency", "paisley": "paisley", "skull": "skull", "skulls": "skull", "easter": "easter",
	"birthday": "birthday", "garden": "garden", "kitchen": "kitchen", "baking": "kitchen", "tea": "tea",
	"party": "party", "children": "children", "childrens": "children", "baby": "baby", "doily": "doily",
	"floral": "floral", "flower": "floral", "flowers": "floral", "rose": "floral", "roses": "floral",
	"bird": "bird", "birds": "bird", "owl": "bird", "woodland": "woodland", "fairy": "fairy", "star": "star",
	"stars": "star", "union": "union-jack", "jack": "union-jack", "antique": "vintage", "french": "french",
	"wedding": "wedding", "halloween": "halloween", "summer": "summer", "spaceboy": "spaceboy",
	"dolly": "dolly-girl", "cakes": "cake", "cake": "cake", "candle": "candle", "candles": "candle",
}

// Tags lists the colours, materials and themes a description names, in
// order, without repeats: "WHITE HANGING HEART T-LIGHT HOLDER" → [white heart].
func Tags(desc string) []string {
	var out []string
	add := func(t string) {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	for _, w := range words(desc) {
		switch {
		case colours[w]:
			add(w)
		case materials[w]:
			if w == "wood" {
				w = "wooden"
			}
			add(w)
		case themes[w] != "":
			add(themes[w])
		}
	}
	return out
}
