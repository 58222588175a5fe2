package scheduler_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"heed/campaigns"
	"heed/engine"
	"heed/scheduler"
)

// A message that lists recommended items carries only non-personalized
// items for a shopper without personalization consent (and the usage log
// says so); a purchase carrying the offer code afterwards counts as the
// campaign's conversion, with its revenue, in stats.
func TestItemsAndConversions(t *testing.T) {
	r := newRig(t)
	items := []engine.Item{
		{ID: "sku-1", Title: "Tea", Category: "food", Price: 120, InStock: true},
		{ID: "sku-2", Title: "Cup", Category: "home", Price: 60, InStock: true},
	}
	if _, err := r.svc.PutItems(r.ctx, items); err != nil {
		t.Fatal(err)
	}
	r.user(t, "plain", engine.Profile{}, []engine.Channel{engine.ChannelPush}, nil)
	s, _ := r.scheduler(t, scheduler.Options{})
	c := r.campaign(t, campaigns.Campaign{Channels: []engine.Channel{engine.ChannelPush},
		Message: campaigns.Message{Title: "{{.Offer}}", Body: "{{.Offer}}{{range .Items}} {{.Title}}{{end}}"}})
	run, err := r.camp.RunNow(r.ctx, c.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Dispatch(r.ctx, engine.PlanJob{Campaign: c.ID, Run: run.ID, Now: run.Now}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the message", func() bool { return r.sink.count() == 1 })
	d := r.deliveries(t, c.ID)["plain"]
	if d.Status != engine.DeliverySent || d.Personalized || len(d.Items) == 0 {
		t.Fatalf("delivery %+v: want sent with non-personalized items", d)
	}
	if body := r.sink.messages()[0].Message.Body; !strings.Contains(body, "Tea") && !strings.Contains(body, "Cup") {
		t.Errorf("the message lists no item: %q", body)
	}
	entries, _, err := r.svc.Activity(r.ctx, "plain", "", 50)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(entries, func(e engine.ActivityEntry) bool {
		return e.Action == engine.ActionMessageSent && strings.Contains(e.Detail, "non-personalized items")
	}) {
		t.Errorf("the usage log does not say the items were non-personalized: %+v", entries)
	}

	_, err = r.svc.RecordEvents(r.ctx, []engine.Event{{Type: engine.EventPurchase, User: "plain", OfferCode: "save15",
		Items: []engine.LineItem{{Item: "sku-1", Quantity: 2, Price: 120}}, Touchpoint: engine.TouchpointApp, OccurredAt: time.Now()}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := r.camp.Stats(r.ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Sent != 1 || st.Conversions != 1 || st.Revenue != 240 || st.ConversionRate != 1 {
		t.Errorf("stats: sent %d, conversions %d, revenue %v, rate %v; want 1, 1, 240, 1", st.Sent, st.Conversions, st.Revenue, st.ConversionRate)
	}
	if ch := st.ByChannel[engine.ChannelPush]; ch == nil || ch.Conversions != 1 || ch.Revenue != 240 {
		t.Errorf("push stats %+v, want the conversion", ch)
	}

	// The shopper's export holds the message, and the purchase it counts.
	x, err := r.svc.Export(r.ctx, "plain")
	if err != nil {
		t.Fatal(err)
	}
	if len(x.Deliveries) != 1 || x.Deliveries[0].Campaign != c.ID || x.Deliveries[0].Status != engine.DeliverySent ||
		x.Deliveries[0].Conversions != 1 || x.Deliveries[0].Revenue != 240 {
		t.Errorf("exported deliveries %+v; want the message sent, with its conversion", x.Deliveries)
	}
}
