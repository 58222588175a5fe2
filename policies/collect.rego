# Package heed.collect decides whether an event may be stored. The input is
# an engine.CollectRequest:
#
#	{"event_type": "view", "touchpoint": "app", "signal": "browsing",
#	 "signal_allowed": false, "analytics_allowed": true}
#
# signal_allowed and analytics_allowed are the consent decisions, already
# taken, for the signal the event feeds and for analytics at its touchpoint.
package heed.collect

event_types := {"purchase", "view", "favorite", "unfavorite", "cart", "search", "store_visit"}

default allow := false

# A purchase is kept whatever the consents: the order cannot be fulfilled,
# invoiced or refunded without it (PIPL art. 13(2), performance of a contract).
allow if input.event_type == "purchase"

# Any other event is behavioural data: it needs consent to the signal it
# feeds, or to analytics.
allow if {
	behavioural
	input.signal_allowed == true
}

allow if {
	behavioural
	input.analytics_allowed == true
}

behavioural if {
	input.event_type in event_types
	input.event_type != "purchase"
}

# reasons says why an event was kept or dropped.
reasons contains "contract" if input.event_type == "purchase"

reasons contains "signal_consent" if {
	behavioural
	input.signal_allowed == true
}

reasons contains "analytics_consent" if {
	behavioural
	input.analytics_allowed == true
}

reasons contains sprintf("unknown event type %q", [input.event_type]) if not input.event_type in event_types

reasons contains sprintf("no consent to collect %s events (neither the signal nor analytics is allowed)", [input.event_type]) if {
	behavioural
	not allow
}

# decision answers Collect in one evaluation.
decision := {"allow": allow, "reasons": reasons}
