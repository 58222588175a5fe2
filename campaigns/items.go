package campaigns

import (
	"context"
	"strconv"

	"heed/engine"
)

// ItemSource recommends and describes items; *engine.Service satisfies it.
type ItemSource interface {
	Recommend(ctx context.Context, id engine.UserID, q engine.RecQuery) (engine.RecResult, error)
	Items(ctx context.Context, ids []engine.ItemID) (map[engine.ItemID]engine.Item, error)
}

// ForYou picks a message's items from the shopper's "for you" list, under
// the same consent rules as any recommendation: the non-personalized
// fallback without personalization consent, and the usage log says which.
// It satisfies Recommender.
type ForYou struct{ Source ItemSource }

// MessageItems returns up to n items for user and whether they are
// personalized.
func (f ForYou) MessageItems(ctx context.Context, user engine.UserID, n int) ([]MessageItem, []engine.ItemID, bool, error) {
	res, err := f.Source.Recommend(engine.SystemContext(ctx), user, engine.RecQuery{Strategy: engine.StrategyForYou, Limit: n})
	if err != nil {
		return nil, nil, false, err
	}
	ids := make([]engine.ItemID, len(res.Items))
	for i, it := range res.Items {
		ids[i] = it.Item
	}
	catalog, err := f.Source.Items(ctx, ids)
	if err != nil {
		return nil, nil, false, err
	}
	out := make([]MessageItem, 0, len(ids))
	for _, id := range ids {
		it := catalog[id]
		out = append(out, MessageItem{ID: string(id), Title: it.Title, Price: strconv.FormatFloat(it.Price, 'f', -1, 64)})
	}
	return out, ids, res.Personalized, nil
}
