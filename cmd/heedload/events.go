package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"heed/data/onlineretail"
)

// events posts batches of synthetic events for the Online Retail customers
// and products (loaded first with heed demo --skip-events) as fast as heed
// answers, from -conns connections, and prints events/s and the latency of
// a batch:
//
//	heedload events -key KEY -batch 500 -conns 8 -duration 15s [-users 50]
//
// The mix is 60% views, 15% carts, 10% favorites, 10% purchases of one to
// three lines and 5% searches, on the app or the web, within the last hour.
func events(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("heedload events", flag.ContinueOnError)
	addr := fs.String("addr", "http://127.0.0.1:8080", "heed base URL")
	key := fs.String("key", os.Getenv("HEED_KEY"), "storefront or admin API key")
	batch := fs.Int("batch", 500, "events per request")
	conns := fs.Int("conns", 8, "concurrent connections")
	duration := fs.Duration("duration", 15*time.Second, "how long to send")
	perBatch := fs.Int("users", 0, "distinct users in a batch (a storefront sending its sessions' events together); 0: every event's user drawn from all customers")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *key == "" {
		return fmt.Errorf("-key (or HEED_KEY) is required")
	}
	d, err := onlineretail.Load()
	if err != nil {
		return err
	}
	var users, items []string
	for _, c := range d.Customers() {
		users = append(users, string(onlineretail.UserID(c.ID)))
	}
	for _, p := range d.Products {
		items = append(items, p.StockCode)
	}
	c := &client{base: *addr, key: *key, http: &http.Client{
		Timeout:   time.Minute,
		Transport: &http.Transport{MaxIdleConnsPerHost: *conns, MaxConnsPerHost: *conns},
	}}

	ctx, cancel := context.WithTimeout(ctx, *duration)
	defer cancel()
	var sent atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration // guarded by mu
	var first error
	var once sync.Once
	start := time.Now()
	var wg sync.WaitGroup
	for w := range *conns {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 42))
			for ctx.Err() == nil {
				pool := users
				if *perBatch > 0 {
					pool = make([]string, *perBatch)
					for i := range pool {
						pool[i] = users[r.IntN(len(users))]
					}
				}
				body := eventBatch(r, pool, items, *batch)
				t := time.Now()
				if err := c.do(ctx, "POST", "/v1/events", body, 200); err != nil {
					if ctx.Err() == nil {
						once.Do(func() { first = err })
						cancel()
					}
					return
				}
				mu.Lock()
				lat = append(lat, time.Since(t))
				mu.Unlock()
				sent.Add(int64(*batch))
			}
		})
	}
	wg.Wait()
	if first != nil {
		return first
	}
	el := time.Since(start)
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))].Round(time.Millisecond)
	}
	fmt.Fprintf(out, "events: %d in %s = %.0f events/s (%d batches of %d from %d connections); batch latency p50 %s, p99 %s\n",
		sent.Load(), el.Round(time.Millisecond), float64(sent.Load())/el.Seconds(), len(lat), *batch, *conns, pct(0.5), pct(0.99))
	return nil
}

// eventBatch returns the JSON of one batch of n synthetic events.
func eventBatch(r *rand.Rand, users, items []string, n int) string {
	evs := make([]map[string]any, n)
	now := time.Now()
	for i := range evs {
		e := map[string]any{"user_id": users[r.IntN(len(users))], "touchpoint": []string{"app", "web"}[r.IntN(2)],
			"occurred_at": now.Add(-time.Duration(r.IntN(3600)) * time.Second).Format(time.RFC3339)}
		switch p := r.IntN(100); {
		case p < 60:
			e["type"], e["item_id"] = "view", items[r.IntN(len(items))]
		case p < 75:
			e["type"], e["item_id"] = "cart", items[r.IntN(len(items))]
		case p < 85:
			e["type"], e["item_id"] = "favorite", items[r.IntN(len(items))]
		case p < 95:
			lines := make([]map[string]any, 1+r.IntN(3))
			for j := range lines {
				lines[j] = map[string]any{"item_id": items[r.IntN(len(items))], "quantity": 1 + r.IntN(4), "price": 2.5}
			}
			e["type"], e["items"] = "purchase", lines
		default:
			e["type"], e["query"] = "search", "lantern"
		}
		evs[i] = e
	}
	b, _ := json.Marshal(map[string]any{"events": evs})
	return string(b)
}
