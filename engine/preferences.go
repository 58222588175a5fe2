package engine

import (
	"fmt"
	"regexp"
	"slices"
	"time"
)

// Preferences are a shopper's choices about contact and content, one record
// per user shared by every device. Every change bumps Version.
type Preferences struct {
	Version      int                     `json:"version"`
	UpdatedAt    time.Time               `json:"updated_at,omitzero"`
	Channels     map[Channel]ChannelPref `json:"channels"`
	ChannelOrder []Channel               `json:"channel_order"`
	QuietHours   *QuietHours             `json:"quiet_hours"`
	OfferTypes   []string                `json:"offer_types"`
	Categories   []string                `json:"categories"`
	Language     string                  `json:"language,omitempty"`
}

// A ChannelPref switches one channel and caps how often it is used. A zero
// cap means no cap of the shopper's own.
type ChannelPref struct {
	Enabled    bool `json:"enabled"`
	MaxPerDay  int  `json:"max_per_day"`
	MaxPerWeek int  `json:"max_per_week"`
}

// QuietHours is a daily window, in the user's time zone, when no message is
// sent; Start after End wraps midnight.
type QuietHours struct {
	Start string `json:"start"` // HH:MM
	End   string `json:"end"`
}

// DefaultPreferences are the preferences of a user who set none: every
// channel on (consent still decides), no caps, every offer type.
func DefaultPreferences() Preferences {
	p := Preferences{Channels: make(map[Channel]ChannelPref), ChannelOrder: slices.Clone(Channels),
		OfferTypes: slices.Clone(OfferTypes), Categories: []string{}}
	for _, c := range Channels {
		p.Channels[c] = ChannelPref{Enabled: true}
	}
	return p
}

var hhmmRE = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)

// Validate checks p and fills what a partial document leaves out (missing
// channels get the defaults).
func (p *Preferences) Validate() error {
	var ps problems
	if p.Channels == nil {
		p.Channels = make(map[Channel]ChannelPref)
	}
	for c, cp := range p.Channels {
		f := "channels." + string(c)
		if !c.Valid() {
			ps.add(f, "unknown channel %q; want one of %v", c, Channels)
			continue
		}
		if cp.MaxPerDay < 0 || cp.MaxPerDay > 1000 {
			ps.add(f+".max_per_day", "must be between 0 (no cap) and 1000")
		}
		if cp.MaxPerWeek < 0 || cp.MaxPerWeek > 7000 {
			ps.add(f+".max_per_week", "must be between 0 (no cap) and 7000")
		}
		if cp.MaxPerDay > 0 && cp.MaxPerWeek > 0 && cp.MaxPerWeek < cp.MaxPerDay {
			ps.add(f+".max_per_week", "is below max_per_day")
		}
	}
	for _, c := range Channels {
		if _, ok := p.Channels[c]; !ok {
			p.Channels[c] = ChannelPref{Enabled: true}
		}
	}
	seen := map[Channel]bool{}
	for i, c := range p.ChannelOrder {
		f := fmt.Sprintf("channel_order[%d]", i)
		switch {
		case !c.Valid():
			ps.add(f, "unknown channel %q; want one of %v", c, Channels)
		case seen[c]:
			ps.add(f, "channel %q is listed twice", c)
		}
		seen[c] = true
	}
	if p.ChannelOrder == nil {
		p.ChannelOrder = slices.Clone(Channels)
	}
	if q := p.QuietHours; q != nil {
		if !hhmmRE.MatchString(q.Start) {
			ps.add("quiet_hours.start", "%q is not a time HH:MM (00:00 to 23:59)", q.Start)
		}
		if !hhmmRE.MatchString(q.End) {
			ps.add("quiet_hours.end", "%q is not a time HH:MM (00:00 to 23:59)", q.End)
		}
		if q.Start == q.End && hhmmRE.MatchString(q.Start) {
			ps.add("quiet_hours.end", "equals start; omit quiet_hours for none")
		}
	}
	seenOffer := map[string]bool{}
	for i, o := range p.OfferTypes {
		f := fmt.Sprintf("offer_types[%d]", i)
		switch {
		case !valid(o, OfferTypes):
			ps.add(f, "unknown offer type %q; want one of %v", o, OfferTypes)
		case seenOffer[o]:
			ps.add(f, "offer type %q is listed twice", o)
		}
		seenOffer[o] = true
	}
	if p.OfferTypes == nil {
		p.OfferTypes = []string{}
	}
	if len(p.Categories) > 100 {
		ps.add("categories", "lists more than 100 categories")
	}
	for i, c := range p.Categories {
		if msg := checkText(c, 64); msg != "" || c == "" {
			if c == "" {
				msg = "is empty"
			}
			ps.add(fmt.Sprintf("categories[%d]", i), "%s", msg)
		}
	}
	if p.Categories == nil {
		p.Categories = []string{}
	}
	if p.Language != "" && !localeRE.MatchString(p.Language) {
		ps.add("language", "%q is not a language tag such as zh-CN or en", p.Language)
	}
	return ps.err()
}

// An InterestTag is a weighted interest derived from behaviour, such as
// "category:shoes". The shopper sees and may delete them.
type InterestTag struct {
	Tag       string    `json:"tag"`
	Weight    float64   `json:"weight"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// Interests are a user's tags and the tags the user deleted, which are never
// derived or used again.
type Interests struct {
	Tags    []InterestTag `json:"tags"`
	Deleted []string      `json:"deleted"`
}
