// Package changes pushes heed's change events (consent.changed,
// preferences.changed, user.erased) to the URLs in HEED_CHANGE_WEBHOOKS, so
// that CRM, POS and other touchpoints stay in sync.
//
// The engine writes each change and one engine.OutboxItem per target URL in
// the same transaction; a Dispatcher reads due items from that outbox and
// delivers them. Delivery is at least once: an item is removed only after
// its receiver answered 2xx, so a crash or shutdown between the answer and
// the bookkeeping sends it again. Each request is
//
//	POST <target>
//	Content-Type: application/json
//	Heed-Event: consent.changed
//	Heed-Delivery: <outbox item id>             (the same on every retry: the idempotency key)
//	Heed-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//
//	<the change's JSON body>
//
// Receivers should check the signature with Verify, drop deliveries whose
// Heed-Delivery they have seen, and order changes by the body's "version"
// and "at", not by arrival: retries and parallel deliveries reorder them.
//
// What the receiver's answer means:
//
//	2xx                                 delivered
//	5xx, 408, 425, 429, network error   retried with exponential backoff and
//	                                    jitter (Retry-After honoured on 429 and
//	                                    503), up to Options.MaxAttempts, then
//	                                    dead-lettered
//	410 Gone                            dead-lettered at once: the receiver
//	                                    says it will never take it
//	3xx and other 4xx                   retried, but at most 5 attempts in all
//	                                    (about 15 s with the default backoff):
//	                                    the receiver refuses the request as
//	                                    made (wrong secret, wrong path), and
//	                                    resending the same bytes helps only
//	                                    while it is mid-deploy; after that the
//	                                    dead letter waits in the outbox for a
//	                                    replay once the receiver is fixed
//
// The default client follows no redirect (one would carry the signed body to
// a URL nobody configured); a 3xx counts as a receiver error. Logs name the
// change id, event, target host, attempt and status; never the user or the
// body.
package changes
