package campaigns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"heed/engine"
)

// A Run is one occurrence of a campaign being planned: a scheduled firing
// (id "occ-<label>", so that it is planned once however many planners
// ask) or a run started by hand ("run-…").
type Run struct {
	ID       string `json:"run_id"`
	Campaign string `json:"campaign_id"`
	// Label is the occurrence; empty for a manual run without a date,
	// whose label is each user's local date.
	Label     string    `json:"label,omitempty"`
	Manual    bool      `json:"manual"`
	Now       time.Time `json:"now,omitzero"` // a manual run's messages are due now
	CreatedAt time.Time `json:"created_at"`
	// Dispatched is set once the run's planning tasks are queued; a run
	// left undispatched (a planner that crashed) is handed out again.
	Dispatched bool `json:"dispatched"`
	Chunks     int  `json:"chunks"`
	ChunksDone int  `json:"chunks_done"`
	// What planning found: users in the audience, contacts scheduled,
	// and those left out by the foreseen decision, by reason.
	Audience   int            `json:"audience"`
	Scheduled  int            `json:"scheduled"`
	Suppressed map[string]int `json:"suppressed"`
}

func (r Run) job() engine.PlanJob {
	return engine.PlanJob{Campaign: r.Campaign, Run: r.ID, Label: r.Label, Now: r.Now}
}

// Extreme UTC offsets: an occurrence's label is due first at UTC+14 and
// last at UTC-12, 26 hours later.
var (
	firstZone = time.FixedZone("UTC+14", 14*3600)
	spread    = 26 * time.Hour
)

// Due returns the occurrences to plan at now: for each active campaign,
// every occurrence whose first due time (at UTC+14) is within the
// lookahead and whose window has not closed everywhere, that has no run
// yet (a run is created for it here, once: a second planner finds it), and
// runs created earlier but never dispatched. An occurrence missed while
// heed was down is planned late, within its window.
func (s *Service) Due(ctx context.Context, now time.Time) ([]engine.PlanJob, error) {
	var jobs []engine.PlanJob
	for c, err := range s.all(ctx) {
		if err != nil {
			return nil, err
		}
		runs, err := s.runs(ctx, c.ID)
		if err != nil {
			return nil, err
		}
		for _, r := range runs {
			if !r.Dispatched && now.Sub(r.CreatedAt) >= s.opts.RedispatchAfter && c.Status != StatusEnded {
				jobs = append(jobs, r.job())
			}
		}
		if c.Status != StatusActive {
			continue
		}
		from := now.Add(-c.Window() - spread)
		for _, o := range c.Occurrences(firstZone, from, now.Add(s.opts.Lookahead)) {
			last := o.Due.Add(spread)
			if !last.Add(c.Window()).After(now) || last.Before(c.ActivatedAt) {
				continue // closed everywhere, or wholly before activation
			}
			id := "occ-" + o.Label
			if _, ok := runs[id]; ok {
				continue
			}
			r := Run{ID: id, Campaign: c.ID, Label: o.Label, CreatedAt: now, Suppressed: map[string]int{}}
			added, err := s.addRun(ctx, r)
			if err != nil {
				return nil, err
			}
			if added {
				jobs = append(jobs, r.job())
			}
		}
	}
	return jobs, nil
}

// RunNow starts a manual run of campaign id: one occurrence, due now, for
// the local date (YYYY-MM-DD; empty: each user's today). Its label is the
// date, so it never sends a user what a scheduled firing that day sent. A
// paused or ended campaign does not run (ErrConflict).
func (s *Service) RunNow(ctx context.Context, id, date string) (Run, error) {
	if date != "" {
		if _, err := time.Parse(time.DateOnly, date); err != nil {
			return Run{}, engine.Invalid("date", "%q is not a date YYYY-MM-DD", date)
		}
	}
	c, err := s.Get(ctx, id)
	if err != nil {
		return Run{}, err
	}
	if c.Status == StatusPaused || c.Status == StatusEnded {
		return Run{}, fmt.Errorf("campaign %s is %s: %w", id, c.Status, engine.ErrConflict)
	}
	now := s.now()
	r := Run{ID: engine.NewID("run-"), Campaign: id, Label: date, Manual: true, Now: now, CreatedAt: now, Suppressed: map[string]int{}}
	if _, err := s.addRun(ctx, r); err != nil {
		return Run{}, err
	}
	return r, nil
}

// Runs returns the runs of campaign id, oldest first.
func (s *Service) Runs(ctx context.Context, id string) ([]Run, error) {
	m, err := s.runs(ctx, id)
	if err != nil {
		return nil, err
	}
	out := slices.Collect(maps.Values(m))
	slices.SortFunc(out, func(a, b Run) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

func (s *Service) runs(ctx context.Context, campaign string) (map[string]Run, error) {
	docs, err := s.store.Runs(ctx, campaign)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Run, len(docs))
	for _, doc := range docs {
		var r Run
		if err := json.Unmarshal(doc, &r); err != nil {
			return nil, fmt.Errorf("runs of %s: %w", campaign, err)
		}
		out[r.ID] = r
	}
	return out, nil
}

func (s *Service) addRun(ctx context.Context, r Run) (bool, error) {
	doc, err := json.Marshal(r)
	if err != nil {
		return false, err
	}
	return s.store.AddRun(ctx, r.Campaign, r.ID, doc)
}

func (s *Service) updateRun(ctx context.Context, job engine.PlanJob, fn func(*Run)) error {
	return s.store.UpdateRun(ctx, job.Campaign, job.Run, func(doc []byte) ([]byte, error) {
		var r Run
		if err := json.Unmarshal(doc, &r); err != nil {
			return nil, err
		}
		if r.Suppressed == nil {
			r.Suppressed = map[string]int{}
		}
		fn(&r)
		return json.Marshal(r)
	})
}

// Bounds returns the user ids that split the users into planning chunks:
// chunk i holds the users after bounds[i-1] up to bounds[i], and the last
// one those after the last bound.
func (s *Service) Bounds(ctx context.Context) ([]engine.UserID, error) {
	return s.store.UserBounds(ctx, s.opts.ChunkSize)
}

// Dispatched records that job's planning tasks, chunks of them, are queued.
func (s *Service) Dispatched(ctx context.Context, job engine.PlanJob, chunks int) error {
	return s.updateRun(ctx, job, func(r *Run) { r.Dispatched, r.Chunks = true, chunks })
}

// PlanChunk plans job for the users in (after, upto]: it finds those in
// the campaign's audience on the occurrence's date in their own zone,
// foresees each send-time decision at the due time, records the contacts
// that can go out in the ledger (scheduled) and returns them, with counts
// that are added to the run. A user whose occurrence window has already
// closed (planning caught up too late) is counted window_passed. Planning
// a chunk twice schedules nothing twice.
func (s *Service) PlanChunk(ctx context.Context, job engine.PlanJob, after, upto engine.UserID) (engine.PlanResult, error) {
	res := engine.PlanResult{Suppressed: map[string]int{}}
	c, err := s.Get(ctx, job.Campaign)
	if errors.Is(err, engine.ErrNotFound) {
		return res, nil // deleted since
	}
	if err != nil {
		return res, err
	}
	if c.Status == StatusEnded || c.Status == StatusPaused || (c.Status != StatusActive && job.Now.IsZero()) {
		return res, s.updateRun(ctx, job, func(r *Run) { r.ChunksDone++ })
	}
	fs, err := s.store.ScanUserFacts(ctx, engine.FactsQuery{After: after, Upto: upto, Interests: len(c.Audience.Categories) > 0})
	if err != nil {
		return res, err
	}
	now := s.now()
	var p planner
	cs, kept := p.contacts(c, job, fs, now, &res)
	if err := s.foresee(ctx, c, cs, kept, &res); err != nil {
		return res, err
	}
	if res.Scheduled, err = s.ledger.ScheduleContacts(ctx, res.Contacts); err != nil {
		return res, err
	}
	err = s.updateRun(ctx, job, func(r *Run) {
		r.ChunksDone++
		r.Audience += res.Audience
		r.Scheduled += res.Scheduled
		for k, n := range res.Suppressed {
			r.Suppressed[k] += n
		}
	})
	return res, err
}

// foresee keeps in res.Contacts the contacts cs[i] (about users fs[i])
// whose foreseen decision is to send or defer, and counts the others in
// res.Suppressed by reason.
func (s *Service) foresee(ctx context.Context, c Campaign, cs []engine.Contact, fs []engine.UserFacts, res *engine.PlanResult) error {
	if len(cs) == 0 {
		return nil
	}
	mcap, err := s.caps.MarketingCap(ctx)
	if err != nil {
		return fmt.Errorf("marketing cap: %w", err)
	}
	vs, err := s.ledger.PlanDeliveries(ctx, cs, fs, c.rules(), mcap)
	if err != nil {
		return err
	}
	for i, v := range vs {
		if v.Allow || !v.DeferUntil.IsZero() {
			res.Contacts = append(res.Contacts, cs[i])
		} else {
			res.Suppressed[v.Reason]++
		}
	}
	return nil
}

// A planner finds the contacts of one occurrence among scanned users. It
// caches the occurrence per zone: users share a handful of zones.
type planner struct {
	occ map[*time.Location]occurrence
}

type occurrence struct {
	o   Occurrence
	day time.Time // the local date, at noon in the zone
	ok  bool
}

// contacts returns the contacts of job among fs (users in the audience
// whose window is open) and the facts of their users; it counts the
// audience and the users whose window closed in res.
func (p *planner) contacts(c Campaign, job engine.PlanJob, fs []engine.UserFacts, now time.Time, res *engine.PlanResult) ([]engine.Contact, []engine.UserFacts) {
	var cs []engine.Contact
	var kept []engine.UserFacts
	for _, f := range fs {
		o := p.occurrence(c, job, f.User.TimeZone, now)
		if !o.ok {
			continue
		}
		if job.Now.IsZero() && o.o.Due.Before(c.ActivatedAt) {
			continue // this zone's firing came before the campaign was active
		}
		if !c.Matches(Facts{User: f.User, Categories: f.Categories, Touchpoints: f.User.Touchpoints}, o.day) {
			continue
		}
		res.Audience++
		ct := engine.Contact{Campaign: c.ID, User: f.User.ID, Occurrence: o.o.Label, Run: job.Run,
			Due: o.o.Due, WindowEnd: o.o.Due.Add(c.Window())}
		if !now.Before(ct.WindowEnd) {
			res.Suppressed[engine.ReasonWindowPassed]++
			continue
		}
		cs = append(cs, ct)
		kept = append(kept, f)
	}
	return cs, kept
}

func (p *planner) occurrence(c Campaign, job engine.PlanJob, tz string, now time.Time) occurrence {
	loc := c.Location(tz)
	if o, ok := p.occ[loc]; ok && job.Label != "" {
		return o
	}
	var o occurrence
	if !job.Now.IsZero() {
		o.o, o.ok = c.RunOccurrence(loc, job.Label, job.Now), true
	} else {
		o.o, o.ok = occurrenceByLabel(c, loc, job.Label)
	}
	if o.ok {
		d, err := time.ParseInLocation(time.DateOnly, o.o.Date, loc)
		o.day, o.ok = d.Add(12*time.Hour), err == nil
	}
	if job.Label != "" {
		if p.occ == nil {
			p.occ = make(map[*time.Location]occurrence)
		}
		p.occ[loc] = o
	}
	return o
}

// occurrenceByLabel finds c's occurrence labelled label in loc.
func occurrenceByLabel(c Campaign, loc *time.Location, label string) (Occurrence, bool) {
	date, _, _ := strings.Cut(label, "T")
	day, err := time.ParseInLocation(time.DateOnly, date, loc)
	if err != nil {
		return Occurrence{}, false
	}
	// A label's firing is due within a day and a half of its local date's
	// midnight, whatever DST does.
	for _, o := range c.Occurrences(loc, day.Add(-36*time.Hour), day.Add(60*time.Hour)) {
		if o.Label == label {
			return o, true
		}
	}
	return Occurrence{}, false
}
