package heed.delivery_test

import data.heed.delivery

# t(n) is n hours after an arbitrary origin, in Unix nanoseconds.
t(n) := 1767225600000000000 + (n * 3600000000000)

never := 9223372036854775807

# rec is a marketing record for every channel and touchpoint; scoped(r, s)
# narrows it.
rec(id, status, at) := {
	"id": id, "scope": {"purpose": "marketing"}, "status": status,
	"notice_version": "2026-01", "actor": "", "recorded_at": t(at), "expires_at": never,
}

scoped(r, s) := object.union(r, {"scope": object.union(r.scope, s)})

# channel is a channel switched on, without caps, with no sends.
channel(name, touchpoint) := {
	"channel": name, "touchpoint": touchpoint, "enabled": true,
	"max_per_day": never, "max_per_week": never, "sent_today": 0, "sent_this_week": 0,
}

# question may send now (hour 100): an adult with a global grant, push in
# the app then email, no caps, outside quiet hours; the day ends at hour
# 110, the week at 150, the window at 200. ask(over) changes it (nested
# objects merge; arrays, such as channels and records, are replaced).
question := {
	"now": t(100), "erased": false,
	"subject": {"minor": false, "guardian_consent": false}, "notice": {},
	"records": [rec("r1", "granted", 1)],
	"channels": [channel("push", "app"), channel("email", "")],
	"offer_type": "discount", "offer_types": ["discount", "points"],
	"quiet": false, "quiet_ends": never,
	"sent_today": 0, "sent_this_week": 0, "day_ends": t(110), "week_ends": t(150),
	"campaign_cap": never, "campaign_sent": 0, "campaign_cap_ends": never,
	"window_end": t(200),
}

ask(over) := object.union(question, over)

# The shipped marketing cap; the tests that depend on it say so with "with",
# so that they still hold when compliance changes it.
cap := {"per_day": 3, "per_week": 10}

sent(ch, id) := {"allow": true, "channel": ch, "record_id": id, "reason": "", "defer_until": 0}

dropped(reason) := {"allow": false, "channel": "", "record_id": "", "reason": reason, "defer_until": 0}

deferred(reason, until) := {"allow": false, "channel": "", "record_id": "", "reason": reason, "defer_until": until}

decide(over) := d if {
	d := delivery.decision with input as ask(over)
}

decide_capped(over) := d if {
	d := delivery.decision with input as ask(over) with data.heed.delivery.marketing_cap as cap
}

test_sends_on_the_first_channel if {
	decide({}) == sent("push", "r1")
}

test_marketing_cap_is_counts if {
	is_number(delivery.marketing_cap.per_day)
	is_number(delivery.marketing_cap.per_week)
	delivery.marketing_cap.per_day >= 0
	delivery.marketing_cap.per_week >= 0
}

test_erased_first if {
	decide({"erased": true}) == dropped("erased")
	decide({"erased": true, "now": t(300), "offer_type": "points", "subject": {"minor": true}}) == dropped("erased")
}

test_window_passed if {
	decide({"now": t(200)}) == dropped("window_passed")
	decide({"now": t(201), "offer_type": "points", "subject": {"minor": true}}) == dropped("window_passed")
}

test_offer_type_opt_out if {
	decide({"offer_type": "free_shipping"}) == dropped("offer_type_opt_out")
	decide({"offer_types": []}) == dropped("offer_type_opt_out")
	decide({"offer_type": "free_shipping", "subject": {"minor": true}}) == dropped("offer_type_opt_out")
}

test_minor_without_guardian_consent if {
	decide({"subject": {"minor": true}}) == dropped("minor")
}

test_minor_with_guardian_consent_needs_the_guardians_grant if {
	subject := {"minor": true, "guardian_consent": true}
	decide({"subject": subject}) == dropped("minor")
	by_guardian := object.union(rec("r2", "granted", 2), {"actor": "guardian"})
	decide({"subject": subject, "records": [by_guardian]}) == sent("push", "r2")
}

test_no_consent if {
	decide({"records": []}) == dropped("no_consent")
	decide({"records": [object.union(rec("r1", "granted", 1), {"scope": {"purpose": "analytics"}})]}) == dropped("no_consent")
	decide({"records": [object.union(rec("r1", "granted", 1), {"expires_at": t(100)})]}) == dropped("no_consent")
}

test_denied_is_no_consent if {
	decide({"records": [rec("r1", "granted", 1), rec("r2", "denied", 2)]}) == dropped("no_consent")
}

test_consent_withdrawn if {
	decide({"records": [rec("r1", "granted", 1), rec("r2", "withdrawn", 2)]}) == dropped("consent_withdrawn")
}

test_needs_reconsent if {
	decide({"notice": {"valid": ["2026-03"]}}) == dropped("needs_reconsent")
}

test_channel_disabled if {
	off := object.union(channel("push", "app"), {"enabled": false})
	decide({"channels": [off, object.union(channel("email", ""), {"enabled": false})]}) == dropped("channel_disabled")
	decide({"channels": [off, channel("email", "")]}) == sent("email", "r1")
}

test_no_channels if {
	decide({"channels": []}) == dropped("no_consent")
}

# The first channel that can be used is used, with the record that allows it.
test_falls_back_to_the_next_channel if {
	records := [
		rec("r1", "granted", 1),
		scoped(rec("r2", "withdrawn", 2), {"channel": "push"}),
		scoped(rec("r3", "granted", 3), {"channel": "email"}),
	]
	decide({"records": records}) == sent("email", "r3")
}

# Consent is asked at the channel's touchpoint: an app-only withdrawal
# stops push (in the app), not email (at no touchpoint).
test_consent_at_the_channels_touchpoint if {
	app_off := scoped(rec("r2", "withdrawn", 2), {"touchpoint": "app"})
	decide({"records": [rec("r1", "granted", 1), app_off]}) == sent("email", "r1")
	web_off := scoped(rec("r2", "withdrawn", 2), {"touchpoint": "web"})
	decide({"records": [rec("r1", "granted", 1), web_off]}) == sent("push", "r1")
	app_only := scoped(rec("r1", "granted", 1), {"touchpoint": "app"})
	decide({"records": [app_only], "channels": [channel("email", ""), channel("push", "app")]}) == sent("push", "r1")
}

# With no channel usable, the first channel's reason.
test_first_channels_reason if {
	push_off := scoped(rec("r2", "withdrawn", 2), {"channel": "push"})
	email_off := object.union(channel("email", ""), {"enabled": false})
	decide({"records": [rec("r1", "granted", 1), push_off], "channels": [channel("push", "app"), email_off]}) == dropped("consent_withdrawn")
	decide({"records": [rec("r1", "granted", 1), push_off], "channels": [email_off, channel("push", "app")]}) == dropped("channel_disabled")
}

test_channel_daily_cap_defers_to_the_days_end if {
	capped := object.union(channel("push", "app"), {"max_per_day": 2, "sent_today": 2, "sent_this_week": 2})
	decide({"channels": [capped]}) == deferred("frequency_cap", t(110))
	decide({"channels": [capped, channel("email", "")]}) == sent("email", "r1")
}

test_channel_weekly_cap_defers_to_the_weeks_end if {
	capped := object.union(channel("push", "app"), {"max_per_day": 2, "max_per_week": 5, "sent_today": 2, "sent_this_week": 5})
	decide({"channels": [capped]}) == deferred("frequency_cap", t(150))
}

test_earliest_reset_among_capped_channels if {
	push := object.union(channel("push", "app"), {"max_per_week": 5, "sent_this_week": 5})
	email := object.union(channel("email", ""), {"max_per_day": 1, "sent_today": 1})
	decide({"channels": [push, email]}) == deferred("frequency_cap", t(110))
	off := scoped(rec("r2", "withdrawn", 2), {"channel": "email"})
	decide({"channels": [push, email], "records": [rec("r1", "granted", 1), off]}) == deferred("frequency_cap", t(150))
}

test_marketing_cap_defers_every_channel if {
	decide_capped({"sent_today": 3, "sent_this_week": 3}) == deferred("frequency_cap", t(110))
	decide_capped({"sent_today": 1, "sent_this_week": 10}) == deferred("frequency_cap", t(150))
	decide_capped({"sent_today": 2, "sent_this_week": 9}) == sent("push", "r1")
}

test_marketing_cap_and_a_channels_cap_wait_for_both if {
	push := object.union(channel("push", "app"), {"max_per_day": 1, "sent_today": 1})
	decide_capped({"channels": [push], "sent_today": 1, "sent_this_week": 10}) == deferred("frequency_cap", t(150))
}

test_marketing_cap_zero_caps_nothing if {
	d := delivery.decision with input as ask({"sent_today": 50, "sent_this_week": 500})
		with data.heed.delivery.marketing_cap as {"per_day": 0, "per_week": 0}
	d == sent("push", "r1")
}

test_campaign_cap_defers_to_the_periods_end if {
	decide({"campaign_cap": 1, "campaign_sent": 1, "campaign_cap_ends": t(120)}) == deferred("frequency_cap", t(120))
	decide({"campaign_cap": 2, "campaign_sent": 1, "campaign_cap_ends": t(120)}) == sent("push", "r1")
}

test_per_campaign_cap_suppresses if {
	decide({"campaign_cap": 1, "campaign_sent": 1}) == dropped("frequency_cap")
}

test_quiet_hours_defer if {
	decide({"quiet": true, "quiet_ends": t(108)}) == deferred("quiet_hours", t(108))
	decide({"quiet": true, "quiet_ends": t(108), "campaign_cap": 1, "campaign_sent": 1}) == deferred("quiet_hours", t(108))
	decide({"quiet": true}) == dropped("quiet_hours")
}

# Quiet hours and caps only delay a message that could be sent.
test_no_consent_is_not_deferred if {
	decide({"records": [], "quiet": true, "quiet_ends": t(108)}) == dropped("no_consent")
	decide({"records": [], "campaign_cap": 1, "campaign_sent": 1, "campaign_cap_ends": t(120)}) == dropped("no_consent")
}

test_deferral_past_the_window_is_window_passed if {
	decide({"quiet": true, "quiet_ends": t(200)}) == dropped("window_passed")
	decide({"campaign_cap": 1, "campaign_sent": 1, "campaign_cap_ends": t(300)}) == dropped("window_passed")
	decide_capped({"sent_today": 3, "window_end": t(105)}) == dropped("window_passed")
	decide({"quiet": true, "quiet_ends": t(199)}) == deferred("quiet_hours", t(199))
}
