package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"heed/data/onlineretail"
	"heed/engine"
)

// importCmd streams a file of events into a running heed:
//
//	heed import [--url U] [--key K] [--format auto|ndjson|csv|retail] FILE
//
// FILE may be gzip-compressed (.gz) or "-" for standard input. The format
// is guessed from the first line: a JSON object is NDJSON, the UCI Online
// Retail header is that data set (converted to purchases here), any other
// header is heed's CSV.
func importCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("heed import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	newClient := clientFlags(fs, getenv)
	format := fs.String("format", "auto", "auto, ndjson, csv or retail (UCI Online Retail transactions)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: heed import [flags] FILE (a .ndjson, .csv or UCI Online Retail file, optionally .gz; - for stdin)")
	}
	c, err := newClient()
	if err != nil {
		return err
	}
	in, size, err := openInput(fs.Arg(0))
	if err != nil {
		return err
	}
	defer in.Close()

	bar := progressbar.NewOptions64(size, progressbar.OptionSetWriter(stderr), progressbar.OptionShowBytes(true),
		progressbar.OptionSetDescription("importing "+filepath.Base(fs.Arg(0))), progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(stderr) }))
	src := io.Reader(progressbar.NewReader(in, bar).Reader)
	if strings.HasSuffix(fs.Arg(0), ".gz") {
		zr, err := gzip.NewReader(src)
		if err != nil {
			return fmt.Errorf("%s: %w", fs.Arg(0), err)
		}
		src = zr
	}
	br := bufio.NewReaderSize(src, 1<<16)
	if *format == "auto" {
		*format = sniffFormat(br)
	}

	start := time.Now()
	var res engine.ImportResult
	switch *format {
	case "ndjson":
		err = c.send(ctx, "POST", "/v1/import/events", "application/x-ndjson", br, &res)
	case "csv":
		err = c.send(ctx, "POST", "/v1/import/events", "text/csv", br, &res)
	case "retail":
		var events []engine.Event
		if events, err = retailEvents(br); err == nil {
			_ = bar.Finish()
			bar = newBar(stderr, len(events), "sending purchases")
			err = c.send(ctx, "POST", "/v1/import/events", "application/x-ndjson", ndjson(events, bar), &res)
		}
	default:
		return fmt.Errorf("--format %q: want auto, ndjson, csv or retail", *format)
	}
	_ = bar.Finish()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "imported %d events in %s; %d dropped by the collect policy\n", res.Accepted, since(start), len(res.Dropped))
	for i, d := range res.Dropped {
		if i == 10 {
			fmt.Fprintf(stdout, "  ... and %d more\n", len(res.Dropped)-i)
			break
		}
		fmt.Fprintf(stdout, "  line %d: %s\n", d.Index, d.Reason)
	}
	return nil
}

// openInput opens path ("-": standard input) and returns its size in bytes
// (-1 if unknown).
func openInput(path string) (io.ReadCloser, int64, error) {
	if path == "-" {
		return io.NopCloser(os.Stdin), -1, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, st.Size(), nil
}

// sniffFormat guesses the format from the first line without consuming it.
func sniffFormat(br *bufio.Reader) string {
	head, _ := br.Peek(256)
	line := string(bytes.TrimSpace(bytes.SplitN(head, []byte("\n"), 2)[0]))
	switch {
	case strings.HasPrefix(line, "{"):
		return "ndjson"
	case strings.HasPrefix(line, "InvoiceNo,"):
		return "retail"
	default:
		return "csv"
	}
}

// retailEvents converts UCI Online Retail transactions into purchases, one
// an invoice, cleaned as data/onlineretail does.
func retailEvents(r io.Reader) ([]engine.Event, error) {
	d, err := onlineretail.Parse(r, strings.NewReader("StockCode,Description,FirstSeen\n"))
	if err != nil {
		return nil, err
	}
	return d.Events(), nil
}

// ndjson streams events as NDJSON, counting them on bar (nil: no bar).
func ndjson(events []engine.Event, bar *progressbar.ProgressBar) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		bw := bufio.NewWriterSize(pw, 1<<16)
		enc := json.NewEncoder(bw)
		for _, e := range events {
			if err := enc.Encode(e); err != nil {
				pw.CloseWithError(err)
				return
			}
			if bar != nil {
				_ = bar.Add(1)
			}
		}
		pw.CloseWithError(bw.Flush())
	}()
	return pr
}
