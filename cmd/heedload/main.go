// Command heedload loads a running heed through its HTTP API, for the load
// and memory figures of docs/BENCHMARKS.md (scripts/bench-http.sh drives it).
//
//	heedload seed -key KEY -users 1000000 -records 10
//	heedload attack -key KEY -users 1000000 -target check -rate 8000 -conns 64 -duration 20s
//	heedload events -key KEY -batch 500 -conns 8 -duration 15s   (see events.go)
//
// seed creates users u0, u1, ..., each with -records consent records over
// marketing channels and personalization signals, in one request per user.
// attack sends requests at a constant rate (open loop, with vegeta, so a slow
// answer does not slow the sender down and hide its own latency) and prints
// throughput and latency percentiles.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "heedload: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: heedload seed|attack|events [flags]")
	}
	switch args[0] {
	case "seed":
		return seed(ctx, args[1:], out)
	case "attack":
		return attack(ctx, args[1:], out)
	case "events":
		return events(ctx, args[1:], out)
	}
	return fmt.Errorf("unknown mode %q: want seed, attack or events", args[0])
}

func seed(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("heedload seed", flag.ContinueOnError)
	addr := fs.String("addr", "http://127.0.0.1:8080", "heed base URL")
	key := fs.String("key", os.Getenv("HEED_KEY"), "storefront or admin API key")
	users := fs.Int("users", 1000, "number of users to create")
	first := fs.Int("first", 0, "index of the first user")
	records := fs.Int("records", 10, "consent records per user")
	clients := fs.Int("clients", 16, "concurrent HTTP clients")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *key == "" {
		return fmt.Errorf("-key (or HEED_KEY) is required")
	}
	if *records < 1 || *records > 500 {
		return fmt.Errorf("-records must be between 1 and 500")
	}
	c := &client{base: *addr, key: *key, http: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: *clients, MaxConnsPerHost: *clients},
	}}

	start := time.Now()
	var done atomic.Int64
	progress := func(what string, total int) func() {
		t := time.NewTicker(2 * time.Second)
		stop := make(chan struct{})
		go func() {
			for {
				select {
				case <-t.C:
					n := done.Load()
					fmt.Fprintf(out, "%s: %d/%d (%.0f/s)\n", what, n, total, float64(n)/time.Since(start).Seconds())
				case <-stop:
					t.Stop()
					return
				}
			}
		}()
		return func() { close(stop) }
	}

	// Users, one PUT each.
	end := progress("users", *users)
	err := parallel(ctx, *clients, *users, func(i int) error {
		u := *first + i
		body := fmt.Sprintf(`{"region":"%d","time_zone":"Asia/Shanghai","locale":"zh-CN","tier":"none"}`, 310000+u%30)
		if err := c.do(ctx, "PUT", fmt.Sprintf("/v1/users/u%d", u), body, 200); err != nil {
			return err
		}
		done.Add(1)
		return nil
	})
	end()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "users: %d in %s\n", *users, time.Since(start).Round(time.Millisecond))

	// Consent records: one request per user (consents are per user), records
	// spread over scopes so folds have work to do.
	start = time.Now()
	done.Store(0)
	total := *users * *records
	end = progress("records", total)
	err = parallel(ctx, *clients, *users, func(i int) error {
		u := *first + i
		recs := make([]map[string]any, *records)
		for j := range recs {
			recs[j] = record(u, j)
		}
		b, _ := json.Marshal(map[string]any{"records": recs})
		if err := c.do(ctx, "POST", fmt.Sprintf("/v1/users/u%d/consents", u), string(b), 201); err != nil {
			return err
		}
		done.Add(int64(*records))
		return nil
	})
	end()
	if err != nil {
		return err
	}
	el := time.Since(start)
	fmt.Fprintf(out, "records: %d in %s (%.0f records/s)\n", total, el.Round(time.Millisecond), float64(total)/el.Seconds())
	return nil
}

var (
	channels   = []string{"push", "email", "sms", "inapp"}
	signals    = []string{"purchases", "browsing", "favorites", "search", "region", "offline"}
	statuses   = []string{"granted", "granted", "granted", "withdrawn", "denied"}
	touchpoint = []string{"", "", "app", "web"}
)

// record returns user u's j-th synthetic record, deterministic.
func record(u, j int) map[string]any {
	h := (u*31 + j*17) & 0x7fffffff
	r := map[string]any{"status": statuses[h%len(statuses)], "source": "load"}
	if j%2 == 0 {
		r["purpose"] = "marketing"
		r["channel"] = channels[h%len(channels)]
	} else {
		r["purpose"] = "personalization"
		r["signal"] = signals[h%len(signals)]
	}
	if tp := touchpoint[(h/7)%len(touchpoint)]; tp != "" {
		r["touchpoint"] = tp
	}
	return r
}

type client struct {
	base, key string
	http      *http.Client
}

func (c *client) do(ctx context.Context, method, path, body string, want int) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewBufferString(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, msg)
	}
	return nil
}

// parallel runs fn(0..n-1) on k workers and returns the first error.
func parallel(ctx context.Context, k, n int, fn func(int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range k {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					next.Store(int64(n))
					return
				}
			}
		})
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}
