package heed.collect_test

import data.heed.collect

ev(t, signal_allowed, analytics_allowed) := {
	"event_type": t, "touchpoint": "app", "signal": "browsing",
	"signal_allowed": signal_allowed, "analytics_allowed": analytics_allowed,
}

test_purchase_always_collected if {
	collect.decision == {"allow": true, "reasons": {"contract"}} with input as ev("purchase", false, false)
}

test_behaviour_needs_signal_or_analytics_consent if {
	every t in collect.event_types - {"purchase"} {
		not collect.allow with input as ev(t, false, false)
		collect.allow with input as ev(t, true, false)
		collect.allow with input as ev(t, false, true)
	}
	collect.reasons == {"no consent to collect view events (neither the signal nor analytics is allowed)"} with input as ev("view", false, false)
	collect.reasons == {"signal_consent", "analytics_consent"} with input as ev("cart", true, true)
}

test_unknown_event_type_denied if {
	collect.decision == {"allow": false, "reasons": {`unknown event type "teleport"`}} with input as ev("teleport", true, true)
}
