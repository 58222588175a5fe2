// Command heed is the consent-aware personalization engine: one binary whose
// serve subcommand runs the HTTP API, the scheduler and its workers in one
// process. See README.md for the settings.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "heed: %v\n", err)
		os.Exit(1)
	}
}

// run dispatches the subcommand in args[1]; args[0] is the program name.
// It reads the environment only through getenv, so tests pass a map lookup.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		usage(stderr)
		return errors.New("no command given")
	}
	cmd, rest := args[1], args[2:]
	switch cmd {
	case "serve":
		// serve: the lead wires API, store, policies and scheduler in serve.go.
		cfg, err := parseConfig(rest, getenv)
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, "Usage: heed serve [flags]\n\nFlags (each falls back to the environment variable named):")
			printFlags(stdout)
			return nil
		}
		if err != nil {
			return err
		}
		return serve(ctx, cfg, stdout, stderr)
	case "worker":
		return workerCmd(ctx, rest, getenv, stderr)
	case "policy":
		return policyCmd(ctx, rest, stdout)
	case "import":
		return importCmd(ctx, rest, getenv, stdout, stderr)
	case "train":
		return trainCmd(ctx, rest, getenv, stdout, stderr)
	case "demo":
		return demoCmd(ctx, rest, getenv, stdout, stderr)
	case "eval":
		return runEval(ctx, rest, stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintf(stdout, "heed %s (%s)\n", version, runtime.Version())
		return nil
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return nil
	default:
		usage(stderr)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `heed: consent-aware personalization engine

Usage:
  heed serve [flags]   run the HTTP API, scheduler and workers (heed serve -h for flags)
  heed worker --redis URL [--url URL] [--plan]
                       run campaign workers for a running heed serve (heed worker -h)
  heed policy test [DIR]
                       compile the policies (embedded, or DIR's *.rego) and run their Rego tests
  heed import FILE     stream events (NDJSON, CSV or UCI Online Retail; .gz too) into a running heed
  heed train           train the recommender of a running heed now
  heed demo            load the shipped Online Retail data into a running heed and show lists
  heed eval            evaluate the recommender on the Online Retail data (protocols P2, P3)
                       (import, train and demo take --url, --key, --data; -h for more)
  heed version         print the version
  heed help            print this help
`)
}
