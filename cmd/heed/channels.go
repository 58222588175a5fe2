package main

import (
	"log/slog"
	"net/url"

	"heed/engine"
	"heed/scheduler"
	"heed/scheduler/smtp"
	"heed/scheduler/webhook"
)

// defaultFrom is the sender of email when the smtp:// target names none
// (smtp://host:port?from=news@shop.example).
const defaultFrom = "heed@localhost"

// senders builds the sender of every channel from its target (API.md,
// "Running"): a signed webhook, an SMTP relay, or the log.
func senders(targets map[engine.Channel]channelTarget, secret []byte, log *slog.Logger) map[engine.Channel]scheduler.Sender {
	out := make(map[engine.Channel]scheduler.Sender, len(engine.Channels))
	for _, ch := range engine.Channels {
		t := targets[ch]
		switch t.Kind {
		case targetWebhook:
			out[ch] = webhook.New(webhook.Options{URL: t.URL, Secret: secret})
		case targetSMTP:
			u, _ := url.Parse(t.URL) // checked by parseConfig
			o := smtp.Options{Addr: u.Host, From: u.Query().Get("from")}
			if o.From == "" {
				o.From = defaultFrom
			}
			if u.User != nil {
				o.Username = u.User.Username()
				o.Password, _ = u.User.Password()
			}
			out[ch] = smtp.New(o)
		default:
			out[ch] = scheduler.LogSender{Log: log}
		}
	}
	return out
}
