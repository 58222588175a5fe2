package campaigns_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"heed/campaigns"
	"heed/engine"
)

// brokenDeliveries is a store whose delivery ledger cannot be read; the
// embedded Store is nil, so any other call panics.
type brokenDeliveries struct{ campaigns.Store }

func (brokenDeliveries) UserDeliveries(_ context.Context, id engine.UserID) ([]engine.Delivery, error) {
	return nil, fmt.Errorf("deliveries of %s: %w", id, errors.New("disk on fire"))
}

// TestAttributeLogsOnce: failures are logged once a batch, with how many
// failed, and without the shoppers' ids.
func TestAttributeLogsOnce(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	s := campaigns.NewService(brokenDeliveries{}, nil, nil, campaigns.Options{}, log)
	at := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	s.Attribute(context.Background(), []engine.Event{
		{Type: engine.EventPurchase, User: "shopper-417", Order: "o1", OccurredAt: at},
		{Type: engine.EventPurchase, User: "shopper-902", Order: "o2", OccurredAt: at},
	})
	out := buf.String()
	if n := strings.Count(out, "\n"); n != 1 {
		t.Errorf("%d log lines; want one:\n%s", n, out)
	}
	if !strings.Contains(out, `"failed":2`) || !strings.Contains(out, "disk on fire") {
		t.Errorf("the line does not say how many failed, and why:\n%s", out)
	}
	if strings.Contains(out, "shopper-") {
		t.Errorf("a shopper's id is in the log:\n%s", out)
	}
}
