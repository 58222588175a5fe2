// Package scheduler plans and delivers campaign messages on asynq (Redis):
// it turns a campaign's contacts into tasks due at each user's local send
// time, re-checks consent and policy when a task runs, and hands the
// message to the channel's Sender. The senders live in one package per
// channel (scheduler/webhook, scheduler/smtp), which import scheduler; it
// never imports them.
package scheduler
