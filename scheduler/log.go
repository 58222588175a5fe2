package scheduler

import (
	"context"
	"log/slog"
)

// A LogSender "sends" by writing one log line: the channel of a heed that
// has no provider for it yet (the default), and of demos. The line names
// the delivery, never the address or the text.
type LogSender struct{ Log *slog.Logger }

// Send logs m and returns nil.
func (s LogSender) Send(ctx context.Context, m Message) error {
	s.Log.InfoContext(ctx, "message sent (log channel)", "delivery_id", m.DeliveryID, "campaign_id", m.CampaignID,
		"channel", m.Channel, "idempotency_key", m.IdempotencyKey)
	return nil
}
