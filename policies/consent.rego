# Package heed.consent derives the consent in force from a user's ledger
# (decision), and decides whether consent records may be written
# (write_decision). decision must agree with engine.Fold, the hand-written
# reference: the Go tests compare the two on thousands of generated ledgers.
#
# Input of decision, an engine.ConsentQuestion. Scopes leave out empty fields
# (an empty channel, signal, recipient or touchpoint means every value), and
# times are Unix nanoseconds:
#
#	{"scope":   {"purpose": "marketing", "channel": "push", "touchpoint": "app"},
#	 "subject": {"minor": false, "guardian_consent": false},
#	 "notice":  {"valid": ["2026-03"]},  # no "valid": every version counts
#	 "now":     1767225600000000000,
#	 "records": [{"id", "scope": {"purpose", ...}, "status", "notice_version",
#	              "actor", "recorded_at", "expires_at"}]}  # in ledger order
#
# A record that never expires has expires_at 9223372036854775807, the
# largest int64 (year 2262), so that one comparison tells expiry.
#
# The rules are shaped for speed as well as clarity: decision runs on every
# recommendation and send, and each rule, function call, comprehension and
# composite value built from variables costs the evaluator allocations (see
# bench_test.go). Constant lookup tables are inlined for the same reason.
package heed.consent

default decision := {"allow": false, "status": "none", "reason": "no_consent", "record_id": ""}

# The deciding record is the newest covering unexpired one; on a tie in time
# the more restrictive status wins (granted < denied < withdrawn; an unknown
# status counts as the most restrictive), then the later in the ledger.
# Arrays compare element by element, so max picks exactly that.
#
# A record covers the question when its scope is a subset of the question's:
# the same purpose, and each field it sets equal to the question's.
decision := object.union(outcome(r), {"record_id": r.id}) if {
	deciding := max([[r.recorded_at, object.get({"granted": 0, "denied": 1, "withdrawn": 2}, r.status, 2), i] |
		some i, r in input.records
		object.subset(input.scope, r.scope)
		input.now < r.expires_at
	])
	r := input.records[deciding[2]]
}

# outcome says what the deciding record r means. The common case, an adult's
# grant, comes first; the later branches are tried only when it fails.
#
# A notice that requires re-consent voids grants given under older versions:
# a grant counts only under a version in notice.valid, and under any version
# without notice.valid. The first two branches say so for the common case
# (a plain "in" and "not" cost fewer allocations than the object.get default
# of the re-consent branch, which holds the grant's own version). The test
# is written out rather than in a function, which would cost a call on every
# decision.
outcome(r) := {"allow": true, "status": "granted", "reason": "granted"} if {
	r.status == "granted"
	r.notice_version in input.notice.valid
	input.subject.minor == false
} else := {"allow": true, "status": "granted", "reason": "granted"} if {
	r.status == "granted"
	not input.notice.valid
	input.subject.minor == false
} else := {"allow": false, "status": "denied", "reason": "denied"} if {
	r.status == "denied"
} else := {"allow": false, "status": "withdrawn", "reason": "withdrawn"} if {
	r.status == "withdrawn"
} else := {"allow": false, "status": r.status, "reason": "unknown_status"} if {
	r.status != "granted"
} else := {"allow": false, "status": "needs_reconsent", "reason": "needs_reconsent"} if {
	not r.notice_version in object.get(input.notice, "valid", [r.notice_version])
} else := {"allow": false, "status": "granted", "reason": "minor_without_guardian"} if {
	# PIPL art. 31: a minor's grant counts only with guardian consent, given
	# by the guardian.
	input.subject.minor
	not by_guardian(r)
} else := {"allow": true, "status": "granted", "reason": "granted"}

by_guardian(r) if {
	input.subject.guardian_consent
	r.actor == "guardian"
}

# decisions answers many questions in one evaluation, for callers that ask
# several at once (event ingestion, recommendations, training): OPA's fixed
# cost per evaluation is most of a single decision's. Input: each question
# is exactly decision's input, and the answer is an array, in the order of
# the questions, of what decision answers for each alone:
#
#	{"questions": [{"scope", "subject", "notice", "now", "records"}, ...]}
#
# The rules below restate decision, outcome and by_guardian with the
# question as an argument, q for input. decision is not defined as
# decide(input) because the call costs every single decision four
# allocations (BenchmarkConsentRego). Go tests check both forms against
# engine.Fold, and a policy set whose two forms disagree on a sample
# question is refused: edit them together.
decisions := [decide(q) | some q in input.questions]

decide(q) := object.union(q_outcome(q, r), {"record_id": r.id}) if {
	deciding := max([[r.recorded_at, object.get({"granted": 0, "denied": 1, "withdrawn": 2}, r.status, 2), i] |
		some i, r in q.records
		object.subset(q.scope, r.scope)
		q.now < r.expires_at
	])
	r := q.records[deciding[2]]
} else := {"allow": false, "status": "none", "reason": "no_consent", "record_id": ""}

q_outcome(q, r) := {"allow": true, "status": "granted", "reason": "granted"} if {
	r.status == "granted"
	r.notice_version in q.notice.valid
	q.subject.minor == false
} else := {"allow": true, "status": "granted", "reason": "granted"} if {
	r.status == "granted"
	not q.notice.valid
	q.subject.minor == false
} else := {"allow": false, "status": "denied", "reason": "denied"} if {
	r.status == "denied"
} else := {"allow": false, "status": "withdrawn", "reason": "withdrawn"} if {
	r.status == "withdrawn"
} else := {"allow": false, "status": r.status, "reason": "unknown_status"} if {
	r.status != "granted"
} else := {"allow": false, "status": "needs_reconsent", "reason": "needs_reconsent"} if {
	not r.notice_version in object.get(q.notice, "valid", [r.notice_version])
} else := {"allow": false, "status": "granted", "reason": "minor_without_guardian"} if {
	q.subject.minor
	not q_by_guardian(q, r)
} else := {"allow": true, "status": "granted", "reason": "granted"}

q_by_guardian(q, r) if {
	q.subject.guardian_consent
	r.actor == "guardian"
}

# write_decision says whether a batch of records may be written. Input, an
# engine.ConsentWrite ("guardian_evidence": whether the record's evidence
# names the guardian):
#
#	{"role", "subject": {"minor", "guardian_consent"},
#	 "records": [{"purpose", "status", "actor", "guardian_evidence"}]}
write_decision := {"allow": write_allow, "reasons": write_reasons}

write_allow := count(write_reasons) == 0

# PIPL art. 31: only a guardian can give a minor's consent, and the record
# must say who the guardian is.
write_reasons contains sprintf("records[%d]: a minor's grant must be recorded by the guardian, with guardian evidence", [i]) if {
	input.subject.minor
	some i, r in input.records
	r.status == "granted"
	not guardian_recorded(r)
}

guardian_recorded(r) if {
	r.actor == "guardian"
	r.guardian_evidence == true
}
