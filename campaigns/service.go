package campaigns

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"log/slog"
	"time"

	"heed/engine"
)

// Store keeps campaigns and runs as documents and reads the audience and
// the delivery ledger; engine/badgerstore.DB satisfies it.
type Store interface {
	PutCampaign(ctx context.Context, id string, doc []byte) error
	UpdateCampaign(ctx context.Context, id string, fn func(doc []byte) ([]byte, error)) error
	Campaign(ctx context.Context, id string) ([]byte, error)
	Campaigns(ctx context.Context) ([][]byte, error)
	DeleteCampaign(ctx context.Context, id string) error
	AddRun(ctx context.Context, campaign, id string, doc []byte) (bool, error)
	UpdateRun(ctx context.Context, campaign, id string, fn func(doc []byte) ([]byte, error)) error
	Runs(ctx context.Context, campaign string) ([][]byte, error)

	User(ctx context.Context, id engine.UserID) (engine.User, error)
	engine.AudienceStore
	Deliveries(ctx context.Context, campaign, cursor string, limit int, keep func(*engine.Delivery) bool) ([]engine.Delivery, string, error)
	UserDeliveries(ctx context.Context, id engine.UserID) ([]engine.Delivery, error)
	UpdateDeliveryEntry(ctx context.Context, key string, fn func(engine.Delivery) (engine.Delivery, engine.Effects, error)) (engine.Delivery, error)
	DueDeliveries(ctx context.Context, t time.Time, limit int) ([]engine.Delivery, error)
}

// Ledger is the delivery ledger with its send-time decision;
// *engine.Service satisfies it.
type Ledger interface {
	ScheduleContacts(ctx context.Context, cs []engine.Contact) (int, error)
	PlanDeliveries(ctx context.Context, cs []engine.Contact, fs []engine.UserFacts, r engine.ContactRules, mcap engine.MarketingCap) ([]engine.DeliveryVerdict, error)
	AttemptDelivery(ctx context.Context, c engine.Contact, r engine.ContactRules) (engine.Attempt, error)
	FinishDelivery(ctx context.Context, key string, res engine.SendResult) (engine.Delivery, error)
}

// CapSource returns the policy's marketing cap; *policies.Set satisfies it.
type CapSource interface {
	MarketingCap(ctx context.Context) (engine.MarketingCap, error)
}

// Recommender picks items for a message; nil: messages carry none.
type Recommender interface {
	// MessageItems returns up to n items for user, chosen under the user's
	// consent now, and whether they are personalized.
	MessageItems(ctx context.Context, user engine.UserID, n int) ([]MessageItem, []engine.ItemID, bool, error)
}

// Options configure a Service. Zero values are usable.
type Options struct {
	// Now returns the current time; nil: time.Now.
	Now func() time.Time
	// UnsubscribeURL returns the one-click unsubscribe URL of a delivery;
	// nil: messages carry none.
	UnsubscribeURL func(d engine.Delivery) string
	// Recommender picks the items of {{range .Items}}; nil: none.
	Recommender Recommender
	// ChunkSize is how many users one planning task scans; zero: 5000.
	ChunkSize int
	// Lookahead is how long before its first due time an occurrence is
	// planned; zero: one hour.
	Lookahead time.Duration
	// RedispatchAfter is how long a run may stay unqueued (Redis was down,
	// or the planner that created it crashed) before Due hands it out
	// again; zero: a minute.
	RedispatchAfter time.Duration
}

// Service manages campaigns: definitions and their life, previews, planning
// occurrences into contacts, preparing messages at send time, and results.
// It is safe for concurrent use.
type Service struct {
	store  Store
	ledger Ledger
	caps   CapSource
	opts   Options
	log    *slog.Logger
	campaignCache
}

// NewService returns a Service.
func NewService(store Store, ledger Ledger, caps CapSource, opts Options, log *slog.Logger) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ChunkSize <= 0 {
		opts.ChunkSize = 5000
	}
	if opts.Lookahead <= 0 {
		opts.Lookahead = time.Hour
	}
	if opts.RedispatchAfter <= 0 {
		opts.RedispatchAfter = time.Minute
	}
	return &Service{store: store, ledger: ledger, caps: caps, opts: opts, log: log}
}

func (s *Service) now() time.Time { return s.opts.Now().UTC() }

// Create validates c and stores it as a new draft. Returns an
// *engine.ValidationError (ErrInvalid) naming the bad fields.
func (s *Service) Create(ctx context.Context, c Campaign) (Campaign, error) {
	now := s.now()
	c.Status = ""
	if err := c.Validate(now); err != nil {
		return Campaign{}, err
	}
	c.ID, c.Status, c.Version, c.CreatedAt, c.UpdatedAt, c.ActivatedAt = engine.NewID("cmp_"), StatusDraft, 1, now, now, time.Time{}
	doc, err := json.Marshal(c)
	if err != nil {
		return Campaign{}, err
	}
	if err := s.store.PutCampaign(ctx, c.ID, doc); err != nil {
		return Campaign{}, err
	}
	return c, nil
}

// Get returns campaign id; ErrNotFound if there is none.
func (s *Service) Get(ctx context.Context, id string) (Campaign, error) {
	doc, err := s.store.Campaign(ctx, id)
	if err != nil {
		return Campaign{}, err
	}
	var c Campaign
	if err := json.Unmarshal(doc, &c); err != nil {
		return Campaign{}, fmt.Errorf("campaign %s: %w", id, err)
	}
	return c, nil
}

// List returns every campaign, in creation order.
func (s *Service) List(ctx context.Context) ([]Campaign, error) {
	docs, err := s.store.Campaigns(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Campaign, 0, len(docs))
	for _, doc := range docs {
		var c Campaign
		if err := json.Unmarshal(doc, &c); err != nil {
			return nil, fmt.Errorf("campaigns: %w", err)
		}
		out = append(out, c)
	}
	return out, nil
}

// all yields every campaign, for the planner.
func (s *Service) all(ctx context.Context) iter.Seq2[Campaign, error] {
	return func(yield func(Campaign, error) bool) {
		cs, err := s.List(ctx)
		if err != nil {
			yield(Campaign{}, err)
			return
		}
		for _, c := range cs {
			if !yield(c, nil) {
				return
			}
		}
	}
}

// Update replaces the definition of campaign id with c, keeping its id,
// status and times. With ifMatch > 0 it fails with ErrStale unless the
// stored version is ifMatch. An ended campaign cannot change (ErrConflict).
func (s *Service) Update(ctx context.Context, id string, c Campaign, ifMatch int) (Campaign, error) {
	now := s.now()
	c.Status = ""
	if err := c.Validate(now); err != nil {
		return Campaign{}, err
	}
	var out Campaign
	err := s.change(ctx, id, func(cur Campaign) (Campaign, error) {
		switch {
		case ifMatch > 0 && cur.Version != ifMatch:
			return Campaign{}, fmt.Errorf("campaign is at version %d, not %d: %w", cur.Version, ifMatch, engine.ErrStale)
		case cur.Status == StatusEnded:
			return Campaign{}, fmt.Errorf("campaign %s has ended and cannot change: %w", id, engine.ErrConflict)
		}
		next := c
		next.ID, next.Status, next.CreatedAt, next.ActivatedAt = cur.ID, cur.Status, cur.CreatedAt, cur.ActivatedAt
		next.Version, next.UpdatedAt = cur.Version+1, now
		out = next
		return next, nil
	})
	return out, err
}

// Delete deletes campaign id; an active campaign must be paused or ended
// first (ErrConflict). Its deliveries stay in the ledger.
func (s *Service) Delete(ctx context.Context, id string) error {
	c, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	if c.Status == StatusActive {
		return fmt.Errorf("campaign %s is active; pause or end it first: %w", id, engine.ErrConflict)
	}
	defer s.forget(id)
	return s.store.DeleteCampaign(ctx, id)
}

// Transition moves campaign id to status to: draft → active ⇄ paused →
// ended. Returns ErrConflict for a move the life cycle does not allow.
func (s *Service) Transition(ctx context.Context, id string, to Status) (Campaign, error) {
	now := s.now()
	var out Campaign
	err := s.change(ctx, id, func(cur Campaign) (Campaign, error) {
		if cur.Status == to {
			out = cur
			return cur, nil
		}
		if !cur.CanTransition(to) {
			return Campaign{}, fmt.Errorf("campaign %s is %s and cannot become %s: %w", id, cur.Status, to, engine.ErrConflict)
		}
		if to == StatusActive && cur.Status == StatusDraft {
			cur.ActivatedAt = now
		}
		cur.Status, cur.Version, cur.UpdatedAt = to, cur.Version+1, now
		out = cur
		return cur, nil
	})
	return out, err
}

// change updates the stored campaign id with fn.
func (s *Service) change(ctx context.Context, id string, fn func(Campaign) (Campaign, error)) error {
	defer s.forget(id)
	return s.store.UpdateCampaign(ctx, id, func(doc []byte) ([]byte, error) {
		var cur Campaign
		if err := json.Unmarshal(doc, &cur); err != nil {
			return nil, err
		}
		next, err := fn(cur)
		if err != nil {
			return nil, err
		}
		return json.Marshal(next)
	})
}

// rules returns what the send-time decision needs of c.
func (c Campaign) rules() engine.ContactRules {
	return engine.ContactRules{Channels: c.Channels, Touchpoint: c.Touchpoint, OfferType: c.Offer.Type,
		Cap: c.Cap, TimeZone: c.TimeZone, Paused: c.Status == StatusPaused, Ended: c.Status == StatusEnded,
		Offer: c.Name + " · " + c.Offer.Render("")}
}
