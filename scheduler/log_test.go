package scheduler_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"heed/engine"
	"heed/scheduler"
)

func TestLogSender(t *testing.T) {
	var buf bytes.Buffer
	s := scheduler.LogSender{Log: slog.New(slog.NewJSONHandler(&buf, nil))}
	m := scheduler.Message{
		DeliveryID:     "dlv_1",
		IdempotencyKey: "cmp_1/2026-02-28/u_42",
		CampaignID:     "cmp_1",
		User:           "u_42",
		Channel:        engine.ChannelEmail,
		To:             "xiaoming@example.com",
		Title:          "会员专享",
		Body:           "你好，小明",
		UnsubscribeURL: "https://heed.example/u/tok_abc",
	}
	if err := s.Send(t.Context(), m); err != nil {
		t.Fatalf("Send = %v, want nil", err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("Send logged %d lines, want 1:\n%s", len(lines), buf.String())
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["level"] != "INFO" || !strings.HasPrefix(rec["msg"].(string), "message sent") {
		t.Errorf("logged %v %q, want INFO \"message sent\"", rec["level"], rec["msg"])
	}
	for k, want := range map[string]string{"delivery_id": "dlv_1", "campaign_id": "cmp_1", "channel": "email",
		"idempotency_key": "cmp_1/2026-02-28/u_42"} {
		if rec[k] != want {
			t.Errorf("%s = %v, want %q", k, rec[k], want)
		}
	}
	for _, secret := range []string{m.To, "xiaoming", m.Title, m.Body, "tok_abc"} {
		if strings.Contains(buf.String(), secret) {
			t.Errorf("log line carries %q: %s", secret, buf.String())
		}
	}
}
