package eval

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"heed/engine"
	"heed/recommend"
)

// The protocols.
const (
	P2 = "P2" // next month
	P3 = "P3" // complete the basket
)

// A Config says what Run evaluates. The zero Config evaluates heed with
// recommend.DefaultOptions and the baselines on both protocols.
type Config struct {
	// Protocols lists P2 and/or P3; empty: both.
	Protocols []string
	// Options are heed's options; nil: recommend.DefaultOptions().
	Options *recommend.Options
	// Tune first picks heed's options on the validation split (see Tune),
	// starting from Options, over Grid (nil: DefaultGrid).
	Tune bool
	Grid Grid
	// SkipHeed evaluates the baselines only.
	SkipHeed bool
	// MaxCases, if positive, evaluates an evenly spaced sample of at most
	// that many cases per protocol (for quick runs; the figures then differ
	// from the reference).
	MaxCases int
	// Progress receives one line per step of the long work; nil: none.
	Progress io.Writer
}

func (c Config) has(p string) bool { return len(c.Protocols) == 0 || slices.Contains(c.Protocols, p) }

// A Row is one system's figures.
type Row struct {
	System string
	// Metrics by protocol; a protocol the system does not answer is absent.
	Metrics map[string]Metrics
	// Train is the training time of the system (shared by heed's
	// strategies, which come from one model); PerIteration is the mean
	// time of one ALS iteration, zero for the baselines.
	Train, PerIteration time.Duration
}

// A Report is the outcome of Run.
type Report struct {
	Split  string
	Cutoff time.Time
	Cases  map[string]int // by protocol
	Rows   []Row
	// Options are heed's options used (after tuning, if any).
	Options recommend.Options
	// Trials are the tuning trials, if Config.Tune.
	Trials []Trial
}

// Run evaluates the systems on the test split of events and items (the
// purchases and catalog of the Online Retail data): heed's strategies
// (for_you, region and new_arrivals on P2; complementary and similar on
// P3) and the baselines. If cfg.Tune, heed's options are first tuned on the
// validation split, which ends where the test period starts. It returns
// ctx.Err() if ctx ends first.
func Run(ctx context.Context, events []engine.Event, items []engine.Item, cfg Config) (*Report, error) {
	opts := recommend.DefaultOptions()
	if cfg.Options != nil {
		opts = *cfg.Options
	}
	rep := &Report{Split: "test", Cutoff: TestCutoff, Cases: make(map[string]int)}
	if cfg.Tune && !cfg.SkipHeed {
		grid := cfg.Grid
		if grid == nil {
			grid = DefaultGrid()
		}
		best, trials, err := Tune(ctx, events, items, opts, grid, cfg.Progress)
		if err != nil {
			return nil, err
		}
		opts, rep.Trials = best, trials
	}
	rep.Options = opts

	s := TestSplit(events, items)
	cases := make(map[string][]Case)
	if cfg.has(P2) {
		cases[P2] = sample(P2Cases(s), cfg.MaxCases)
	}
	if cfg.has(P3) {
		cases[P3] = sample(P3Cases(s), cfg.MaxCases)
	}
	for p, cs := range cases {
		rep.Cases[p] = len(cs)
	}
	progressf(cfg.Progress, "test split: %d training purchases, %d test purchases, %d items; P2 %d cases, P3 %d cases",
		len(s.Train), len(s.Test), len(s.Items), len(cases[P2]), len(cases[P3]))

	type system struct {
		name  string
		rank  map[string]Ranker
		train time.Duration
		perIt time.Duration
	}
	var systems []system
	if !cfg.SkipHeed {
		progressf(cfg.Progress, "training heed (factors %d, iterations %d)", opts.Factors, opts.Iterations)
		h, err := TrainHeed(ctx, s, opts, cfg.Progress)
		if err != nil {
			return nil, err
		}
		progressf(cfg.Progress, "trained heed in %s", h.Took.Round(time.Millisecond))
		for _, x := range []struct {
			s     engine.Strategy
			proto string
		}{
			{engine.StrategyForYou, P2},
			{engine.StrategyComplementary, P3},
			{engine.StrategySimilar, P3},
			{engine.StrategyRegion, P2},
			{engine.StrategyNewArrivals, P2},
		} {
			systems = append(systems, system{name: "heed " + string(x.s), rank: map[string]Ranker{x.proto: h.Strategy(x.s)}, train: h.Took, perIt: h.PerIteration})
		}
	}
	progressf(cfg.Progress, "training baselines")
	start := time.Now()
	b, err := NewBaselines(ctx, s)
	if err != nil {
		return nil, err
	}
	took := time.Since(start)
	systems = append(systems,
		system{name: "popularity", rank: map[string]Ranker{P2: b.Popularity(), P3: b.Popularity()}, train: took},
		system{name: "popularity in country", rank: map[string]Ranker{P2: b.CountryPopularity()}, train: took},
		system{name: "item-kNN (customers)", rank: map[string]Ranker{P2: b.ItemKNN(), P3: b.ItemKNN()}, train: took},
		system{name: "bought together (baskets)", rank: map[string]Ranker{P2: b.BoughtTogether(), P3: b.BoughtTogether()}, train: took},
	)
	for _, sys := range systems {
		row := Row{System: sys.name, Metrics: make(map[string]Metrics), Train: sys.train, PerIteration: sys.perIt}
		for _, p := range []string{P2, P3} {
			r, ok := sys.rank[p]
			if !ok || cases[p] == nil {
				continue
			}
			start := time.Now()
			m, err := Evaluate(ctx, s, cases[p], r)
			if err != nil {
				return nil, err
			}
			row.Metrics[p] = m
			progressf(cfg.Progress, "%s %s: NDCG@10 %.3f (%s)", p, sys.name, m.NDCG10, time.Since(start).Round(time.Millisecond))
		}
		if len(row.Metrics) > 0 {
			rep.Rows = append(rep.Rows, row)
		}
	}
	return rep, nil
}

// sample returns at most max cases, evenly spaced; all if max <= 0.
func sample(cs []Case, max int) []Case {
	if max <= 0 || len(cs) <= max {
		return cs
	}
	out := make([]Case, max)
	for i := range out {
		out[i] = cs[i*len(cs)/max]
	}
	return out
}

// Row returns the row of a system, if any.
func (r *Report) Row(system string) (Row, bool) {
	for _, row := range r.Rows {
		if row.System == system {
			return row, true
		}
	}
	return Row{}, false
}

// WriteTable writes the report as a plain table: a row per system, per
// protocol HR@10, NDCG@10, Recall@20 and catalog coverage, then the whole
// training time (heed's strategies share one model) and the mean time of
// one ALS iteration.
func (r *Report) WriteTable(w io.Writer) error {
	var protos []string
	for _, p := range []string{P2, P3} {
		if r.Cases[p] > 0 {
			protos = append(protos, p)
		}
	}
	fmt.Fprintf(w, "trained before %s", r.Cutoff.Format("2006-01-02"))
	if r.Cases[P2] > 0 {
		fmt.Fprintf(w, "; P2 next month: %d customers", r.Cases[P2])
	}
	if r.Cases[P3] > 0 {
		fmt.Fprintf(w, "; P3 complete the basket: %d invoices", r.Cases[P3])
	}
	fmt.Fprintln(w)
	heed := slices.ContainsFunc(r.Rows, func(row Row) bool { return strings.HasPrefix(row.System, "heed ") })
	switch {
	case heed && len(r.Trials) > 0:
		fmt.Fprintf(w, "heed options tuned on the validation month (%d trials): %s\n", len(r.Trials), describe(r.Options))
	case heed:
		fmt.Fprintf(w, "heed options: %s\n", describe(r.Options))
	}
	width := len("system")
	for _, row := range r.Rows {
		width = max(width, len(row.System))
	}
	// Numbers align right; names are padded so they read left-aligned.
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-*s\t", width, "system")
	for _, p := range protos {
		fmt.Fprintf(tw, "%s HR@10\tNDCG@10\tRecall@20\tcoverage\t", p)
	}
	fmt.Fprint(tw, "train\tper iteration\t\n")
	for _, row := range r.Rows {
		fmt.Fprintf(tw, "%-*s\t", width, row.System)
		for _, p := range protos {
			m, ok := row.Metrics[p]
			if !ok {
				fmt.Fprint(tw, "—\t—\t—\t—\t")
				continue
			}
			fmt.Fprintf(tw, "%.3f\t%.3f\t%.3f\t%.3f\t", m.HR10, m.NDCG10, m.Recall20, m.Coverage)
		}
		per := "—"
		if row.PerIteration > 0 {
			per = row.PerIteration.Round(time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t\n", row.Train.Round(time.Millisecond), per)
	}
	return tw.Flush()
}

// describe names the tuned fields of o.
func describe(o recommend.Options) string {
	return fmt.Sprintf("factors %d, iterations %d, lambda %g, alpha %g, half-life %s",
		o.Factors, o.Iterations, o.Lambda, o.Alpha, days(o.HalfLife))
}

func days(d time.Duration) string {
	if d <= 0 {
		return "none"
	}
	return fmt.Sprintf("%gd", d.Hours()/24)
}
