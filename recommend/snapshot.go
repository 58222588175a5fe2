package recommend

import (
	"bufio"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"heed/engine"
)

// A snapshot starts with snapshotMagic and a big-endian uint32 version; the
// rest is a gob of snapshotV1. ReadModel refuses other versions.
const (
	snapshotMagic   = "HEEDREC\x00"
	snapshotVersion = 1
)

// ErrSnapshot is returned by ReadModel for input that is not a model
// snapshot of a version this package reads.
var ErrSnapshot = errors.New("recommend: not a model snapshot of a known version")

type snapshotV1 struct {
	Factors, Iterations         int
	Lambda, Alpha               float64
	Weights                     map[engine.EventType]float64
	HalfLife                    time.Duration
	Seed                        uint64
	Neighbors                   int
	ComplementBeta, CustomerMix float64
	MaxBasket, MaxUserItems     int
	SizeDamping                 float64
	Blend                       Blend
	ExactScoringMax             int
	IDs                         []engine.ItemID
	Y, Gram, Norm, Pop, Repeat  []float64
	Popular                     []int32
	Regions                     map[string]ranked
	Similar, Complement         neighbors
	Users                       []engine.UserID
	Stats                       Stats
}

// WriteTo writes a versioned snapshot of m to w.
func (m *Model) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	bw := bufio.NewWriter(cw)
	var hdr [len(snapshotMagic) + 4]byte
	copy(hdr[:], snapshotMagic)
	binary.BigEndian.PutUint32(hdr[len(snapshotMagic):], snapshotVersion)
	bw.Write(hdr[:])
	o := m.opts
	s := snapshotV1{
		Factors: o.Factors, Iterations: o.Iterations, Lambda: o.Lambda, Alpha: o.Alpha,
		Weights: o.Weights, HalfLife: o.HalfLife, Seed: o.Seed, Neighbors: o.Neighbors,
		ComplementBeta: o.ComplementBeta, CustomerMix: o.CustomerMix,
		MaxBasket: o.MaxBasket, MaxUserItems: o.MaxUserItems, SizeDamping: o.SizeDamping, Blend: o.Blend,
		ExactScoringMax: o.ExactScoringMax,
		IDs:             m.ids, Y: m.y, Gram: m.gram, Norm: m.norm, Pop: m.pop, Repeat: m.repeat,
		Popular: m.popular, Regions: m.regions, Similar: m.similar, Complement: m.complement,
		Users: m.users, Stats: m.stats,
	}
	if err := gob.NewEncoder(bw).Encode(&s); err != nil {
		return cw.n, fmt.Errorf("write model snapshot: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return cw.n, fmt.Errorf("write model snapshot: %w", err)
	}
	return cw.n, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// ReadModel reads a snapshot written by WriteTo. It returns an error
// wrapping ErrSnapshot for a bad header or an inconsistent body.
func ReadModel(r io.Reader) (*Model, error) {
	br := bufio.NewReader(r)
	var hdr [len(snapshotMagic) + 4]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrSnapshot, err)
	}
	if string(hdr[:len(snapshotMagic)]) != snapshotMagic {
		return nil, fmt.Errorf("%w: bad magic", ErrSnapshot)
	}
	if v := binary.BigEndian.Uint32(hdr[len(snapshotMagic):]); v != snapshotVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrSnapshot, v, snapshotVersion)
	}
	var s snapshotV1
	if err := gob.NewDecoder(br).Decode(&s); err != nil {
		return nil, fmt.Errorf("read model snapshot: %w", err)
	}
	n, k := len(s.IDs), s.Factors
	if k <= 0 || len(s.Y) != n*k || len(s.Gram) != k*k || len(s.Norm) != n || len(s.Pop) != n || len(s.Repeat) != n ||
		len(s.Similar.Off) != n+1 || len(s.Complement.Off) != n+1 {
		return nil, fmt.Errorf("%w: inconsistent sizes", ErrSnapshot)
	}
	m := &Model{
		opts: Options{
			Factors: k, Iterations: s.Iterations, Lambda: s.Lambda, Alpha: s.Alpha, Weights: s.Weights,
			HalfLife: s.HalfLife, Seed: s.Seed, Neighbors: s.Neighbors, ComplementBeta: s.ComplementBeta,
			CustomerMix: s.CustomerMix, MaxBasket: s.MaxBasket, MaxUserItems: s.MaxUserItems, SizeDamping: s.SizeDamping,
			Blend: s.Blend, ExactScoringMax: s.ExactScoringMax,
		},
		k: k, ids: s.IDs, index: make(map[engine.ItemID]int32, n),
		y: s.Y, gram: s.Gram, norm: s.Norm, pop: s.Pop, repeat: s.Repeat,
		popular: s.Popular, regions: s.Regions, similar: s.Similar, complement: s.Complement,
		users: s.Users, stats: s.Stats,
	}
	if m.regions == nil {
		m.regions = map[string]ranked{}
	}
	for i, id := range m.ids {
		m.index[id] = int32(i)
	}
	inRange := func(l []int32) bool {
		return !slices.ContainsFunc(l, func(j int32) bool { return j < 0 || int(j) >= n })
	}
	ok := inRange(m.popular) && inRange(m.similar.Item) && inRange(m.complement.Item) &&
		len(m.similar.Item) == len(m.similar.Score) && len(m.complement.Item) == len(m.complement.Score)
	for _, rk := range m.regions {
		ok = ok && inRange(rk.Items) && len(rk.Items) == len(rk.Scores)
	}
	if !ok {
		return nil, fmt.Errorf("%w: item index out of range", ErrSnapshot)
	}
	m.initPools()
	return m, nil
}
