package campaigns

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"heed/engine"
)

// Limits checked by Validate.
const (
	maxName         = 200
	maxCode         = 64
	maxValidDays    = 3650
	maxFilterValue  = 64 // characters in one region or category
	maxFilterValues = 100
	maxWindowHours  = 7 * 24
	maxCapPerUser   = 1000
	maxAttribution  = 90
	maxTitle        = 200
	maxBody         = 2000
)

// Validate checks c as a merchandiser submitted it, as of now. It checks
// what the merchandiser writes, not what heed sets (ID, Version, times);
// zero values stay zero, their defaults come from accessors such as
// Window. It returns an *engine.ValidationError (errors.Is(err,
// engine.ErrInvalid)) listing every bad field by its JSON path
// ("offer.percent_off", "audience.regions[0]", "message.locales.en.body"),
// in input order.
func (c *Campaign) Validate(now time.Time) error {
	var ps fieldProblems
	switch {
	case strings.TrimSpace(c.Name) == "":
		ps.add("name", "is required")
	default:
		ps.text("name", c.Name, maxName, false)
	}
	switch {
	case c.Kind == "":
		ps.add("kind", "is required; want one of %v", Kinds)
	case !slices.Contains(Kinds, c.Kind):
		ps.add("kind", "unknown kind %q; want one of %v", c.Kind, Kinds)
	}
	switch c.Status {
	case "", StatusDraft, StatusActive, StatusPaused, StatusEnded:
	default:
		ps.add("status", "unknown status %q", c.Status)
	}
	c.Offer.validate(&ps)
	c.validateAudience(&ps)
	c.validateChannels(&ps)
	c.validateSchedule(&ps, now)
	if c.TimeZone != "" {
		if err := engine.ValidateTimeZone(c.TimeZone); err != nil {
			ps.add("time_zone", "%v", err)
		}
	}
	if c.WindowHours < 0 || c.WindowHours > maxWindowHours {
		ps.add("window_hours", "must be 0 to %d (0: %d)", maxWindowHours, int(defaultWindow/time.Hour))
	}
	switch cp := c.Cap; {
	case cp.Max < 0 || cp.Max > maxCapPerUser:
		ps.add("cap.max_per_user", "must be 0 to %d", maxCapPerUser)
	case cp.Max > 0 && cp.Per == "":
		ps.add("cap.per", "is required with max_per_user; want one of %v", engine.CapPeriods)
	case cp.Max == 0 && cp.Per != "":
		ps.add("cap.per", "applies only with max_per_user above 0")
	case cp.Per != "" && !slices.Contains(engine.CapPeriods, cp.Per):
		ps.add("cap.per", "unknown period %q; want one of %v", cp.Per, engine.CapPeriods)
	}
	if c.AttributionDays < 0 || c.AttributionDays > maxAttribution {
		ps.add("attribution_days", "must be 0 to %d (0: %d)", maxAttribution, int(defaultAttribution/(24*time.Hour)))
	}
	c.validateMessage(&ps)
	return ps.err()
}

// CanTransition reports whether c may move from its status to to: draft →
// active, active ⇄ paused, and draft, active or paused → ended. Nothing
// leaves ended, and staying put is not a transition.
func (c Campaign) CanTransition(to Status) bool {
	switch c.Status {
	case StatusDraft:
		return to == StatusActive || to == StatusEnded
	case StatusActive:
		return to == StatusPaused || to == StatusEnded
	case StatusPaused:
		return to == StatusActive || to == StatusEnded
	}
	return false
}

func (o Offer) validate(ps *fieldProblems) {
	// uses says which amount fields belong to each type; the others must
	// be zero, so a points offer with percent_off is refused rather than
	// silently sent without the discount the merchandiser thought it had.
	var uses struct{ percent, spend, amount, points bool }
	switch o.Type {
	case "":
		ps.add("offer.type", "is required; want one of %v", engine.OfferTypes)
	case OfferDiscount:
		uses.percent = true
		if !(o.PercentOff > 0 && o.PercentOff < 100) {
			ps.add("offer.percent_off", "must be more than 0 and less than 100, got %s", formatAmount(o.PercentOff))
		}
	case OfferThreshold:
		uses.spend, uses.amount = true, true
		if !(o.Spend > 0) {
			ps.add("offer.spend", "must be more than 0")
		}
		switch {
		case !(o.AmountOff > 0):
			ps.add("offer.amount_off", "must be more than 0")
		case o.Spend > 0 && !(o.AmountOff < o.Spend):
			ps.add("offer.amount_off", "must be less than spend (%s)", formatAmount(o.Spend))
		}
	case OfferPoints:
		uses.points = true
		if o.Points <= 0 {
			ps.add("offer.points", "must be more than 0")
		}
	case OfferFreeShipping:
	default:
		ps.add("offer.type", "unknown offer type %q; want one of %v", o.Type, engine.OfferTypes)
	}
	if slices.Contains(engine.OfferTypes, o.Type) {
		for _, f := range []struct {
			name      string
			set, uses bool
		}{
			{"offer.percent_off", o.PercentOff != 0, uses.percent},
			{"offer.spend", o.Spend != 0, uses.spend},
			{"offer.amount_off", o.AmountOff != 0, uses.amount},
			{"offer.points", o.Points != 0, uses.points},
		} {
			if f.set && !f.uses {
				ps.add(f.name, "does not apply to a %s offer", o.Type)
			}
		}
	}
	if o.Code != "" && !isCode(o.Code) {
		ps.add("offer.code", "must be 1 to %d letters, digits, '-' or '_'", maxCode)
	}
	if o.ValidDays < 0 || o.ValidDays > maxValidDays {
		ps.add("offer.valid_days", "must be 0 to %d (0: no end)", maxValidDays)
	}
}

func isCode(s string) bool {
	if len(s) > maxCode {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func (c *Campaign) validateAudience(ps *fieldProblems) {
	a := c.Audience
	switch {
	case c.Kind == KindVIP && (a.MinTier == "" || a.MinTier == engine.Tiers[0]):
		ps.add("audience.min_tier", "is required for a vip campaign; want one of %v", engine.Tiers[1:])
	case a.MinTier != "" && !slices.Contains(engine.Tiers, a.MinTier):
		ps.add("audience.min_tier", "unknown tier %q; want one of %v", a.MinTier, engine.Tiers)
	}
	for _, list := range []struct {
		name   string
		values []string
	}{{"audience.regions", a.Regions}, {"audience.categories", a.Categories}} {
		if len(list.values) > maxFilterValues {
			ps.add(list.name, "has %d entries; at most %d", len(list.values), maxFilterValues)
			continue
		}
		for i, v := range list.values {
			field := fmt.Sprintf("%s[%d]", list.name, i)
			if v == "" {
				ps.add(field, "must not be empty")
				continue
			}
			ps.text(field, v, maxFilterValue, false)
		}
	}
	for i, tp := range a.Touchpoints {
		if !tp.Valid() {
			ps.add(fmt.Sprintf("audience.touchpoints[%d]", i), "unknown touchpoint %q; want one of %v", tp, engine.Touchpoints)
		}
	}
}

func (c *Campaign) validateChannels(ps *fieldProblems) {
	if len(c.Channels) == 0 {
		ps.add("channels", "needs at least one of %v", engine.Channels)
	}
	for i, ch := range c.Channels {
		field := fmt.Sprintf("channels[%d]", i)
		switch {
		case !ch.Valid():
			ps.add(field, "unknown channel %q; want one of %v", ch, engine.Channels)
		case slices.Contains(c.Channels[:i], ch):
			ps.add(field, "%q is listed twice", ch)
		}
	}
	if c.Touchpoint != "" && !c.Touchpoint.Valid() {
		ps.add("touchpoint", "unknown touchpoint %q; want one of %v", c.Touchpoint, engine.Touchpoints)
	}
}

func (c *Campaign) validateSchedule(ps *fieldProblems, now time.Time) {
	s := c.Schedule
	instant := false
	switch {
	case s.Cron == "" && s.SendAt == "":
		ps.add("schedule", "needs a cron or a send_at")
	case s.Cron != "" && s.SendAt != "":
		ps.add("schedule", "has both a cron and a send_at; give one")
	case s.Cron != "":
		spec, err := parseCron(s.Cron)
		if err != nil {
			ps.add("schedule.cron", "%v", err)
		} else if spec.Next(floatingClock(now, time.UTC)).IsZero() {
			ps.add("schedule.cron", "%q never fires", s.Cron)
		}
	default:
		date, at, err := parseSendAt(s.SendAt)
		switch {
		case err != nil:
			ps.add("schedule.send_at", "%v", err)
		case at.IsZero():
			// Zones run up to a day behind UTC, so yesterday (UTC) is
			// still today somewhere.
			y, m, d := now.UTC().Date()
			if date.Before(time.Date(y, m, d-1, 0, 0, 0, 0, time.UTC)) {
				ps.add("schedule.send_at", "%s is in the past", s.SendAt)
			}
		default:
			instant = true
			if at.Before(now) {
				ps.add("schedule.send_at", "%s is in the past", s.SendAt)
			}
		}
	}
	if c.LocalSendTime != "" {
		if _, _, err := parseClock(c.LocalSendTime); err != nil {
			ps.add("local_send_time", "%v", err)
		} else if instant {
			ps.add("local_send_time", "does not apply to a send_at instant, which is the same moment everywhere")
		}
	}
}

func (c *Campaign) validateMessage(ps *fieldProblems) {
	sample := c.SampleData()
	checkTemplate := func(path string, t Template) {
		for _, f := range []struct {
			name, text string
			max        int
			multiline  bool
		}{{"title", t.Title, maxTitle, false}, {"body", t.Body, maxBody, true}} {
			field := path + "." + f.name
			if strings.TrimSpace(f.text) == "" {
				ps.add(field, "is required")
				continue
			}
			if !ps.text(field, f.text, f.max, f.multiline) {
				continue
			}
			if _, err := executeTemplate(f.text, sample); err != nil {
				ps.add(field, "%v", err)
			}
		}
	}
	checkTemplate("message", Template{Title: c.Message.Title, Body: c.Message.Body})
	keys := make([]string, 0, len(c.Message.Locales))
	for k := range c.Message.Locales {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !isLanguageTag(k) {
			ps.add("message.locales."+k, "%q is not a language tag such as en or zh-CN", k)
			continue
		}
		checkTemplate("message.locales."+k, c.Message.Locales[k])
	}
}

// isLanguageTag reports whether s looks like a BCP 47 tag: a 2–3 letter
// language, then subtags of 2–8 letters or digits ("en", "zh-CN",
// "zh-Hant-TW").
func isLanguageTag(s string) bool {
	for i, sub := range strings.Split(s, "-") {
		lo, hi := 2, 8
		if i == 0 {
			hi = 3
		}
		if len(sub) < lo || len(sub) > hi {
			return false
		}
		for _, r := range sub {
			letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
			if !letter && (i == 0 || r < '0' || r > '9') {
				return false
			}
		}
	}
	return true
}

// fieldProblems collects field problems in input order.
type fieldProblems []engine.FieldProblem

func (p *fieldProblems) add(field, format string, args ...any) {
	*p = append(*p, engine.FieldProblem{Field: field, Message: fmt.Sprintf(format, args...)})
}

// text checks s as free text of at most limit characters: valid UTF-8 and
// no control characters (but line breaks and tabs when multiline). It
// reports whether s passed.
func (p *fieldProblems) text(field, s string, limit int, multiline bool) bool {
	switch {
	case !utf8.ValidString(s):
		p.add(field, "is not valid UTF-8")
		return false
	case utf8.RuneCountInString(s) > limit:
		p.add(field, "is longer than %d characters", limit)
		return false
	}
	for _, r := range s {
		if (r < 0x20 || r == 0x7f) && !(multiline && (r == '\n' || r == '\r' || r == '\t')) {
			p.add(field, "contains control characters")
			return false
		}
	}
	return true
}

func (p fieldProblems) err() error {
	if len(p) == 0 {
		return nil
	}
	return &engine.ValidationError{Problems: p}
}
