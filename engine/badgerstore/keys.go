package badgerstore

import (
	"encoding/binary"
	"math"
	"sync/atomic"
	"time"

	"heed/engine"
)

// Key prefixes; doc.go documents the layout.
const (
	pUser          = "u/"
	pSeq           = "s/"
	pIdent         = "i/"
	pUserIdent     = "ui/"
	pConsent       = "c/"
	pNotice        = "n/"
	pNoticeKey     = "nk/"
	pPrefs         = "f/"
	pInterests     = "t/"
	pInterestDelta = "td/"
	pActivity      = "a/"
	pDecision      = "d/"
	pDecisionUser  = "du/"
	pProof         = "p/"
	pPolicy        = "pm/"
	pOutbox        = "o/"
	pOutboxIndex   = "oi/"
	pDead          = "od/"
	pPurge         = "e/"
	pItem          = "it/"
	pEvent         = "ev/"
	pCampaign      = "cp/"
	pRun           = "cr/"
	pDelivery      = "dl/"
	pDeliveryUser  = "dlu/"
	pDeliveryDue   = "dq/"
	pRecentSends   = "rs/"
	pForget        = "fq/"
)

var (
	schemaKey   = []byte("m/schema")
	instanceKey = []byte("m/instance")
)

// key joins a prefix and parts, each part but the last ended by NUL.
func key(prefix string, parts ...string) []byte {
	n := len(prefix) + len(parts)
	for _, p := range parts {
		n += len(p)
	}
	b := make([]byte, 0, n+16) // room for a suffix such as a sequence
	b = append(b, prefix...)
	for i, p := range parts {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, p...)
	}
	return b
}

// userKey is the key of a per-user singleton: u/, s/, f/, t/, e/.
func userKey(prefix string, id engine.UserID) []byte { return key(prefix, string(id)) }

// userRange is the prefix of a per-user range: c/, ui/, a/, du/.
func userRange(prefix string, id engine.UserID) []byte {
	return append(key(prefix, string(id)), 0)
}

// identKey is i/<type>\x00<value>.
func identKey(ident engine.Identity) []byte {
	return key(pIdent, string(ident.Type), ident.Value)
}

// userIdentKey is ui/<user>\x00<type>\x00<value>.
func userIdentKey(id engine.UserID, ident engine.Identity) []byte {
	return key(pUserIdent, string(id), string(ident.Type), ident.Value)
}

// Purpose bytes of consent keys. They are part of the schema: never renumber.
var purposeCodes = map[engine.Purpose]byte{
	engine.PurposePersonalization:   1,
	engine.PurposeMarketing:         2,
	engine.PurposeAnalytics:         3,
	engine.PurposeThirdPartySharing: 4,
}

var purposeByCode = func() [256]engine.Purpose {
	var t [256]engine.Purpose
	for p, c := range purposeCodes {
		t[c] = p
	}
	return t
}()

// consentKey is c/<user>\x00<purpose><seq>.
func consentKey(id engine.UserID, code byte, seq uint64) []byte {
	b := userRange(pConsent, id)
	b = append(b, code)
	return binary.BigEndian.AppendUint64(b, seq)
}

// timeKey maps t to an unsigned number in time order: Unix ns with the sign
// bit flipped, 0 for the zero time, clamped outside the int64 ns range.
func timeKey(t time.Time) uint64 {
	switch {
	case t.IsZero():
		return 0
	case t.Before(minKeyTime):
		return 1
	case t.After(maxKeyTime):
		return math.MaxUint64
	}
	return uint64(t.UnixNano()) ^ 1<<63
}

var (
	minKeyTime = time.Unix(0, math.MinInt64+1)
	maxKeyTime = time.Unix(0, math.MaxInt64)
)

// timeFromKey inverts timeKey (up to clamping).
func timeFromKey(k uint64) time.Time {
	if k == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(k^1<<63)).UTC()
}

// A seqGen hands out process-wide strictly increasing sequence numbers near
// the wall clock in ns: max(now, last+1, floor+1).
type seqGen struct{ last atomic.Uint64 }

// next returns a sequence number above every one returned before and above floor.
func (g *seqGen) next(floor uint64) uint64 {
	for {
		last := g.last.Load()
		n := max(uint64(time.Now().UnixNano()), last+1, floor+1)
		if g.last.CompareAndSwap(last, n) {
			return n
		}
	}
}
