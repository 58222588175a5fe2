package heed.consent_test

import data.heed.consent

# t(n) is n hours after an arbitrary origin, in Unix nanoseconds.
t(n) := 1767225600000000000 + (n * 3600000000000)

# rec is a marketing record for every channel and touchpoint; scoped(r, s)
# narrows it.
rec(id, status, at) := {
	"id": id, "scope": {"purpose": "marketing"}, "status": status,
	"notice_version": "2026-01", "actor": "", "recorded_at": t(at), "expires_at": never,
}

never := 9223372036854775807

scoped(r, s) := object.union(r, {"scope": object.union(r.scope, s)})

# question asks about email in the app, at hour 100; ask(scope, records)
# about another scope. (object.union merges nested objects, so a scope is
# replaced by building the question anew.)
question(records) := ask({"purpose": "marketing", "channel": "email", "touchpoint": "app"}, records)

ask(scope, records) := {
	"scope": scope,
	"subject": {"minor": false, "guardian_consent": false},
	"notice": {},
	"now": t(100),
	"records": records,
}

test_no_record_no_consent if {
	consent.decision == {"allow": false, "status": "none", "reason": "no_consent", "record_id": ""} with input as question([])
}

test_global_grant_allows if {
	consent.decision == {"allow": true, "status": "granted", "reason": "granted", "record_id": "r1"} with input as question([rec("r1", "granted", 1)])
}

test_other_purpose_does_not_count if {
	r := object.union(rec("r1", "granted", 1), {"scope": {"purpose": "analytics"}})
	consent.decision.reason == "no_consent" with input as question([r])
}

test_channel_scope if {
	consent.decision.reason == "no_consent" with input as question([scoped(rec("r1", "granted", 1), {"channel": "sms"})])
	consent.decision.allow with input as question([scoped(rec("r1", "granted", 1), {"channel": "email"})])
}

test_scoped_record_never_covers_an_unscoped_question if {
	q := ask({"purpose": "marketing"}, [scoped(rec("r1", "granted", 1), {"channel": "email"})])
	consent.decision.reason == "no_consent" with input as q
}

test_global_withdrawal_overrides_older_app_grant if {
	app := scoped(rec("r1", "granted", 1), {"touchpoint": "app"})
	consent.decision.reason == "withdrawn" with input as question([app, rec("r2", "withdrawn", 2)])
}

test_later_app_grant_reallows_app_only if {
	records := [rec("r1", "withdrawn", 2), scoped(rec("r2", "granted", 3), {"touchpoint": "app"})]
	consent.decision.record_id == "r2" with input as question(records)
	web := ask({"purpose": "marketing", "channel": "email", "touchpoint": "web"}, records)
	consent.decision.reason == "withdrawn" with input as web
}

test_tie_more_restrictive_wins if {
	consent.decision.reason == "denied" with input as question([rec("r1", "denied", 1), rec("r2", "granted", 1)])
	consent.decision.reason == "withdrawn" with input as question([rec("r1", "withdrawn", 1), rec("r2", "denied", 1)])
}

test_full_tie_later_record_wins if {
	consent.decision.record_id == "r2" with input as question([rec("r1", "granted", 1), rec("r2", "granted", 1)])
}

test_expired_record_ignored if {
	expiring := object.union(rec("r2", "granted", 2), {"expires_at": t(50)})
	consent.decision.record_id == "r1" with input as question([rec("r1", "denied", 1), expiring])
	at_now := object.union(expiring, {"expires_at": t(100)})
	consent.decision.reason == "denied" with input as question([rec("r1", "denied", 1), at_now])
	later := object.union(expiring, {"expires_at": t(101)})
	consent.decision.allow with input as question([rec("r1", "denied", 1), later])
}

test_notice_reconsent if {
	q := object.union(question([rec("r1", "granted", 1)]), {"notice": {"valid": ["2026-03"]}})
	consent.decision == {"allow": false, "status": "needs_reconsent", "reason": "needs_reconsent", "record_id": "r1"} with input as q
	regranted := object.union(rec("r2", "granted", 2), {"notice_version": "2026-03"})
	consent.decision.allow with input as object.union(q, {"records": [rec("r1", "granted", 1), regranted]})
}

test_notice_rule_leaves_refusals_alone if {
	q := object.union(question([rec("r1", "denied", 1)]), {"notice": {"valid": ["2026-03"]}})
	consent.decision.status == "denied" with input as q
}

test_minor_needs_guardian if {
	minor := object.union(question([rec("r1", "granted", 1)]), {"subject": {"minor": true, "guardian_consent": true}})
	consent.decision == {"allow": false, "status": "granted", "reason": "minor_without_guardian", "record_id": "r1"} with input as minor
	by_guardian := object.union(rec("r1", "granted", 1), {"actor": "guardian"})
	consent.decision.allow with input as object.union(minor, {"records": [by_guardian]})
	no_guardian_consent := object.union(minor, {"records": [by_guardian], "subject": {"minor": true, "guardian_consent": false}})
	consent.decision.reason == "minor_without_guardian" with input as no_guardian_consent
}

test_unknown_status_never_allows if {
	consent.decision == {"allow": false, "status": "maybe", "reason": "unknown_status", "record_id": "r1"} with input as question([rec("r1", "maybe", 1)])
}

writing(minor, records) := {"role": "storefront", "subject": {"minor": minor, "guardian_consent": minor}, "records": records}

test_adult_writes_freely if {
	consent.write_decision == {"allow": true, "reasons": set()} with input as writing(false, [{"purpose": "marketing", "status": "granted", "actor": "", "guardian_evidence": false}])
}

test_minor_grant_needs_guardian_with_evidence if {
	ok := {"purpose": "marketing", "status": "granted", "actor": "guardian", "guardian_evidence": true}
	no_evidence := object.union(ok, {"guardian_evidence": false})
	by_self := object.union(ok, {"actor": "self"})
	withdrawal := object.union(by_self, {"status": "withdrawn"})
	consent.write_decision.allow with input as writing(true, [ok, withdrawal])
	consent.write_decision == {"allow": false, "reasons": {
		"records[1]: a minor's grant must be recorded by the guardian, with guardian evidence",
		"records[2]: a minor's grant must be recorded by the guardian, with guardian evidence",
	}} with input as writing(true, [ok, no_evidence, by_self, withdrawal])
}

# decisions answers each question as decision answers it alone, in order.
test_decisions_answer_each_question_in_order if {
	records := [rec("r1", "withdrawn", 2), scoped(rec("r2", "granted", 3), {"touchpoint": "app"})]
	app := question(records)
	web := ask({"purpose": "marketing", "channel": "email", "touchpoint": "web"}, records)
	none := question([])
	reconsent := object.union(question([rec("r3", "granted", 1)]), {"notice": {"valid": ["2026-03"]}})
	minor := object.union(question([rec("r4", "granted", 1)]), {"subject": {"minor": true, "guardian_consent": true}})
	odd := question([rec("r5", "maybe", 1)])
	qs := [app, web, none, reconsent, minor, odd, app]
	answers := consent.decisions with input as {"questions": qs}
	count(answers) == count(qs)
	every i, q in qs {
		answers[i] == consent.decision with input as q
	}
	answers[0] == {"allow": true, "status": "granted", "reason": "granted", "record_id": "r2"}
	answers[1].reason == "withdrawn"
	answers[2] == {"allow": false, "status": "none", "reason": "no_consent", "record_id": ""}
	answers[3].reason == "needs_reconsent"
	answers[4].reason == "minor_without_guardian"
	answers[5].reason == "unknown_status"
}

test_decisions_of_no_question if {
	consent.decisions == [] with input as {"questions": []}
}

test_decisions_questions_keep_their_own_now if {
	expiring := object.union(rec("r1", "granted", 1), {"expires_at": t(50)})
	before := object.union(question([expiring]), {"now": t(49)})
	answers := consent.decisions with input as {"questions": [before, question([expiring])]}
	answers[0].allow
	answers[1].reason == "no_consent"
}
