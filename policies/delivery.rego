# Package heed.delivery makes the send-time decision about one campaign
# message (decision): whether it may go to the user now, through which
# channel and on which consent record, or why not, and whether to try again
# later. decision must agree with engine.DecideDelivery, the hand-written
# reference the planner uses to foresee it: the Go tests compare the two on
# thousands of generated questions. DecideDelivery's doc comment is the
# specification, and the rules below take its steps in its order.
#
# Input of decision, an engine.DeliveryQuestion. Go computes every fact that
# needs the user's time zone (the local clock, sends counted in the local
# calendar, when days, weeks, quiet hours and cap periods end), so the
# policy does no calendar arithmetic. Times are Unix nanoseconds:
#
#	{"now":      1767225600000000000,
#	 "erased":   false,                 # the user no longer exists
#	 "subject":  {"minor": false, "guardian_consent": false},
#	 "notice":   {"valid": ["2026-03"]},  # no "valid": every version counts
#	 "records":  [...],   # the user's marketing consent records in ledger
#	                      # order, exactly as in heed.consent's input
#	 "channels": [        # the campaign's channels, in the user's order
#	   {"channel": "push", "touchpoint": "app",  # "": no touchpoint
#	    "enabled": true,                         # in the user's preferences
#	    "max_per_day": 2, "max_per_week": 9223372036854775807,  # the caps
#	    "sent_today": 0, "sent_this_week": 1}],  # sends on this channel
#	 "offer_type": "discount",           # the campaign's
#	 "offer_types": ["discount", "points"],  # those the user accepts
#	 "quiet": false,                     # now is in the user's quiet hours
#	 "quiet_ends": 9223372036854775807,  # when they end
#	 "sent_today": 1, "sent_this_week": 4,   # sends on every channel,
#	 "day_ends": ..., "week_ends": ...,      # and when those counts reset
#	 "campaign_cap": 9223372036854775807,    # the campaign's cap per user,
#	 "campaign_sent": 0,                     # its sends in the period,
#	 "campaign_cap_ends": 9223372036854775807,   # and when the period ends
#	 "window_end": ...}                  # never sent at or after
#
# The largest int64, 9223372036854775807 (year 2262), stands for "none" in
# the caps and ends, so that one comparison decides: a channel's
# max_per_day or max_per_week, or campaign_cap, that the user or the
# campaign does not set (0 in Go) is that number, and so are quiet_ends and
# campaign_cap_ends when they never come (zero in Go: quiet hours without
# an end, a per-campaign cap, which never resets). Deferring to that time
# suppresses with the deferral's reason instead. day_ends, week_ends and
# window_end are always set (a zero time would be the smallest int64).
#
# The answer, an engine.DeliveryVerdict:
#
#	{"allow": true, "channel": "push", "record_id": "cr-1", "reason": "",
#	 "defer_until": 0}
#
# channel and record_id (the consent record that allows the send) are set
# only with allow, reason only without: erased, window_passed,
# offer_type_opt_out, minor, no_consent, consent_withdrawn,
# needs_reconsent, channel_disabled, frequency_cap or quiet_hours.
# defer_until, 0 for none, says when to ask again: a deferral keeps the
# delivery, a reason without defer_until drops it.
#
# Like heed.consent, the rules are shaped for speed: decision runs for every
# message at send time, and each rule, function call, comprehension and
# composite value built from variables costs the evaluator allocations
# (BenchmarkDelivery). So the answers that drop a message are constants,
# looked up; the common case, a send on the first channel, is tried first
# and asks for that channel's consent alone; and consent questions are
# built in comprehensions (see question).
package heed.delivery

# marketing_cap bounds the marketing messages one user gets across every
# campaign and channel: at most per_day in the user's local day and
# per_week in the user's ISO week (0: no cap). It is policy data, not a
# function of the input: heed reads it once per policy set
# (engine.MarketingCap) so the planner can foresee decisions. A message over
# it is deferred until the count it exceeds resets.
marketing_cap := {"per_day": 3, "per_week": 10}

never := 9223372036854775807

# no_reset is global_reset while the marketing cap is not reached.
no_reset := -9223372036854775808

# decision. The first body is the common case: every check passes for the
# first channel, which is used. Otherwise the else branches take
# DecideDelivery's steps in its order: the user, the offer, a minor; then,
# if a channel can be used, quiet hours and the campaign's cap, and else
# the channels' caps and reasons.
decision := {
	"allow": true, "channel": c.channel, "record_id": consent.record_id,
	"reason": "", "defer_until": 0,
} if {
	not input.erased
	input.now < input.window_end
	input.offer_type in input.offer_types
	not minor_without_guardian
	not input.quiet
	input.campaign_sent < input.campaign_cap
	not marketing_cap_reached
	c := input.channels[0]
	c.enabled
	c.sent_this_week < c.max_per_week
	c.sent_today < c.max_per_day
	consent := data.heed.consent.decide(question(c))
	consent.allow
} else := suppressed.erased if {
	input.erased
} else := suppressed.window_passed if {
	input.now >= input.window_end
} else := suppressed.offer_type_opt_out if {
	not input.offer_type in input.offer_types
} else := suppressed.minor if {
	minor_without_guardian
} else := defer_to("quiet_hours", input.quiet_ends) if {
	# A channel can be used, but not now.
	count(usable) > 0
	input.quiet
} else := defer_to("frequency_cap", input.campaign_cap_ends) if {
	count(usable) > 0
	input.campaign_sent >= input.campaign_cap
} else := {
	"allow": true, "channel": input.channels[i].channel, "record_id": consents[i].record_id,
	"reason": "", "defer_until": 0,
} if {
	i := usable[0]
} else := defer_to("frequency_cap", min(cap_resets)) if {
	# No channel can be used, but some only because of caps: try again
	# when the first of them resets.
	count(cap_resets) > 0
} else := suppressed[first_reason] if {
	# Otherwise the first channel's reason; no_consent without channels.
	first_reason
} else := suppressed.no_consent

# PIPL art. 31: no marketing to a minor without guardian consent.
minor_without_guardian if {
	input.subject.minor
	not input.subject.guardian_consent
}

# usable lists, in order, the channels that can be used now: marketing
# consent, switched on, under their own caps and under the marketing cap.
# The first is used.
usable := [i |
	not marketing_cap_reached
	some i, c in input.channels
	consents[i].allow
	c.enabled
	c.sent_this_week < c.max_per_week
	c.sent_today < c.max_per_day
]

# consents are the channels' marketing consents, each decided from the
# ledger exactly as heed.consent decides a question.
consents := [data.heed.consent.decide(q) | some q in questions]

# questions are the channels' consent questions, in order.
questions := [question(c) | some c in input.channels]

# question(c) is channel c's consent question: marketing on the channel, at
# the channel's touchpoint. A touchpoint of "" asks at no touchpoint, as
# leaving it out would: decide compares only the fields a record's scope
# sets, and a record scoped to a touchpoint covers only that one.
#
# The question is built inside a comprehension, whose elements OPA stores
# as complete values. Returned directly, the object would stay a template
# bound to c, which decide would rebuild each time it reads the scope: once
# per record (for BenchmarkDelivery's six records, 128 more allocations).
question(c) := [q |
	q := {
		"scope": {"purpose": "marketing", "channel": c.channel, "touchpoint": c.touchpoint},
		"subject": input.subject, "notice": input.notice, "now": input.now, "records": input.records,
	}
][0]

# consent_reasons maps a consent reason to the delivery reason it causes;
# any other (no_consent, denied, unknown_status) is no_consent.
consent_reasons := {
	"withdrawn": "consent_withdrawn",
	"needs_reconsent": "needs_reconsent",
	"minor_without_guardian": "minor",
}

# first_reason is why the first channel cannot be used, when none can;
# undefined without channels (hence "== false" rather than "not").
first_reason := object.get(consent_reasons, consents[0].reason, "no_consent") if {
	consents[0].allow == false
} else := "channel_disabled" if {
	input.channels[0].enabled == false
} else := "frequency_cap" if {
	consents[0]
}

# marketing_cap_reached: every channel waits for global_reset. A cap of 0
# caps nothing.
marketing_cap_reached if {
	input.sent_this_week >= marketing_cap.per_week
	marketing_cap.per_week > 0
}

marketing_cap_reached if {
	input.sent_today >= marketing_cap.per_day
	marketing_cap.per_day > 0
}

# global_reset is when the marketing cap stops blocking: the week's end
# once the weekly cap is reached, else the day's end once the daily cap is.
global_reset := input.week_ends if {
	marketing_cap.per_week > 0
	input.sent_this_week >= marketing_cap.per_week
} else := input.day_ends if {
	marketing_cap.per_day > 0
	input.sent_today >= marketing_cap.per_day
} else := no_reset

# cap_resets are when the channels that consent allows and the user
# switched on, but that caps block, may be used again.
cap_resets := [cap_reset(c) |
	some i, c in input.channels
	consents[i].allow
	c.enabled
]

# cap_reset is when the caps blocking channel c reset: its own weekly cap,
# else its daily cap, else the marketing cap; a channel over one of its own
# caps and the marketing cap waits for the later reset. Undefined when no
# cap blocks c.
cap_reset(c) := later(input.week_ends, global_reset) if {
	c.sent_this_week >= c.max_per_week
} else := later(input.day_ends, global_reset) if {
	c.sent_today >= c.max_per_day
} else := global_reset if {
	global_reset != no_reset
}

later(a, b) := a if a >= b else := b

# defer_to defers with reason until t: a suppression with the reason when t
# never comes, window_passed when t is at or after the window's end.
defer_to(reason, t) := suppressed[reason] if {
	t == never
} else := suppressed.window_passed if {
	t >= input.window_end
} else := {"allow": false, "channel": "", "record_id": "", "reason": reason, "defer_until": t}

# suppressed holds the answers that drop the message, by reason.
suppressed := {
	"erased": {"allow": false, "channel": "", "record_id": "", "reason": "erased", "defer_until": 0},
	"window_passed": {"allow": false, "channel": "", "record_id": "", "reason": "window_passed", "defer_until": 0},
	"offer_type_opt_out": {"allow": false, "channel": "", "record_id": "", "reason": "offer_type_opt_out", "defer_until": 0},
	"minor": {"allow": false, "channel": "", "record_id": "", "reason": "minor", "defer_until": 0},
	"no_consent": {"allow": false, "channel": "", "record_id": "", "reason": "no_consent", "defer_until": 0},
	"consent_withdrawn": {"allow": false, "channel": "", "record_id": "", "reason": "consent_withdrawn", "defer_until": 0},
	"needs_reconsent": {"allow": false, "channel": "", "record_id": "", "reason": "needs_reconsent", "defer_until": 0},
	"channel_disabled": {"allow": false, "channel": "", "record_id": "", "reason": "channel_disabled", "defer_until": 0},
	"frequency_cap": {"allow": false, "channel": "", "record_id": "", "reason": "frequency_cap", "defer_until": 0},
	"quiet_hours": {"allow": false, "channel": "", "record_id": "", "reason": "quiet_hours", "defer_until": 0},
}
