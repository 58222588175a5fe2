package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/sync/errgroup"

	"heed/data/onlineretail"
	"heed/engine"
)

// demoCmd loads the UCI Online Retail data shipped with heed into a running
// heed, trains the recommender and shows a few lists:
//
//	heed demo [--url U] [--key K] [--data DIR]
//
// Customers become users (their country is their region), products become
// items, invoices become purchases. Nine customers in ten grant
// personalization; the tenth grant nothing, so the demo also shows the
// non-personalized fallback.
func demoCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("heed demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	newClient := clientFlags(fs, getenv)
	skipEvents := fs.Bool("skip-events", false, "load items, users and consents only (then time `heed import` of the data file)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := newClient()
	if err != nil {
		return err
	}
	start := time.Now()
	fmt.Fprintln(stdout, "Online Retail [Dataset]. UCI Machine Learning Repository. https://doi.org/10.24432/C5BW33 (CC BY 4.0)")
	d, err := onlineretail.Load()
	if err != nil {
		return err
	}
	items, customers, events := d.Items(), d.Customers(), d.Events()
	fmt.Fprintf(stdout, "data: %d products, %d customers, %d invoices\n", len(items), len(customers), len(events))

	// Items, in batches.
	bar := newBar(stderr, len(items), "items")
	for i := 0; i < len(items); i += 1000 {
		batch := items[i:min(i+1000, len(items))]
		if err := c.call(ctx, "PUT", "/v1/items", map[string]any{"items": batch}, nil); err != nil {
			return err
		}
		_ = bar.Add(len(batch))
	}

	// Users and their consents, 16 at a time.
	bar = newBar(stderr, len(customers), "customers")
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i, cu := range customers {
		id := onlineretail.UserID(cu.ID)
		g.Go(func() error {
			p := engine.Profile{Region: cu.Country, TimeZone: onlineretail.Zone, Locale: "en-GB"}
			if err := c.call(gctx, "PUT", "/v1/users/"+string(id), p, nil); err != nil {
				return err
			}
			if i%10 != 9 {
				recs := []map[string]any{
					{"purpose": "personalization", "status": "granted", "source": "demo"},
					{"purpose": "marketing", "channel": "email", "status": "granted", "source": "demo"},
				}
				if err := c.call(gctx, "POST", "/v1/users/"+string(id)+"/consents", map[string]any{"records": recs}, nil); err != nil {
					return err
				}
			}
			return bar.Add(1)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}

	if !*skipEvents {
		s := time.Now()
		var res engine.ImportResult
		if err := c.send(ctx, "POST", "/v1/import/events", "application/x-ndjson", ndjson(events, newBar(stderr, len(events), "purchases")), &res); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "purchases: %d imported in %s\n", res.Accepted, since(s))

		fmt.Fprintln(stdout, "training the recommender ...")
		var info struct {
			Users, Items, Interactions int
			Seconds                    float64
		}
		if err := c.call(ctx, "POST", "/v1/recommender/train", nil, &info); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "model: %d users, %d items, %d interactions, trained in %.1f s\n", info.Users, info.Items, info.Interactions, info.Seconds)
		if err := showDemoLists(ctx, c, stdout, customers); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "demo loaded in %s\n", since(start))
	return nil
}

func newBar(w io.Writer, n int, what string) *progressbar.ProgressBar {
	return progressbar.NewOptions(n, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(), progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }))
}

// showDemoLists prints a personalized list, the fallback and a bought-
// together list, with the curl commands that fetch them.
func showDemoLists(ctx context.Context, c *client, w io.Writer, customers []onlineretail.Customer) error {
	show := func(title, path string) (engine.RecResult, error) {
		var r engine.RecResult
		if err := c.call(ctx, "GET", path, nil, &r); err != nil {
			return r, err
		}
		fmt.Fprintf(w, "\n%s\n  GET %s  (personalized: %v, signals used: %v)\n", title, path, r.Personalized, r.SignalsUsed)
		for i, it := range r.Items {
			if i == 5 {
				break
			}
			fmt.Fprintf(w, "  %-8s %.3f  %v\n", it.Item, it.Score, it.Reasons)
		}
		return r, nil
	}
	first, other := onlineretail.UserID(customers[0].ID), onlineretail.UserID(customers[9].ID)
	r, err := show("For a customer who allowed personalization:", "/v1/users/"+string(first)+"/recommendations?strategy=for_you&limit=5")
	if err != nil {
		return err
	}
	if _, err := show("For one who did not (the same list for every such shopper):", "/v1/users/"+string(other)+"/recommendations?strategy=for_you&limit=5"); err != nil {
		return err
	}
	if len(r.Items) > 0 {
		if _, err := show("Bought together with the first item:", "/v1/items/"+string(r.Items[0].Item)+"/complementary?limit=5"); err != nil {
			return err
		}
	}
	return nil
}
