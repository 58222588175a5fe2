package main

import (
	"context"
	"strconv"

	"heed/campaigns"
	"heed/engine"
)

// messageItems picks the items a campaign message lists: the shopper's
// "for you" list, under the same consent rules as any recommendation (the
// non-personalized fallback without personalization consent; the usage log
// says which).
type messageItems struct{ svc *engine.Service }

// MessageItems returns up to n items for user, as campaigns.Recommender.
func (m messageItems) MessageItems(ctx context.Context, user engine.UserID, n int) ([]campaigns.MessageItem, []engine.ItemID, bool, error) {
	res, err := m.svc.Recommend(engine.SystemContext(ctx), user, engine.RecQuery{Strategy: engine.StrategyForYou, Limit: n})
	if err != nil {
		return nil, nil, false, err
	}
	ids := make([]engine.ItemID, len(res.Items))
	for i, it := range res.Items {
		ids[i] = it.Item
	}
	catalog, err := m.svc.Items(ctx, ids)
	if err != nil {
		return nil, nil, false, err
	}
	out := make([]campaigns.MessageItem, 0, len(ids))
	for _, id := range ids {
		it := catalog[id]
		out = append(out, campaigns.MessageItem{ID: string(id), Title: it.Title, Price: strconv.FormatFloat(it.Price, 'f', -1, 64)})
	}
	return out, ids, res.Personalized, nil
}
