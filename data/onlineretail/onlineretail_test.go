package onlineretail_test

import (
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"heed/data/onlineretail"
	"heed/engine"
)

// load parses the embedded data once per test binary: under -race a parse
// takes seconds.
var load = sync.OnceValues(onlineretail.Load)

func mustLoad(tb testing.TB) *onlineretail.Dataset {
	tb.Helper()
	d, err := load()
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// TestLoadCounts checks the cleaning against the figures of README.md.
func TestLoadCounts(t *testing.T) {
	d := mustLoad(t)
	customers, products, invoices, countries := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, l := range d.Lines {
		customers[l.Customer] = true
		products[l.StockCode] = true
		invoices[l.Invoice] = true
		countries[l.Country] = true
	}
	got := map[string]int{
		"lines": len(d.Lines), "customers": len(customers), "products": len(products),
		"invoices": len(invoices), "countries": len(countries), "Products": len(d.Products),
		"Customers": len(d.Customers()), "Events": len(d.Events()), "Items": len(d.Items()),
	}
	want := map[string]int{
		"lines": 396337, "customers": 4334, "products": 3659, "invoices": 18402, "countries": 37,
		"Products": 3659, "Customers": 4334, "Events": 18402, "Items": 3659,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
}

func TestEvents(t *testing.T) {
	d := mustLoad(t)
	evs := d.Events()
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	first := evs[0]
	want := engine.Event{
		Type: engine.EventPurchase, User: "c17850", Order: "536365", Region: "United Kingdom",
		Touchpoint: engine.TouchpointWeb, OccurredAt: time.Date(2010, 12, 1, 8, 26, 0, 0, london),
	}
	items := first.Items
	first.Items = nil
	if diff := cmp.Diff(want, first); diff != "" {
		t.Errorf("first event (-want +got):\n%s", diff)
	}
	if len(items) != 7 || items[0] != (engine.LineItem{Item: "85123A", Quantity: 6, Price: 2.55}) {
		t.Errorf("first event's items = %+v", items)
	}
	lines := 0
	for i, e := range evs {
		lines += len(e.Items)
		if i > 0 && e.OccurredAt.Before(evs[i-1].OccurredAt) {
			t.Fatalf("event %d (%s) is before event %d", i, e.Order, i-1)
		}
		// Summer times are BST (UTC+1).
		if _, off := e.OccurredAt.Zone(); off != 0 && off != 3600 {
			t.Fatalf("event %s has offset %d", e.Order, off)
		}
	}
	if lines != len(d.Lines) {
		t.Errorf("events hold %d lines, want %d", lines, len(d.Lines))
	}
}

func TestItems(t *testing.T) {
	d := mustLoad(t)
	untitled := 0
	for _, it := range d.Items() {
		if it.Title == string(it.ID) {
			untitled++
		} else if it.Category == "" {
			t.Errorf("item %s %q has no category", it.ID, it.Title)
		}
		if it.Price <= 0 || it.Title == "" || it.LaunchAt.IsZero() || !it.InStock {
			t.Errorf("item %+v is incomplete", it)
		}
		if err := it.Validate(); err != nil {
			t.Errorf("item %s: %v", it.ID, err)
		}
	}
	if untitled != 17 {
		t.Errorf("%d items without a description, want 17", untitled)
	}
}

func TestCategoryTags(t *testing.T) {
	tests := []struct {
		desc, category string
		tags           []string
	}{
		{"WHITE HANGING HEART T-LIGHT HOLDER", "holder", []string{"white", "heart"}},
		{"JUMBO BAG RED RETROSPOT", "bag", []string{"red", "retrospot"}},
		{"SWISS ROLL TOWEL, CHOCOLATE  SPOTS", "towel", nil},
		{"SET OF 3 CAKE TINS PANTRY DESIGN", "tin", []string{"cake"}},
		{"REGENCY CAKESTAND 3 TIER", "tier", []string{"regency"}},
		{"LUNCH BAG  BLACK SKULL.", "bag", []string{"black", "skull"}},
		{"PACK OF 72 RETROSPOT CAKE CASES", "case", []string{"retrospot", "cake"}},
		{"GLASS STAR FROSTED T-LIGHT HOLDER", "holder", []string{"glass", "star"}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if got := onlineretail.Category(tt.desc); got != tt.category {
				t.Errorf("Category = %q, want %q", got, tt.category)
			}
			if diff := cmp.Diff(tt.tags, onlineretail.Tags(tt.desc)); diff != "" {
				t.Errorf("Tags (-want +got):\n%s", diff)
			}
		})
	}
}

func BenchmarkLoad(b *testing.B) {
	for b.Loop() {
		if _, err := onlineretail.Load(); err != nil {
			b.Fatal(err)
		}
	}
}
