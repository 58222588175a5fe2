package engine

import (
	"encoding/json"
	"time"
)

// MergeConsents returns the records to append to the survivor of an identity
// merge so that, at every question, the merged ledger (survivor's records,
// then the absorbed user's, then the returned ones) answers with the stricter
// of the two users' states. A question only one of them answered keeps that
// answer. The records get consecutive times from now, general scopes first,
// so a later, narrower one is not lost in a tie.
func MergeConsents(survivor, absorbed []ConsentRecord, from UserID, now time.Time) []ConsentRecord {
	merged := append(append([]ConsentRecord(nil), survivor...), absorbed...)
	var out []ConsentRecord
	evidence, _ := json.Marshal(map[string]UserID{"merged_from": from})
	for i, q := range questionPoints(merged) {
		a := Fold(survivor, q, Subject{}, NoticeRule{}, now)
		b := Fold(absorbed, q, Subject{}, NoticeRule{}, now)
		want := a
		switch {
		case a.Status == StatusNone:
			want = b
		case b.Status != StatusNone && b.Status.Restrictiveness() > a.Status.Restrictiveness():
			want = b
		}
		if want.Status == StatusNone {
			continue
		}
		got := Fold(append(merged, out...), q, Subject{}, NoticeRule{}, now)
		if got.RecordID == want.RecordID || got.Status == want.Status && want.Status != StatusGranted {
			continue
		}
		src := recordByID(merged, want.RecordID)
		r := ConsentRecord{
			Purpose: q.Purpose, Channel: q.Channel, Signal: q.Signal, Recipient: q.Recipient,
			Touchpoint: q.Touchpoint, Status: want.Status, NoticeVersion: src.NoticeVersion,
			Actor: src.Actor, Source: "merge", Evidence: evidence,
			ExpiresAt: src.ExpiresAt, RecordedAt: now.Add(time.Duration(i+1) * time.Nanosecond),
		}
		out = append(out, r)
	}
	return out
}

// questionPoints lists every question the records can answer differently:
// each record's scope, and each scope at every touchpoint, general ones first.
func questionPoints(records []ConsentRecord) []Scope {
	seen := make(map[Scope]bool)
	var general, specific []Scope
	for _, r := range records {
		s := r.Scope()
		s.Touchpoint = ""
		if seen[s] {
			continue
		}
		seen[s] = true
		general = append(general, s)
		for _, tp := range Touchpoints {
			t := s
			t.Touchpoint = tp
			specific = append(specific, t)
		}
	}
	return append(general, specific...)
}

func recordByID(records []ConsentRecord, id string) ConsentRecord {
	for _, r := range records {
		if r.ID == id {
			return r
		}
	}
	return ConsentRecord{}
}
