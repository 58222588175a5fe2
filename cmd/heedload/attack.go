package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"heed/data/onlineretail"
)

// attack sends one kind of request at a constant rate and reports latency.
func attack(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("heedload attack", flag.ContinueOnError)
	addr := fs.String("addr", "http://127.0.0.1:8080", "heed base URL")
	key := fs.String("key", os.Getenv("HEED_KEY"), "storefront or admin API key")
	users := fs.Int("users", 1000, "users seeded (u0..u<n-1>)")
	idfmt := fs.String("idfmt", "u%d", "format of the user ids, from the user's index")
	target := fs.String("target", "check", "check (GET consents/check), write (POST one consent record), recs (GET for_you of an Online Retail customer, loaded with heed demo) or healthz")
	rate := fs.Int("rate", 1000, "requests per second")
	conns := fs.Int("conns", 64, "connections (and at most as many requests in flight)")
	duration := fs.Duration("duration", 15*time.Second, "how long to send")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *key == "" && *target != "healthz" {
		return fmt.Errorf("-key (or HEED_KEY) is required")
	}
	hdr := http.Header{"Authorization": {"Bearer " + *key}, "Content-Type": {"application/json"}}
	channels := []string{"push", "email", "sms", "inapp"}
	touchpoints := []string{"app", "web", "store"}
	var targeter vegeta.Targeter
	switch *target {
	case "check":
		targeter = func(t *vegeta.Target) error {
			t.Method, t.Header = "GET", hdr
			t.URL = fmt.Sprintf("%s/v1/users/%s/consents/check?purpose=marketing&channel=%s&touchpoint=%s",
				*addr, fmt.Sprintf(*idfmt, rand.IntN(*users)), channels[rand.IntN(4)], touchpoints[rand.IntN(3)])
			return nil
		}
	case "write":
		targeter = func(t *vegeta.Target) error {
			t.Method, t.Header = "POST", hdr
			t.URL = fmt.Sprintf("%s/v1/users/%s/consents", *addr, fmt.Sprintf(*idfmt, rand.IntN(*users)))
			t.Body = fmt.Appendf(nil, `{"records":[{"purpose":"marketing","channel":%q,"status":%q,"source":"load"}]}`,
				channels[rand.IntN(4)], []string{"granted", "withdrawn"}[rand.IntN(2)])
			return nil
		}
	case "recs":
		d, err := onlineretail.Load()
		if err != nil {
			return err
		}
		cs := d.Customers()
		targeter = func(t *vegeta.Target) error {
			t.Method, t.Header = "GET", hdr
			t.URL = fmt.Sprintf("%s/v1/users/%s/recommendations?strategy=for_you&limit=10",
				*addr, onlineretail.UserID(cs[rand.IntN(len(cs))].ID))
			return nil
		}
	case "healthz":
		targeter = func(t *vegeta.Target) error {
			t.Method, t.URL = "GET", *addr+"/healthz"
			return nil
		}
	default:
		return fmt.Errorf("unknown -target %q", *target)
	}

	n := uint64(*conns)
	a := vegeta.NewAttacker(vegeta.Connections(*conns), vegeta.MaxConnections(*conns),
		vegeta.Workers(n), vegeta.MaxWorkers(n), vegeta.KeepAlive(true), vegeta.Timeout(10*time.Second))
	var m vegeta.Metrics
	codes := map[uint16]int{}
	results := a.Attack(targeter, vegeta.Rate{Freq: *rate, Per: time.Second}, *duration, *target)
	for res := range results {
		if ctx.Err() != nil {
			a.Stop()
		}
		m.Add(res)
		codes[res.Code]++
	}
	m.Close()
	fmt.Fprintf(out, "%s: offered %d/s for %s over %d connections\n", *target, *rate, *duration, *conns)
	fmt.Fprintf(out, "  achieved %.0f/s, success %.2f%%, status codes %v\n", m.Throughput, 100*m.Success, codes)
	fmt.Fprintf(out, "  latency p50 %s  p90 %s  p99 %s  max %s\n",
		m.Latencies.P50.Round(10*time.Microsecond), m.Latencies.P90.Round(10*time.Microsecond),
		m.Latencies.P99.Round(10*time.Microsecond), m.Latencies.Max.Round(10*time.Microsecond))
	if len(m.Errors) > 0 {
		fmt.Fprintf(out, "  errors: %v\n", m.Errors[:min(3, len(m.Errors))])
	}
	return nil
}
