package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"heed/api"
)

// trainCmd asks a running heed to train a new model now:
//
//	heed train [--url U] [--key K] [--data DIR]
func trainCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("heed train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	newClient := clientFlags(fs, getenv)
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := newClient()
	if err != nil {
		return err
	}
	fmt.Fprintln(stderr, "training (heed serve logs each iteration) ...")
	var info api.ModelInfo
	if err := c.call(ctx, "POST", "/v1/recommender/train", nil, &info); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "model trained: %d users, %d items, %d interactions, %d factors; %d iterations in %.1f s (%.2f s each)\n",
		info.Users, info.Items, info.Interactions, info.Factors, info.Iterations, info.Seconds, info.PerIteration)
	return nil
}
