package engine

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ImportBatchSize is how many events ImportEvents decides and stores at a
// time.
const ImportBatchSize = 500

// maxImportLine bounds one NDJSON line.
const maxImportLine = 1 << 20

// CSVColumns are the columns of an events CSV, in the documented order.
var CSVColumns = []string{"type", "user_id", "item_id", "quantity", "price", "order_id", "query", "touchpoint", "region", "occurred_at"}

// ImportEvents reads events from r, streamed, and records them in batches of
// ImportBatchSize through the same path as RecordEvents (validation, collect
// decisions, one synced write per batch). format is "ndjson" (one Event
// JSON per line; blank lines are skipped) or "csv" (a header naming some of
// CSVColumns in any order, type, user_id and occurred_at among them, then
// one row per event; consecutive purchase rows of the same user_id and a
// non-empty order_id form one purchase, one line item each, and the first
// row gives its touchpoint, region and time; quantity defaults to 1 and
// price to 0). progress, if not nil, is called after each batch with the
// number of lines read so far.
//
// A bad line stops the import with a *ValidationError (ErrInvalid) whose
// fields are "line[N]" or "line[N].field", N counting from 1 (a CSV
// header is line 1; the line of a multi-row purchase is its first row, and
// its items[j] is its row j). The batch holding the bad line stores nothing;
// the batches before it stay stored, and the result returned with the
// error says how many events they stored (Accepted) and up to which line
// (Lines), so the import can resume after it. Dropped events are listed by
// line, at most MaxImportDropped of them; DroppedTotal counts all. Memory
// is bounded by one batch whatever the input size.
func (s *Service) ImportEvents(ctx context.Context, r io.Reader, format string, progress func(lines int)) (ImportResult, error) {
	var src eventSource
	switch format {
	case "ndjson":
		src = &ndjsonSource{r: bufio.NewReaderSize(r, 64<<10)}
	case "csv":
		cr := csv.NewReader(r) // every row has as many fields as the header
		cr.ReuseRecord = true
		src = &csvSource{r: cr}
	default:
		return ImportResult{}, Invalid("format", "unknown format %q; want ndjson or csv", format)
	}
	res := ImportResult{Dropped: []DroppedEvent{}}
	batch := make([]Event, 0, ImportBatchSize)
	lines := make([]int, 0, ImportBatchSize)
	flush := func(through int) error {
		if len(batch) == 0 {
			return nil
		}
		out, err := s.collect(ctx, batch, func(i int) string { return "line[" + strconv.Itoa(lines[i]) + "]." })
		if err != nil {
			return err
		}
		res.Accepted += out.accepted
		res.DroppedTotal += len(out.dropped)
		for _, d := range out.dropped {
			if len(res.Dropped) == MaxImportDropped {
				break
			}
			res.Dropped = append(res.Dropped, DroppedEvent{Index: lines[d.Index], Reason: d.Reason})
		}
		res.Lines = through
		batch, lines = batch[:0], lines[:0]
		if progress != nil {
			progress(through)
		}
		return nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		e, line, err := src.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return res, err
		}
		batch = append(batch, e)
		lines = append(lines, line)
		if len(batch) == ImportBatchSize {
			// The source has read up to the start of the next event at most.
			if err := flush(src.complete()); err != nil {
				return res, err
			}
		}
	}
	if err := flush(src.lines()); err != nil {
		return res, err
	}
	res.Lines = src.lines()
	return res, nil
}

// An eventSource parses events one by one.
type eventSource interface {
	// next returns the next event and its (first) line, or io.EOF.
	next() (Event, int, error)
	// lines returns how many lines were read so far.
	lines() int
	// complete returns the last line of the events returned so far.
	complete() int
}

type ndjsonSource struct {
	r    *bufio.Reader
	line int
}

func (s *ndjsonSource) lines() int    { return s.line }
func (s *ndjsonSource) complete() int { return s.line }

func (s *ndjsonSource) next() (Event, int, error) {
	for {
		b, err := s.readLine()
		if err != nil {
			return Event{}, 0, err
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		var e Event
		if err := DecodeJSON(b, &e); err != nil {
			return Event{}, 0, Prefixed(err, "line["+strconv.Itoa(s.line)+"].")
		}
		return e, s.line, nil
	}
}

// readLine returns the next line without its end, or io.EOF at the end.
func (s *ndjsonSource) readLine() ([]byte, error) {
	b, err := s.r.ReadSlice('\n')
	if len(b) == 0 && errors.Is(err, io.EOF) {
		return nil, io.EOF
	}
	s.line++
	if errors.Is(err, bufio.ErrBufferFull) {
		long := slices.Clone(b)
		for errors.Is(err, bufio.ErrBufferFull) {
			b, err = s.r.ReadSlice('\n')
			long = append(long, b...)
			if len(long) > maxImportLine {
				return nil, Invalid("line["+strconv.Itoa(s.line)+"]", "is longer than %d bytes", maxImportLine)
			}
		}
		b = long
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read line %d: %w", s.line, err)
	}
	return bytes.TrimSuffix(bytes.TrimSuffix(b, []byte("\n")), []byte("\r")), nil
}

type csvSource struct {
	r       *csv.Reader
	cols    []int // index of each of CSVColumns in a row, -1 if absent
	line    int   // the line of the last row read
	pending *Event
	pline   int // the first line of pending
	done    int // the last line of the events returned
}

func (s *csvSource) lines() int    { return s.line }
func (s *csvSource) complete() int { return s.done }

func (s *csvSource) next() (Event, int, error) {
	if s.cols == nil {
		if err := s.header(); err != nil {
			return Event{}, 0, err
		}
	}
	for {
		row, err := s.r.Read()
		if errors.Is(err, io.EOF) {
			if s.pending == nil {
				return Event{}, 0, io.EOF
			}
			return s.take(s.line)
		}
		if err != nil {
			return Event{}, 0, csvError(err)
		}
		line, _ := s.r.FieldPos(0)
		last, _ := s.r.FieldPos(len(row) - 1)
		prev := s.line
		s.line = last
		e, err := s.event(row, line)
		if err != nil {
			return Event{}, 0, err
		}
		p := s.pending
		if p != nil && e.Type == EventPurchase && p.Type == EventPurchase && e.Order != "" && p.Order == e.Order && p.User == e.User {
			p.Items = append(p.Items, e.Items...)
			continue
		}
		if p == nil {
			s.pending, s.pline = &e, line
			continue
		}
		out, outLine := *p, s.pline
		s.pending, s.pline = &e, line
		s.done = prev
		return out, outLine, nil
	}
}

// take returns the pending event as the last one.
func (s *csvSource) take(through int) (Event, int, error) {
	out, line := *s.pending, s.pline
	s.pending, s.done = nil, through
	return out, line, nil
}

// header reads the header row.
func (s *csvSource) header() error {
	row, err := s.r.Read()
	if errors.Is(err, io.EOF) {
		return Invalid("line[1]", "is missing; want a header naming the columns %s", strings.Join(CSVColumns, ","))
	}
	if err != nil {
		return csvError(err)
	}
	s.line, _ = s.r.FieldPos(len(row) - 1)
	s.cols = make([]int, len(CSVColumns))
	for i := range s.cols {
		s.cols[i] = -1
	}
	var ps problems
	for i, name := range row {
		name = strings.TrimSpace(strings.TrimPrefix(name, "\ufeff"))
		j := slices.Index(CSVColumns, name)
		switch {
		case j < 0:
			ps.add("line[1]", "unknown column %q; want some of %s", name, strings.Join(CSVColumns, ","))
		case s.cols[j] >= 0:
			ps.add("line[1]", "column %q appears twice", name)
		default:
			s.cols[j] = i
		}
	}
	for _, need := range []string{"type", "user_id", "occurred_at"} {
		if s.cols[slices.Index(CSVColumns, need)] < 0 {
			ps.add("line[1]", "has no column %q", need)
		}
	}
	return ps.err()
}

func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return Invalid("line["+strconv.Itoa(pe.StartLine)+"]", "%v", pe.Err)
	}
	return fmt.Errorf("read csv: %w", err)
}

// event turns a row into an event, or into the one line of a purchase.
func (s *csvSource) event(row []string, line int) (Event, error) {
	col := func(name string) string {
		i := s.cols[slices.Index(CSVColumns, name)]
		if i < 0 || i >= len(row) {
			return ""
		}
		return row[i]
	}
	prefix := "line[" + strconv.Itoa(line) + "]."
	var ps problems
	e := Event{Type: EventType(col("type")), User: UserID(col("user_id")), Order: col("order_id"),
		Query: col("query"), Touchpoint: Touchpoint(col("touchpoint")), Region: col("region")}
	if at := col("occurred_at"); at != "" {
		t, err := time.Parse(time.RFC3339Nano, at)
		if err != nil {
			ps.add(prefix+"occurred_at", "%q is not an RFC 3339 time such as 2026-03-01T10:00:00+08:00", at)
		}
		e.OccurredAt = t
	}
	qty, price := col("quantity"), col("price")
	if e.Type != EventPurchase {
		e.Item = ItemID(col("item_id"))
		if qty != "" {
			ps.add(prefix+"quantity", "only a purchase row has a quantity")
		}
		if price != "" {
			ps.add(prefix+"price", "only a purchase row has a price")
		}
		return e, ps.err()
	}
	l := LineItem{Item: ItemID(col("item_id")), Quantity: 1}
	if qty != "" {
		n, err := strconv.Atoi(qty)
		if err != nil {
			ps.add(prefix+"quantity", "%q is not a whole number", qty)
		}
		l.Quantity = n
	}
	if price != "" {
		p, err := strconv.ParseFloat(price, 64)
		if err != nil {
			ps.add(prefix+"price", "%q is not a number", price)
		}
		l.Price = p
	}
	if l.Item == "" {
		ps.add(prefix+"item_id", "a purchase row needs its item")
	}
	e.Items = []LineItem{l}
	return e, ps.err()
}
