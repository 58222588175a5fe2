package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"heed/data/onlineretail"
	"heed/recommend"
	"heed/recommend/eval"
)

// runEval implements "heed eval [flags]": it evaluates heed's strategies and
// the baselines on the embedded Online Retail data (protocols P2 and P3 of
// data/onlineretail/README.md) and prints a table on stdout, progress on
// stderr. args are the flags after "eval".
func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("heed eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	d := recommend.DefaultOptions()
	var (
		protocol  = fs.String("protocol", "all", "protocol to run: P2 (next month), P3 (complete the basket) or all")
		tune      = fs.Bool("tune", false, "tune heed's options on the validation month (before 2011-11-09) first")
		factors   = fs.Int("factors", d.Factors, "ALS latent factors")
		iters     = fs.Int("iterations", d.Iterations, "ALS iterations")
		lambda    = fs.Float64("lambda", d.Lambda, "ALS L2 regularization")
		alpha     = fs.Float64("alpha", d.Alpha, "ALS confidence scale")
		halfLife  = fs.Float64("half-life-days", d.HalfLife.Hours()/24, "decay half-life of training events in days; 0: none")
		maxCases  = fs.Int("max-cases", 0, "evaluate at most this many cases per protocol, evenly spaced (0: all)")
		baselines = fs.Bool("baselines-only", false, "evaluate the baselines only, not heed")
		quiet     = fs.Bool("quiet", false, "no progress lines")
	)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: heed eval [flags]\n\nEvaluates heed against baselines on the UCI Online Retail data (CC BY 4.0).\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("eval: unexpected arguments %q", fs.Args())
	}
	cfg := eval.Config{Tune: *tune, SkipHeed: *baselines, MaxCases: *maxCases}
	switch p := strings.ToUpper(*protocol); p {
	case "ALL", "":
	case eval.P2, eval.P3:
		cfg.Protocols = []string{p}
	default:
		return fmt.Errorf("eval: unknown protocol %q; want P2, P3 or all", *protocol)
	}
	if *factors < 1 || *iters < 1 || *lambda <= 0 || *alpha <= 0 || *halfLife < 0 {
		return errors.New("eval: factors and iterations must be at least 1, lambda and alpha positive, half-life at least 0")
	}
	opts := d
	opts.Factors, opts.Iterations, opts.Lambda, opts.Alpha = *factors, *iters, *lambda, *alpha
	opts.HalfLife = time.Duration(*halfLife * float64(24*time.Hour))
	cfg.Options = &opts
	if !*quiet {
		cfg.Progress = stderr
	}

	start := time.Now()
	data, err := onlineretail.Load()
	if err != nil {
		return err
	}
	events, items := data.Events(), data.Items()
	if !*quiet {
		fmt.Fprintf(stderr, "loaded %d lines, %d invoices, %d items in %s\n", len(data.Lines), len(events), len(items), time.Since(start).Round(time.Millisecond))
	}
	rep, err := eval.Run(ctx, events, items, cfg)
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	if err := rep.WriteTable(stdout); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "data: \"Online Retail [Dataset]. UCI Machine Learning Repository. https://doi.org/10.24432/C5BW33\" (Daqing Chen, London South Bank University), CC BY 4.0; took %s\n",
		time.Since(start).Round(time.Millisecond))
	return nil
}
