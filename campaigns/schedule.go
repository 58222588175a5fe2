package campaigns

import (
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"heed/engine"
)

// Defaults for fields whose zero value means "the usual".
const (
	defaultWindow      = 12 * time.Hour
	defaultAttribution = 7 * 24 * time.Hour
	defaultSendHour    = 10 // a send_at date goes out at 10:00 local unless LocalSendTime says otherwise
	dateLayout         = "2006-01-02"
	labelLayout        = "2006-01-02T15:04"
)

// Location returns the zone c's messages to a user are timed in: the
// user's zone, else the campaign's TimeZone, else UTC. A name that is not
// a valid IANA zone is passed over the same way as an empty one.
func (c Campaign) Location(userTZ string) *time.Location {
	return engine.UserLocation(userTZ, c.TimeZone)
}

// Window returns how long after its due time a message may still go out:
// WindowHours, or 12 hours when zero.
func (c Campaign) Window() time.Duration {
	if c.WindowHours <= 0 {
		return defaultWindow
	}
	return time.Duration(c.WindowHours) * time.Hour
}

// Attribution returns how long after a delivery a purchase without the
// offer code counts as its conversion: AttributionDays, or 7 days when zero.
func (c Campaign) Attribution() time.Duration {
	if c.AttributionDays <= 0 {
		return defaultAttribution
	}
	return time.Duration(c.AttributionDays) * 24 * time.Hour
}

// An Occurrence is one firing of a campaign for the users of one zone.
type Occurrence struct {
	// Label names the firing in the delivery ledger (engine.Contact's
	// Occurrence), so it must not change once planned:
	//   - "YYYY-MM-DD", the local date, when the campaign fires at most
	//     once a day: a send_at date, a cron with one time of day, or any
	//     cron when LocalSendTime is set;
	//   - "YYYY-MM-DDTHH:MM", the local wall time the cron names, for a cron
	//     that fires more than once a day (the wall time as written, even
	//     when a DST gap moves Due later);
	//   - "YYYY-MM-DDTHH:MM" in UTC for a send_at instant: it is the same
	//     moment for everyone, so its label is the same in every zone and
	//     survives a user changing zones.
	Label string
	// Date is the local date (YYYY-MM-DD) of the firing in its zone.
	Date string
	// Due is when messages of the firing are due.
	Due time.Time
}

// Occurrences returns every firing of c whose Due falls in [from, to), for
// users of zone loc, in order of Due (then Label).
//
// A cron is read on loc's wall clock: it is evaluated on a floating clock
// (wall times carried in UTC, which has no DST), and each wall time is then
// placed in loc. A wall time in a DST gap (02:30 on a spring-forward day in
// America/Los_Angeles) is moved forward by the gap (03:30 PDT) rather than
// skipped; one in a DST overlap (01:30 on a fall-back day) happens once, at
// its first instant. LocalSendTime, when set, replaces the cron's time of
// day: the cron's day fields choose the days. A send_at date fires once at
// LocalSendTime (default 10:00) local; a send_at instant fires once at that
// instant in every zone. An invalid schedule has no occurrences.
func (c Campaign) Occurrences(loc *time.Location, from, to time.Time) []Occurrence {
	if loc == nil {
		loc = time.UTC
	}
	p, err := c.timing()
	if err != nil || !from.Before(to) {
		return nil
	}
	var out []Occurrence
	add := func(o Occurrence) {
		if !o.Due.Before(from) && o.Due.Before(to) {
			out = append(out, o)
		}
	}
	switch {
	case p.instant != nil:
		add(p.instantOccurrence(loc))
	case p.date != nil:
		add(p.occurrence(loc, p.at(*p.date)))
	default:
		// A wall time's Due is within a day of the wall time read as UTC
		// (zone offsets and DST gaps are hours), so scanning the floating
		// clock a day either side of [from, to) finds every firing.
		start := floatingClock(from, loc).Add(-26 * time.Hour)
		end := floatingClock(to, loc).Add(26 * time.Hour)
		for w := p.next(start); !w.IsZero() && w.Before(end); w = p.next(w) {
			add(p.occurrence(loc, w))
		}
	}
	slices.SortStableFunc(out, func(a, b Occurrence) int {
		if n := a.Due.Compare(b.Due); n != 0 {
			return n
		}
		return strings.Compare(a.Label, b.Label)
	})
	return out
}

// OccurrenceOn returns c's firing on the local date (YYYY-MM-DD) in loc:
// for a cron the first firing that day; for a send_at the one firing if it
// falls on date. ok is false if c does not fire on date, or date or the
// schedule is invalid.
func (c Campaign) OccurrenceOn(loc *time.Location, date string) (o Occurrence, ok bool) {
	if loc == nil {
		loc = time.UTC
	}
	day, err := time.Parse(dateLayout, date)
	if err != nil {
		return Occurrence{}, false
	}
	p, err := c.timing()
	if err != nil {
		return Occurrence{}, false
	}
	switch {
	case p.instant != nil:
		o = p.instantOccurrence(loc)
	case p.date != nil:
		o = p.occurrence(loc, p.at(*p.date))
	default:
		w := p.next(day.Add(-time.Second))
		if w.IsZero() {
			return Occurrence{}, false
		}
		o = p.occurrence(loc, w)
	}
	return o, o.Date == date
}

// RunOccurrence returns the occurrence a manual run for the local date
// (YYYY-MM-DD; empty: now's date in loc) makes: labelled with the date and
// due now, because a run sends at once. For a campaign that fires at most
// once a day the label is the scheduled firing's, so a run and the
// schedule never both send that day; a campaign that fires more often (or
// at a send_at instant) labels its firings with a time, so a run is one
// more occurrence. It does not check that c would fire on date.
func (c Campaign) RunOccurrence(loc *time.Location, date string, now time.Time) Occurrence {
	if loc == nil {
		loc = time.UTC
	}
	if date == "" {
		date = now.In(loc).Format(dateLayout)
	}
	return Occurrence{Label: date, Date: date, Due: now}
}

// BirthdayOn reports whether b falls on date's year, month and day (read
// as a civil date, in date's own location). A Feb 29 birthday falls on
// Feb 29 in leap years and on Feb 28 in other years, never on both.
func BirthdayOn(b engine.Birthday, date time.Time) bool {
	y, m, d := date.Date()
	if b.Month == time.February && b.Day == 29 && !isLeap(y) {
		return m == time.February && d == 28
	}
	return m == b.Month && d == b.Day
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

// A timing is a campaign's schedule, parsed. Exactly one of spec, date and
// instant is set.
type timing struct {
	spec    *cron.SpecSchedule
	date    *time.Time // midnight of the date on the floating clock
	instant *time.Time
	// hour and minute replace the cron's time of day when fixed is set.
	fixed        bool
	hour, minute int
	daily        bool // at most one firing a day: labels are dates
}

// timing parses c's schedule and LocalSendTime.
func (c Campaign) timing() (timing, error) {
	var p timing
	if c.LocalSendTime != "" {
		h, m, err := parseClock(c.LocalSendTime)
		if err != nil {
			return p, err
		}
		p.fixed, p.hour, p.minute = true, h, m
	}
	switch s := c.Schedule; {
	case s.Cron != "" && s.SendAt != "":
		return p, fmt.Errorf("has both cron and send_at")
	case s.Cron != "":
		spec, err := parseCron(s.Cron)
		if err != nil {
			return p, err
		}
		p.spec = spec
		p.daily = p.fixed || (bits.OnesCount64(spec.Hour&^starBit) == 1 && bits.OnesCount64(spec.Minute&^starBit) == 1)
	case s.SendAt != "":
		date, instant, err := parseSendAt(s.SendAt)
		if err != nil {
			return p, err
		}
		if instant.IsZero() {
			p.date, p.daily = &date, true
			if !p.fixed {
				p.fixed, p.hour, p.minute = true, defaultSendHour, 0
			}
		} else {
			p.instant = &instant
		}
	default:
		return p, fmt.Errorf("has neither cron nor send_at")
	}
	return p, nil
}

// next returns the first firing wall time after w on the floating clock,
// or zero if there is none. With a fixed time of day, it is that time on
// the next day, after w's, that the cron's day fields allow.
func (p timing) next(w time.Time) time.Time {
	if !p.fixed {
		return p.spec.Next(w)
	}
	// Days are whole on the floating clock (UTC has no DST): start the
	// search at the first midnight after the day of w, or at w's own day
	// if its fixed time is still ahead.
	day := w.Truncate(24 * time.Hour)
	if !p.at(day).After(w) {
		day = day.AddDate(0, 0, 1)
	}
	n := p.spec.Next(day.Add(-time.Second)) // first cron firing on or after that midnight
	if n.IsZero() {
		return n
	}
	return p.at(n.Truncate(24 * time.Hour))
}

// at returns the fixed time of day on the floating day.
func (p timing) at(day time.Time) time.Time {
	return day.Add(time.Duration(p.hour)*time.Hour + time.Duration(p.minute)*time.Minute)
}

// occurrence places the floating wall time w in loc.
func (p timing) occurrence(loc *time.Location, w time.Time) Occurrence {
	o := Occurrence{Label: w.Format(labelLayout), Date: w.Format(dateLayout), Due: inZone(w, loc)}
	if p.daily {
		o.Label = o.Date
	}
	return o
}

// instantOccurrence is the one firing of a send_at instant.
func (p timing) instantOccurrence(loc *time.Location) Occurrence {
	t := *p.instant
	return Occurrence{Label: t.UTC().Format(labelLayout), Date: t.In(loc).Format(dateLayout), Due: t}
}

// floatingClock returns t's wall clock in loc, carried in UTC.
func floatingClock(t time.Time, loc *time.Location) time.Time {
	y, mo, d := t.In(loc).Date()
	h, mi, s := t.In(loc).Clock()
	return time.Date(y, mo, d, h, mi, s, t.Nanosecond(), time.UTC)
}

// inZone returns the instant at which loc's wall clock reads w (a floating
// wall time carried in UTC). time.Date leaves gaps and overlaps
// unspecified (and in practice moves a gap time backward, and picks the
// second instant of some overlaps), so both are decided here: in an
// overlap the first instant wins; in a gap the wall time moves forward by
// the gap's length, as if the clock had not yet changed (02:30 → 03:30).
func inZone(w time.Time, loc *time.Location) time.Time {
	// The instant lies within about a day of w read as UTC; the offsets in
	// force a day either side are the only candidates, since zone
	// transitions are never that close together.
	_, before := w.Add(-24 * time.Hour).In(loc).Zone()
	_, after := w.Add(24 * time.Hour).In(loc).Zone()
	var best time.Time
	for _, off := range []int{before, after} {
		t := w.Add(-time.Duration(off) * time.Second)
		if _, got := t.In(loc).Zone(); got == off && (best.IsZero() || t.Before(best)) {
			best = t
		}
	}
	if best.IsZero() { // a gap: keep the offset from before it
		best = w.Add(-time.Duration(before) * time.Second)
	}
	return best.In(loc)
}

// starBit is set by robfig/cron in a field written as "*"; it is not a
// value bit.
const starBit = 1 << 63

// parseCron parses a cron expression of five standard fields, read on
// each user's local clock. Descriptors (@daily) and TZ=/CRON_TZ= prefixes,
// which robfig/cron also accepts, are refused: zones come from users, and
// five fields say everything a descriptor does.
func parseCron(s string) (*cron.SpecSchedule, error) {
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(s, "@"):
		return nil, fmt.Errorf("%q: descriptors such as @daily are not accepted; write five fields, like \"0 10 * * *\"", s)
	case strings.Contains(s, "="): // TZ=, CRON_TZ= (robfig panics on some of these)
		return nil, fmt.Errorf("%q: a time zone prefix is not accepted; each user's own zone is used", s)
	}
	if n := len(strings.Fields(s)); n != 5 {
		return nil, fmt.Errorf("%q has %d fields; want 5 (minute hour day-of-month month day-of-week)", s, n)
	}
	sched, err := cron.ParseStandard(s)
	if err != nil {
		return nil, fmt.Errorf("%q: %v", s, err)
	}
	spec, ok := sched.(*cron.SpecSchedule)
	if !ok { // ParseStandard returns nothing else for five fields
		return nil, fmt.Errorf("%q is not a cron expression", s)
	}
	// Read on the floating clock, which is UTC; with time.Local robfig
	// would also use the clock of the time it is given, but say so.
	spec.Location = time.UTC
	return spec, nil
}

// parseClock parses HH:MM, 00:00 to 23:59.
func parseClock(s string) (hour, minute int, err error) {
	// time.Parse reads "15" as one or two digits: insist on two.
	if len(s) != 5 || s[2] != ':' {
		return 0, 0, fmt.Errorf("%q is not a time of day HH:MM (00:00 to 23:59)", s)
	}
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, 0, fmt.Errorf("%q is not a time of day HH:MM (00:00 to 23:59)", s)
	}
	return t.Hour(), t.Minute(), nil
}

// parseSendAt parses a send_at: a date YYYY-MM-DD (returned as midnight on
// the floating clock, instant zero) or an RFC 3339 instant with an offset.
func parseSendAt(s string) (date, instant time.Time, err error) {
	if len(s) == len(dateLayout) {
		// time.Parse checks the day against the month: no Feb 29 in
		// common years, no Apr 31.
		d, err := time.Parse(dateLayout, s)
		if err != nil {
			return date, instant, fmt.Errorf("%q is not a real date YYYY-MM-DD", s)
		}
		return d, instant, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return date, instant, fmt.Errorf("%q is neither a date YYYY-MM-DD nor an RFC 3339 time with an offset, like 2027-03-01T10:00:00+08:00", s)
	}
	return date, t, nil
}
