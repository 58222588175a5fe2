package campaigns

import (
	"context"
	"encoding/base64"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"heed/engine"
)

// Stats are a campaign's results.
type Stats struct {
	// Audience and PlannedSuppressed sum what planning found over the
	// campaign's runs (users left out before anything was scheduled).
	Runs     int `json:"runs"`
	Audience int `json:"audience"`
	// Scheduled counts deliveries not final yet: scheduled, deferred or
	// being sent; Deferred breaks down the deferred ones by reason.
	Scheduled int            `json:"scheduled"`
	Deferred  map[string]int `json:"deferred"`
	Sent      int            `json:"sent"`
	Failed    int            `json:"failed"`
	// Suppressed counts by reason the deliveries suppressed at send time
	// and the users left out at planning.
	Suppressed     map[string]int                   `json:"suppressed"`
	Conversions    int                              `json:"conversions"`
	Revenue        float64                          `json:"revenue"`
	ConversionRate float64                          `json:"conversion_rate"` // conversions per sent message
	ByChannel      map[engine.Channel]*ChannelStats `json:"by_channel"`
	// ByDay counts sends and conversions per UTC day, oldest first.
	ByDay []DayStats `json:"by_day"`
}

// ChannelStats are one channel's results.
type ChannelStats struct {
	Sent           int     `json:"sent"`
	Failed         int     `json:"failed"`
	Conversions    int     `json:"conversions"`
	Revenue        float64 `json:"revenue"`
	ConversionRate float64 `json:"conversion_rate"`
}

// DayStats are one day's sends and conversions.
type DayStats struct {
	Date        string  `json:"date"`
	Sent        int     `json:"sent"`
	Conversions int     `json:"conversions"`
	Revenue     float64 `json:"revenue"`
}

// Stats reads campaign id's results from its runs and its ledger.
func (s *Service) Stats(ctx context.Context, id string) (Stats, error) {
	if _, err := s.Get(ctx, id); err != nil {
		return Stats{}, err
	}
	st := Stats{Deferred: map[string]int{}, Suppressed: map[string]int{}, ByChannel: map[engine.Channel]*ChannelStats{}, ByDay: []DayStats{}}
	runs, err := s.Runs(ctx, id)
	if err != nil {
		return Stats{}, err
	}
	for _, r := range runs {
		st.Runs++
		st.Audience += r.Audience
		for reason, n := range r.Suppressed {
			st.Suppressed[reason] += n
		}
	}
	days := map[string]*DayStats{}
	day := func(t time.Time) *DayStats {
		k := t.UTC().Format(time.DateOnly)
		if days[k] == nil {
			days[k] = &DayStats{Date: k}
		}
		return days[k]
	}
	_, _, err = s.store.Deliveries(ctx, id, "", 0, func(d *engine.Delivery) bool {
		ch := st.ByChannel[d.Channel]
		if d.Channel != "" && ch == nil {
			ch = &ChannelStats{}
			st.ByChannel[d.Channel] = ch
		}
		switch d.Status {
		case engine.DeliverySent:
			st.Sent++
			ch.Sent++
			day(d.SentAt).Sent++
		case engine.DeliveryFailed:
			st.Failed++
			ch.Failed++
		case engine.DeliverySuppressed:
			st.Suppressed[d.Reason]++
		case engine.DeliveryDeferred:
			st.Scheduled++
			st.Deferred[d.Reason]++
		default:
			st.Scheduled++
		}
		if d.Conversions > 0 {
			st.Conversions += d.Conversions
			st.Revenue += d.Revenue
			if ch != nil {
				ch.Conversions += d.Conversions
				ch.Revenue += d.Revenue
			}
			dd := day(d.ConvertedAt)
			dd.Conversions += d.Conversions
			dd.Revenue += d.Revenue
		}
		return false // counted, not kept
	})
	if err != nil {
		return Stats{}, err
	}
	st.ConversionRate = rate(st.Conversions, st.Sent)
	st.Revenue = cents(st.Revenue)
	for _, ch := range st.ByChannel {
		ch.ConversionRate, ch.Revenue = rate(ch.Conversions, ch.Sent), cents(ch.Revenue)
	}
	for _, d := range days {
		d.Revenue = cents(d.Revenue)
		st.ByDay = append(st.ByDay, *d)
	}
	slices.SortFunc(st.ByDay, func(a, b DayStats) int { return strings.Compare(a.Date, b.Date) })
	return st, nil
}

func rate(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return math.Round(float64(n)/float64(of)*10000) / 10000
}

func cents(x float64) float64 { return math.Round(x*100) / 100 }

// A DeliveryFilter narrows Deliveries; empty fields do not filter.
type DeliveryFilter struct {
	User   engine.UserID
	Status engine.DeliveryStatus
}

// Deliveries returns campaign id's ledger entries matching f, a page of at
// most limit after cursor ("" for the first), and the next page's cursor
// ("" at the end).
func (s *Service) Deliveries(ctx context.Context, id string, f DeliveryFilter, cursor string, limit int) ([]engine.Delivery, string, error) {
	if _, err := s.Get(ctx, id); err != nil {
		return nil, "", err
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return nil, "", engine.Invalid("cursor", "is not a cursor this API returned")
	}
	keep := func(d *engine.Delivery) bool {
		return (f.User == "" || d.User == f.User) && (f.Status == "" || d.Status == f.Status)
	}
	if f.User != "" { // the user's index is far smaller than the campaign's range
		all, err := s.store.UserDeliveries(ctx, f.User)
		if err != nil {
			return nil, "", err
		}
		out := []engine.Delivery{}
		for _, d := range all {
			if d.Campaign == id && keep(&d) {
				out = append(out, d)
			}
		}
		return out, "", nil
	}
	out, next, err := s.store.Deliveries(ctx, id, string(raw), limit, keep)
	if out == nil {
		out = []engine.Delivery{}
	}
	return out, base64.RawURLEncoding.EncodeToString([]byte(next)), err
}

// A Preview is what running a campaign now would do, without sending.
type Preview struct {
	Date     string `json:"date,omitempty"`
	Audience int    `json:"audience"`
	// Eligible counts the users who would be sent the message now or
	// later (Deferred breaks down those held back, by reason).
	Eligible   int              `json:"eligible"`
	Deferred   map[string]int   `json:"deferred"`
	Suppressed map[string]int   `json:"suppressed"`
	Sample     []PreviewContact `json:"sample"`
}

// A PreviewContact is one user the preview would reach.
type PreviewContact struct {
	User    engine.UserID  `json:"user_id"`
	Channel engine.Channel `json:"channel,omitempty"`
	// DeferredUntil and Reason are set for a delivery held back.
	DeferredUntil time.Time `json:"deferred_until,omitzero"`
	Reason        string    `json:"reason,omitempty"`
}

// previewSample is how many contacts a preview lists.
const previewSample = 10

// Preview evaluates campaign id as a run now for date (YYYY-MM-DD; empty:
// each user's today) would: the audience, who would be sent the message,
// and who would not, by reason. It sends and records nothing.
func (s *Service) Preview(ctx context.Context, id, date string) (Preview, error) {
	if date != "" {
		if _, err := time.Parse(time.DateOnly, date); err != nil {
			return Preview{}, engine.Invalid("date", "%q is not a date YYYY-MM-DD", date)
		}
	}
	c, err := s.Get(ctx, id)
	if err != nil {
		return Preview{}, err
	}
	mcap, err := s.caps.MarketingCap(ctx)
	if err != nil {
		return Preview{}, fmt.Errorf("marketing cap: %w", err)
	}
	now := s.now()
	job := engine.PlanJob{Campaign: id, Label: date, Now: now}
	pv := Preview{Date: date, Deferred: map[string]int{}, Suppressed: map[string]int{}, Sample: []PreviewContact{}}
	var p planner
	var after engine.UserID
	for {
		fs, err := s.store.ScanUserFacts(ctx, engine.FactsQuery{After: after, Limit: s.opts.ChunkSize, Interests: len(c.Audience.Categories) > 0})
		if err != nil {
			return Preview{}, err
		}
		if len(fs) == 0 {
			return pv, nil
		}
		after = fs[len(fs)-1].User.ID
		res := engine.PlanResult{Suppressed: pv.Suppressed}
		cs, kept := p.contacts(c, job, fs, now, &res)
		pv.Audience += res.Audience
		vs, err := s.ledger.PlanDeliveries(ctx, cs, kept, c.rules(), mcap)
		if err != nil {
			return Preview{}, err
		}
		for i, v := range vs {
			switch {
			case v.Allow:
				pv.Eligible++
				if len(pv.Sample) < previewSample {
					pv.Sample = append(pv.Sample, PreviewContact{User: cs[i].User, Channel: v.Channel})
				}
			case !v.DeferUntil.IsZero():
				pv.Eligible++
				pv.Deferred[v.Reason]++
				if len(pv.Sample) < previewSample {
					pv.Sample = append(pv.Sample, PreviewContact{User: cs[i].User, DeferredUntil: v.DeferUntil, Reason: v.Reason})
				}
			default:
				pv.Suppressed[v.Reason]++
			}
		}
	}
}

// Attribute counts purchases as conversions of the deliveries that led to
// them: a purchase carrying a campaign's offer code converts that
// campaign's latest delivery sent to the buyer before it; a purchase
// without a code converts the latest delivery sent to the buyer within its
// campaign's attribution window before it. A purchase (by order id) counts
// once. Errors are logged: ingestion has already stored the events.
func (s *Service) Attribute(ctx context.Context, purchases []engine.Event) {
	failed := 0
	var first error
	for _, e := range purchases {
		if err := s.attribute(ctx, e); err != nil {
			if failed == 0 {
				first = engine.WithoutUser(err, e.User)
			}
			failed++
		}
	}
	if failed > 0 { // one line a batch, and no shopper's id in the log
		s.log.WarnContext(ctx, "campaigns: attributing purchases failed", "failed", failed, "purchases", len(purchases), "err", first)
	}
}

func (s *Service) attribute(ctx context.Context, e engine.Event) error {
	ds, err := s.store.UserDeliveries(ctx, e.User)
	if err != nil || len(ds) == 0 {
		return err
	}
	order := e.Order
	if order == "" {
		order = e.ID
	}
	var best *engine.Delivery
	for i := range ds {
		d := &ds[i]
		if d.Status != engine.DeliverySent || d.SentAt.After(e.OccurredAt) || slices.Contains(d.Orders, order) {
			continue
		}
		c, err := s.cached(ctx, d.Campaign)
		if err != nil {
			continue // deleted campaign
		}
		switch {
		case e.OfferCode != "":
			if c.Offer.Code == "" || !strings.EqualFold(c.Offer.Code, e.OfferCode) {
				continue
			}
		case e.OccurredAt.Sub(d.SentAt) > c.Attribution():
			continue
		}
		if best == nil || d.SentAt.After(best.SentAt) {
			best = d
		}
	}
	if best == nil {
		return nil
	}
	revenue := e.Revenue()
	_, err = s.store.UpdateDeliveryEntry(ctx, best.DeliveryKey(), func(d engine.Delivery) (engine.Delivery, engine.Effects, error) {
		if slices.Contains(d.Orders, order) {
			return d, engine.Effects{}, nil
		}
		d.Conversions++
		d.Revenue += revenue
		d.Orders = append(d.Orders, order)
		if d.ConvertedAt.IsZero() {
			d.ConvertedAt = e.OccurredAt
		}
		entry := engine.ActivityEntry{ID: engine.NewID("act_"), User: d.User, At: s.now(), Action: engine.ActionConversion,
			Purpose: engine.PurposeMarketing, Channel: d.Channel, Actor: string(engine.RoleSystem), DecisionID: d.DecisionID,
			Detail: fmt.Sprintf("a purchase was counted as a result of campaign %s (%s)", d.Campaign, how(e))}
		return d, engine.Effects{Activity: []engine.ActivityEntry{entry}}, nil
	})
	return err
}

func how(e engine.Event) string {
	if e.OfferCode != "" {
		return "it used the offer code"
	}
	return "it followed the message"
}
