package engine

import (
	"strconv"
	"sync"
	"time"
)

// Caps and quiet hours count in the user's own calendar: "today" is the
// user's local day, a week starts on the user's local Monday (ISO 8601).
// Every bound is computed with time.Date, so a day that DST makes 23 or 25
// hours long counts as one day.

// dayStart returns the start of t's local day in loc.
func dayStart(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

// periodBounds returns the start and end of the period (PerDay, PerWeek,
// PerMonth, PerYear) holding t in loc; for PerCampaign, zero times: the
// period never ends.
func periodBounds(per string, t time.Time, loc *time.Location) (start, end time.Time) {
	lt := t.In(loc)
	y, m, d := lt.Date()
	switch per {
	case PerDay:
		return time.Date(y, m, d, 0, 0, 0, 0, loc), time.Date(y, m, d+1, 0, 0, 0, 0, loc)
	case PerWeek:
		back := (int(lt.Weekday()) + 6) % 7 // days since Monday
		return time.Date(y, m, d-back, 0, 0, 0, 0, loc), time.Date(y, m, d-back+7, 0, 0, 0, 0, loc)
	case PerMonth:
		return time.Date(y, m, 1, 0, 0, 0, 0, loc), time.Date(y, m+1, 1, 0, 0, 0, 0, loc)
	case PerYear:
		return time.Date(y, 1, 1, 0, 0, 0, 0, loc), time.Date(y+1, 1, 1, 0, 0, 0, 0, loc)
	}
	return time.Time{}, time.Time{}
}

// QuietAt reports whether t falls in quiet hours q in loc, and if so when
// they end. A window whose start is after its end wraps midnight
// (22:00–08:00). An end time that a DST change skips maps to the first
// instant after the gap.
func QuietAt(q *QuietHours, t time.Time, loc *time.Location) (bool, time.Time) {
	if q == nil {
		return false, time.Time{}
	}
	start, ok1 := minuteOfDay(q.Start)
	end, ok2 := minuteOfDay(q.End)
	if !ok1 || !ok2 || start == end {
		return false, time.Time{}
	}
	lt := t.In(loc)
	now := lt.Hour()*60 + lt.Minute()
	y, m, d := lt.Date()
	at := func(day, minute int) time.Time { return time.Date(y, m, day, minute/60, minute%60, 0, 0, loc) }
	switch {
	case start < end && now >= start && now < end: // 13:00–15:00
		return true, at(d, end)
	case start > end && now >= start: // 22:00–08:00, before midnight
		return true, at(d+1, end)
	case start > end && now < end: // after midnight
		return true, at(d, end)
	}
	return false, time.Time{}
}

// minuteOfDay parses HH:MM.
func minuteOfDay(s string) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	h, err1 := strconv.Atoi(s[:2])
	m, err2 := strconv.Atoi(s[3:])
	if err1 != nil || err2 != nil || h < 0 || h > 23 || m < 0 || m > 59 {
		return 0, false
	}
	return h*60 + m, true
}

// locations caches LoadLocation: loading a zone reads and parses its
// tzdata each time, which planning a million users would do a million
// times, and one *time.Location per zone lets callers key caches by it.
var locations sync.Map // zone name → *time.Location

// LoadLocation is time.LoadLocation for IANA zone names, cached. It
// refuses names that ValidateTimeZone refuses.
func LoadLocation(name string) (*time.Location, error) {
	if loc, ok := locations.Load(name); ok {
		return loc.(*time.Location), nil
	}
	if err := ValidateTimeZone(name); err != nil {
		return nil, err
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	actual, _ := locations.LoadOrStore(name, loc)
	return actual.(*time.Location), nil
}
