package engine

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// An ItemID is a catalog item's id (a SKU), chosen by the retailer.
type ItemID string

// An Item is one product of the catalog.
type Item struct {
	ID       ItemID   `json:"id"`
	Title    string   `json:"title"`
	Category string   `json:"category,omitempty"`
	Tags     []string `json:"tags,omitempty"`
	Price    float64  `json:"price"`
	// Regions lists where the item is sold; empty: everywhere.
	Regions []string `json:"regions,omitempty"`
	// LaunchAt is when the item goes on sale: in the past for new arrivals,
	// in the future for upcoming launches; zero if unknown.
	LaunchAt  time.Time `json:"launch_at,omitzero"`
	InStock   bool      `json:"in_stock"`
	UpdatedAt time.Time `json:"updated_at,omitzero"` // set by heed
}

// MaxItemsPerBatch bounds one PUT /v1/items.
const MaxItemsPerBatch = 5000

// Validate checks an item id.
func (id ItemID) Validate() error {
	if id == "" {
		return Invalid("id", "is required")
	}
	if msg := checkText(string(id), 128); msg != "" {
		return Invalid("id", "%s", msg)
	}
	if strings.ContainsAny(string(id), "/\\") || strings.TrimSpace(string(id)) != string(id) {
		return Invalid("id", "must not contain slashes or surrounding spaces")
	}
	return nil
}

// Validate checks an item.
func (it Item) Validate() error {
	var ps problems
	if err := it.ID.Validate(); err != nil {
		ps = append(ps, problemsOf(err)...)
	}
	if it.Title == "" {
		ps.add("title", "is required")
	} else if msg := checkText(it.Title, 500); msg != "" {
		ps.add("title", "%s", msg)
	}
	if msg := checkText(it.Category, 128); msg != "" {
		ps.add("category", "%s", msg)
	}
	if len(it.Tags) > 64 {
		ps.add("tags", "has more than 64 tags")
	}
	for i, t := range it.Tags {
		if t == "" {
			ps.add(fmt.Sprintf("tags[%d]", i), "is empty")
		} else if msg := checkText(t, 64); msg != "" {
			ps.add(fmt.Sprintf("tags[%d]", i), "%s", msg)
		}
	}
	if it.Price < 0 || math.IsNaN(it.Price) || math.IsInf(it.Price, 0) {
		ps.add("price", "must be a number at least 0")
	}
	for i, r := range it.Regions {
		if r == "" {
			ps.add(fmt.Sprintf("regions[%d]", i), "is empty")
		} else if msg := checkText(r, 64); msg != "" {
			ps.add(fmt.Sprintf("regions[%d]", i), "%s", msg)
		}
	}
	return ps.err()
}

// ValidateItems checks a batch: every item, and that no id repeats. Field
// names are "items[i].field".
func ValidateItems(items []Item) error {
	var ps problems
	switch {
	case len(items) == 0:
		ps.add("items", "is empty")
	case len(items) > MaxItemsPerBatch:
		ps.add("items", "has %d items; at most %d per request", len(items), MaxItemsPerBatch)
	}
	seen := make(map[ItemID]int, len(items))
	for i, it := range items {
		prefix := fmt.Sprintf("items[%d].", i)
		if err := it.Validate(); err != nil {
			ps = append(ps, problemsOf(Prefixed(err, prefix))...)
		}
		if j, dup := seen[it.ID]; dup && it.ID != "" {
			ps.add(prefix+"id", "repeats items[%d].id %q", j, it.ID)
		}
		seen[it.ID] = i
	}
	return ps.err()
}

// problemsOf returns the field problems of a *ValidationError, or one
// problem without a field for any other error.
func problemsOf(err error) problems {
	var v *ValidationError
	if errors.As(err, &v) {
		return problems(v.Problems)
	}
	return problems{{Message: err.Error()}}
}

// InterestTags returns the interest tags an item gives a shopper who engages with
// it: "category:<category>" and "tag:<tag>" for each of its tags.
func (it Item) InterestTags() []string {
	tags := make([]string, 0, 1+len(it.Tags))
	if it.Category != "" {
		tags = append(tags, "category:"+it.Category)
	}
	for _, t := range it.Tags {
		tags = append(tags, "tag:"+t)
	}
	return tags
}
