package campaigns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"heed/engine"
)

// messageItems is how many recommended items a message's {{range .Items}}
// gets.
const messageItems = 4

// Prepare makes the send-time decision about contact c (through the
// ledger) and, when it is to be sent now, renders its message in the
// user's language: the caller sends it and reports with Finish. A contact
// whose campaign was deleted is suppressed as if the campaign had ended.
func (s *Service) Prepare(ctx context.Context, c engine.Contact) (engine.Outgoing, error) {
	camp, err := s.cached(ctx, c.Campaign)
	if errors.Is(err, engine.ErrNotFound) {
		camp = Campaign{ID: c.Campaign, Status: StatusEnded}
	} else if err != nil {
		return engine.Outgoing{}, err
	}
	a, err := s.ledger.AttemptDelivery(ctx, c, camp.rules())
	if err != nil || !a.Send {
		return engine.Outgoing{Delivery: a.Delivery}, err
	}
	out, err := s.render(ctx, camp, a.Delivery)
	if err != nil {
		// A message that cannot be rendered never will be: fail it now
		// rather than let the claim lapse and retry.
		d, ferr := s.ledger.FinishDelivery(ctx, a.Delivery.DeliveryKey(), engine.SendResult{Err: err})
		if ferr != nil {
			return engine.Outgoing{}, errors.Join(err, ferr)
		}
		return engine.Outgoing{Delivery: d}, nil
	}
	return out, nil
}

// render builds the message of a claimed delivery d of campaign c.
func (s *Service) render(ctx context.Context, c Campaign, d engine.Delivery) (engine.Outgoing, error) {
	u, err := s.store.User(ctx, d.User)
	if err != nil {
		return engine.Outgoing{}, err
	}
	out := engine.Outgoing{Delivery: d, Send: true}
	loc := c.Location(u.TimeZone)
	data := MessageData{Name: u.Name, Campaign: c.Name, Offer: c.Offer.Render(u.Locale), Code: c.Offer.Code,
		ValidUntil: c.Offer.ValidUntil(s.now(), loc)}
	if s.opts.UnsubscribeURL != nil {
		out.UnsubscribeURL = s.opts.UnsubscribeURL(d)
		data.UnsubscribeURL = out.UnsubscribeURL
	}
	if s.opts.Recommender != nil && c.usesItems(u.Locale) {
		items, ids, personalized, err := s.opts.Recommender.MessageItems(ctx, d.User, messageItems)
		if err != nil {
			return engine.Outgoing{}, fmt.Errorf("items for the message: %w", err)
		}
		data.Items, out.Items, out.Personalized = items, ids, personalized
	}
	if out.Title, out.Body, err = c.Render(u.Locale, data); err != nil {
		return engine.Outgoing{}, fmt.Errorf("render the message: %w", err)
	}
	if out.Offer, err = json.Marshal(c.Offer); err != nil {
		return engine.Outgoing{}, err
	}
	if d.Channel == engine.ChannelEmail {
		for _, id := range u.Identities {
			if id.Type == "email" {
				out.To = id.Value
				break
			}
		}
	}
	return out, nil
}

// usesItems reports whether c's message for locale mentions .Items, so
// that items are chosen only for messages that show them.
func (c Campaign) usesItems(locale string) bool {
	_, t := c.Message.pick(locale)
	return strings.Contains(t.Title+t.Body, ".Items")
}

// DueDeliveries returns up to limit ledger entries that are not final and
// are due at or before t, for the scheduler's sweeper.
func (s *Service) DueDeliveries(ctx context.Context, t time.Time, limit int) ([]engine.Delivery, error) {
	return s.store.DueDeliveries(ctx, t, limit)
}

// Finish records the outcome of sending a prepared delivery.
func (s *Service) Finish(ctx context.Context, key string, res engine.SendResult) (engine.Delivery, error) {
	return s.ledger.FinishDelivery(ctx, key, res)
}

// cached returns campaign id, read at most once a second: deliveries of
// one campaign come in bursts of thousands.
func (s *Service) cached(ctx context.Context, id string) (Campaign, error) {
	now := time.Now()
	s.cacheMu.Lock()
	e, ok := s.cache[id]
	s.cacheMu.Unlock()
	if ok && now.Sub(e.at) < time.Second {
		return e.c, e.err
	}
	c, err := s.Get(ctx, id)
	if err != nil && !errors.Is(err, engine.ErrNotFound) {
		return Campaign{}, err
	}
	s.cacheMu.Lock()
	if s.cache == nil {
		s.cache = make(map[string]cachedCampaign)
	}
	s.cache[id] = cachedCampaign{c: c, err: err, at: now}
	s.cacheMu.Unlock()
	return c, err
}

type cachedCampaign struct {
	c   Campaign
	err error
	at  time.Time
}

// campaignCache holds recently read campaigns for Prepare.
type campaignCache struct {
	cacheMu sync.Mutex
	cache   map[string]cachedCampaign // guarded by cacheMu
}

// forget drops campaign id from the cache, after a change.
func (s *Service) forget(id string) {
	s.cacheMu.Lock()
	delete(s.cache, id)
	s.cacheMu.Unlock()
}
