package badgerstore

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"heed/engine"
)

// Consent records are the bulk of the data (10M of them in the sizing) and
// are read on every consent check, so they have a compact binary encoding
// rather than JSON: about a third of the bytes and several times faster to
// decode (BenchmarkConsentCodec). The user and purpose are in the key and
// are not repeated. Version 1:
//
//	0x01
//	string ID, Channel, Signal, Recipient, Touchpoint, Status,
//	       NoticeVersion, Source, Actor, Evidence
//	time   ExpiresAt, RecordedAt
//	string MergedFrom
//
// A string is a uvarint length and its bytes; a time is a varint of Unix
// seconds and a uvarint of nanoseconds, or a single 0 byte for the zero time
// (seconds are shifted by one so that 0 is free).
const consentCodecV1 = 1

var errCorrupt = errors.New("badgerstore: corrupt consent record")

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	s := t.Unix()
	if s >= 0 {
		s++ // keep 0 for the zero time
	}
	b = binary.AppendVarint(b, s)
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

// appendConsent appends the encoding of r (its User and Purpose excepted).
func appendConsent(b []byte, r *engine.ConsentRecord) []byte {
	b = append(b, consentCodecV1)
	for _, s := range [...]string{r.ID, string(r.Channel), string(r.Signal), r.Recipient,
		string(r.Touchpoint), string(r.Status), r.NoticeVersion, r.Source, r.Actor, string(r.Evidence)} {
		b = appendString(b, s)
	}
	b = appendTime(b, r.ExpiresAt)
	b = appendTime(b, r.RecordedAt)
	return appendString(b, string(r.MergedFrom))
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) bytes() []byte {
	n, k := binary.Uvarint(d.b)
	if k <= 0 || uint64(len(d.b)-k) < n {
		d.err, d.b = errCorrupt, nil
		return nil
	}
	v := d.b[k : k+int(n)]
	d.b = d.b[k+int(n):]
	return v
}

func (d *decoder) string() string { return string(d.bytes()) }

func (d *decoder) time() time.Time {
	s, k := binary.Varint(d.b)
	if k <= 0 {
		d.err, d.b = errCorrupt, nil
		return time.Time{}
	}
	d.b = d.b[k:]
	if s == 0 {
		return time.Time{}
	}
	if s > 0 {
		s--
	}
	ns, k := binary.Uvarint(d.b)
	if k <= 0 || ns >= 1e9 {
		d.err, d.b = errCorrupt, nil
		return time.Time{}
	}
	d.b = d.b[k:]
	return time.Unix(s, int64(ns)).UTC()
}

// decodeConsent decodes v, which appendConsent wrote, into r. It copies what
// it keeps, so v may be Badger's buffer.
func decodeConsent(v []byte, r *engine.ConsentRecord) error {
	if len(v) == 0 || v[0] != consentCodecV1 {
		return errCorrupt
	}
	d := decoder{b: v[1:]}
	r.ID = d.string()
	r.Channel = engine.Channel(d.string())
	r.Signal = engine.Signal(d.string())
	r.Recipient = d.string()
	r.Touchpoint = engine.Touchpoint(d.string())
	r.Status = engine.Status(d.string())
	r.NoticeVersion = d.string()
	r.Source = d.string()
	r.Actor = d.string()
	if ev := d.bytes(); len(ev) > 0 {
		r.Evidence = json.RawMessage(append([]byte(nil), ev...))
	} else {
		r.Evidence = nil
	}
	r.ExpiresAt = d.time()
	r.RecordedAt = d.time()
	r.MergedFrom = engine.UserID(d.string())
	if d.err == nil && len(d.b) != 0 {
		d.err = errCorrupt
	}
	return d.err
}

// getJSON reads key into v. It returns badger.ErrKeyNotFound if key is missing.
func getJSON(txn *badger.Txn, key []byte, v any) error {
	item, err := txn.Get(key)
	if err != nil {
		return err
	}
	return item.Value(func(b []byte) error { return unmarshal(key, b, v) })
}

// setJSON writes v as JSON under key.
func setJSON(txn *badger.Txn, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("badgerstore: encode %q: %w", key, err)
	}
	return txn.Set(key, b)
}

func unmarshal(key, b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("badgerstore: decode %q: %w", key, err)
	}
	return nil
}

// exists reports whether key is present.
func exists(txn *badger.Txn, key []byte) (bool, error) {
	_, err := txn.Get(key)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, badger.ErrKeyNotFound):
		return false, nil
	}
	return false, err
}

// mustExist returns engine.ErrNotFound, naming the user, if u/<id> is missing.
func mustExist(txn *badger.Txn, id engine.UserID) error {
	ok, err := exists(txn, userKey(pUser, id))
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("user %s: %w", id, engine.ErrNotFound)
	}
	return nil
}
