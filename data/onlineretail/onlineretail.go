// Package onlineretail embeds the UCI Online Retail data set (CC BY 4.0:
// "Online Retail [Dataset]. UCI Machine Learning Repository.
// https://doi.org/10.24432/C5BW33" (Daqing Chen, London South Bank
// University); see README.md in this directory) and turns it into heed's
// engine types: one purchase event per invoice, one item per product.
//
// Load parses and cleans the embedded files. A line is kept only if its
// CustomerID is set, its invoice is not a cancellation, Quantity > 0,
// UnitPrice > 0 and its StockCode starts with five digits: 396,337 lines,
// 4,334 customers, 3,659 products, 18,402 invoices, 37 countries.
package onlineretail

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // Europe/London must resolve on hosts without a zoneinfo database
)

//go:embed transactions.csv.gz
var transactionsGz []byte

//go:embed items.csv
var itemsCSV []byte

// Zone is the name of the time zone the file's local times are in.
const Zone = "Europe/London"

// A Line is one cleaned invoice line.
type Line struct {
	Invoice   string
	StockCode string
	Quantity  int
	At        time.Time // InvoiceDate, in Europe/London
	UnitPrice float64
	Customer  string // CustomerID as in the file, e.g. "17850"
	Country   string
}

// A Product is one row of items.csv.
type Product struct {
	StockCode   string
	Description string // spaces collapsed; empty if the file has none ("nan")
	FirstSeen   time.Time
}

// A Dataset is the cleaned data.
type Dataset struct {
	// Lines are the cleaned lines in file order (by invoice, then line).
	Lines []Line
	// Products are the products that occur in Lines, by StockCode.
	Products []Product
}

// Load parses and cleans the embedded data. Parsing the whole file takes a
// few hundred milliseconds.
func Load() (*Dataset, error) {
	zr, err := gzip.NewReader(bytes.NewReader(transactionsGz))
	if err != nil {
		return nil, fmt.Errorf("onlineretail: transactions: %w", err)
	}
	defer zr.Close()
	return Parse(zr, bytes.NewReader(itemsCSV))
}

// Parse reads the transactions (uncompressed CSV) and items files, in the
// layout of README.md, and cleans them. A product in the transactions but
// not in items gets no description and its first sale as FirstSeen.
func Parse(transactions, items io.Reader) (*Dataset, error) {
	loc, err := time.LoadLocation(Zone)
	if err != nil {
		return nil, fmt.Errorf("onlineretail: %w", err)
	}
	lines, err := parseTransactions(transactions, loc)
	if err != nil {
		return nil, fmt.Errorf("onlineretail: transactions: %w", err)
	}
	known, err := parseItems(items, loc)
	if err != nil {
		return nil, fmt.Errorf("onlineretail: items: %w", err)
	}
	used := make(map[string]time.Time)
	for _, l := range lines {
		if t, ok := used[l.StockCode]; !ok || l.At.Before(t) {
			used[l.StockCode] = l.At
		}
	}
	products := make([]Product, 0, len(used))
	for code, first := range used {
		p, ok := known[code]
		if !ok {
			p = Product{StockCode: code, FirstSeen: first}
		}
		products = append(products, p)
	}
	slices.SortFunc(products, func(a, b Product) int { return strings.Compare(a.StockCode, b.StockCode) })
	return &Dataset{Lines: lines, Products: products}, nil
}

var header = "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"

// parseTransactions splits rows by hand: the file has no quoted fields, and
// encoding/csv would allocate every field of 541,909 rows.
func parseTransactions(r io.Reader, loc *time.Location) ([]Line, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return nil, err
		}
		return nil, errors.New("empty file")
	}
	if got := strings.TrimPrefix(sc.Text(), "\ufeff"); got != header {
		return nil, fmt.Errorf("header %q, want %q", got, header)
	}
	intern := make(map[string]string, 30000)
	str := func(b []byte) string {
		if s, ok := intern[string(b)]; ok {
			return s
		}
		s := string(b)
		intern[s] = s
		return s
	}
	var (
		lines    = make([]Line, 0, 400000)
		lastDate []byte
		lastAt   time.Time
		f        [7][]byte
	)
	for n := 2; sc.Scan(); n++ {
		row := sc.Bytes()
		if len(row) == 0 {
			continue
		}
		i := 0
		for rest := row; ; i++ {
			if i == len(f)-1 {
				f[i] = rest
				break
			}
			j := bytes.IndexByte(rest, ',')
			if j < 0 {
				return nil, fmt.Errorf("line %d: %d fields, want %d", n, i+1, len(f))
			}
			f[i], rest = rest[:j], rest[j+1:]
		}
		if bytes.IndexByte(f[6], ',') >= 0 {
			return nil, fmt.Errorf("line %d: more than %d fields", n, len(f))
		}
		invoice, code, qty, date, price, customer, country := f[0], f[1], f[2], f[3], f[4], f[5], f[6]
		if len(customer) == 0 || (len(invoice) > 0 && (invoice[0] == 'C' || invoice[0] == 'c')) || !fiveDigits(code) {
			continue
		}
		q, err := strconv.Atoi(string(qty))
		if err != nil {
			return nil, fmt.Errorf("line %d: quantity: %w", n, err)
		}
		p, err := strconv.ParseFloat(string(price), 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: unit price: %w", n, err)
		}
		if q <= 0 || p <= 0 {
			continue
		}
		if !bytes.Equal(date, lastDate) {
			at, err := parseLocal(date, loc)
			if err != nil {
				return nil, fmt.Errorf("line %d: invoice date: %w", n, err)
			}
			lastDate, lastAt = append(lastDate[:0], date...), at
		}
		// A customer id is written "17850" or, in some exports, "17850.0".
		customer = bytes.TrimSuffix(customer, []byte(".0"))
		lines = append(lines, Line{
			Invoice:   str(invoice),
			StockCode: str(code),
			Quantity:  q,
			At:        lastAt,
			UnitPrice: p,
			Customer:  str(customer),
			Country:   str(country),
		})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return lines, nil
}

func fiveDigits(code []byte) bool {
	if len(code) < 5 {
		return false
	}
	for _, c := range code[:5] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// parseLocal parses "2010-12-01T08:26:00" (seconds optional) as a time in loc.
func parseLocal(b []byte, loc *time.Location) (time.Time, error) {
	s := string(b)
	layout := "2006-01-02T15:04:05"
	if len(s) == len("2006-01-02T15:04") {
		layout = "2006-01-02T15:04"
	}
	return time.ParseInLocation(layout, s, loc)
}

func parseItems(r io.Reader, loc *time.Location) (map[string]Product, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 3
	cr.ReuseRecord = true
	rec, err := cr.Read()
	if err != nil {
		return nil, err
	}
	if h := strings.Join(rec, ","); strings.TrimPrefix(h, "\ufeff") != "StockCode,Description,FirstSeen" {
		return nil, fmt.Errorf("header %q", h)
	}
	out := make(map[string]Product, 4096)
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		first, err := parseLocal([]byte(rec[2]), loc)
		if err != nil {
			line, _ := cr.FieldPos(2)
			return nil, fmt.Errorf("line %d: first seen: %w", line, err)
		}
		desc := strings.Join(strings.Fields(rec[1]), " ")
		if strings.EqualFold(desc, "nan") { // how the export wrote a missing description
			desc = ""
		}
		out[rec[0]] = Product{StockCode: rec[0], Description: desc, FirstSeen: first}
	}
}

// A Customer is one customer of the cleaned data.
type Customer struct {
	ID      string // CustomerID as in the file
	Country string // where most of their lines ship to; ties: the first seen
}

// Customers returns the customers by ID.
func (d *Dataset) Customers() []Customer {
	type tally struct {
		counts map[string]int
		first  []string
	}
	by := make(map[string]*tally)
	for _, l := range d.Lines {
		t := by[l.Customer]
		if t == nil {
			t = &tally{counts: make(map[string]int, 1)}
			by[l.Customer] = t
		}
		if t.counts[l.Country] == 0 {
			t.first = append(t.first, l.Country)
		}
		t.counts[l.Country]++
	}
	out := make([]Customer, 0, len(by))
	for id, t := range by {
		best := t.first[0]
		for _, c := range t.first[1:] {
			if t.counts[c] > t.counts[best] {
				best = c
			}
		}
		out = append(out, Customer{ID: id, Country: best})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
