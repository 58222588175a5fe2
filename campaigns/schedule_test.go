package campaigns_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"heed/campaigns"
	"heed/engine"
)

func mustLoad(tb testing.TB, name string) *time.Location {
	tb.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		tb.Fatal(err)
	}
	return loc
}

// at parses an RFC 3339 time.
func at(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// occ is an Occurrence with Due in RFC 3339, UTC, for readable diffs.
type occ struct{ Label, Date, Due string }

func simplify(os []campaigns.Occurrence) []occ {
	var out []occ
	for _, o := range os {
		out = append(out, occ{o.Label, o.Date, o.Due.UTC().Format(time.RFC3339)})
	}
	return out
}

func TestBirthdayOn(t *testing.T) {
	feb29 := engine.Birthday{Month: time.February, Day: 29}
	may17 := engine.Birthday{Year: 1990, Month: time.May, Day: 17}
	tests := []struct {
		name string
		b    engine.Birthday
		date string
		want bool
	}{
		{"Feb 29 on Feb 28 in a common year", feb29, "2027-02-28", true},
		{"Feb 29 not on Mar 1 in a common year", feb29, "2027-03-01", false},
		{"Feb 29 on Feb 29 in a leap year", feb29, "2028-02-29", true},
		{"Feb 29 not on Feb 28 in a leap year", feb29, "2028-02-28", false},
		{"Feb 29 on Feb 28 in 2100, not a leap year", feb29, "2100-02-28", true},
		{"Feb 29 on Feb 29 in 2000, a leap year", feb29, "2000-02-29", true},
		{"ordinary birthday", may17, "2027-05-17", true},
		{"ordinary birthday, other day", may17, "2027-05-18", false},
		{"Feb 28 birthday in a leap year", engine.Birthday{Month: time.February, Day: 28}, "2028-02-28", true},
		{"Feb 28 birthday not on Feb 29", engine.Birthday{Month: time.February, Day: 28}, "2028-02-29", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := time.Parse("2006-01-02", tt.date)
			if err != nil {
				t.Fatal(err)
			}
			if got := campaigns.BirthdayOn(tt.b, d); got != tt.want {
				t.Errorf("BirthdayOn(%v, %s) = %v, want %v", tt.b, tt.date, got, tt.want)
			}
		})
	}
}

func TestBirthdayOnReadsTheCivilDate(t *testing.T) {
	// 2027-02-28 23:30 in Los Angeles is already Mar 1 in UTC: the date's
	// own location decides.
	la := mustLoad(t, "America/Los_Angeles")
	d := time.Date(2027, 2, 28, 23, 30, 0, 0, la)
	if !campaigns.BirthdayOn(engine.Birthday{Month: time.February, Day: 29}, d) {
		t.Error("Feb 29 birthday should fall on 2027-02-28 23:30 local")
	}
}

func TestLocation(t *testing.T) {
	tests := []struct {
		name, campaignTZ, userTZ, want string
	}{
		{"user's zone", "Asia/Shanghai", "Europe/London", "Europe/London"},
		{"campaign's zone for a user without one", "Asia/Shanghai", "", "Asia/Shanghai"},
		{"campaign's zone for a user with a bad one", "Asia/Shanghai", "Mars/Olympus", "Asia/Shanghai"},
		{"UTC without zones", "", "", "UTC"},
		{"UTC when both are bad", "Local", "Nowhere/Else", "UTC"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := campaigns.Campaign{TimeZone: tt.campaignTZ}
			if got := c.Location(tt.userTZ).String(); got != tt.want {
				t.Errorf("Location(%q) = %s, want %s", tt.userTZ, got, tt.want)
			}
		})
	}
}

func TestWindowAndAttribution(t *testing.T) {
	tests := []struct {
		c                 campaigns.Campaign
		window, attribute time.Duration
	}{
		{campaigns.Campaign{}, 12 * time.Hour, 7 * 24 * time.Hour},
		{campaigns.Campaign{WindowHours: 3, AttributionDays: 30}, 3 * time.Hour, 30 * 24 * time.Hour},
	}
	for _, tt := range tests {
		if got := tt.c.Window(); got != tt.window {
			t.Errorf("Window() = %v, want %v", got, tt.window)
		}
		if got := tt.c.Attribution(); got != tt.attribute {
			t.Errorf("Attribution() = %v, want %v", got, tt.attribute)
		}
	}
}

func TestOccurrences(t *testing.T) {
	la := mustLoad(t, "America/Los_Angeles")
	sh := mustLoad(t, "Asia/Shanghai")
	london := mustLoad(t, "Europe/London")
	cron := func(spec string) campaigns.Campaign {
		return campaigns.Campaign{Schedule: campaigns.Schedule{Cron: spec}}
	}
	tests := []struct {
		name     string
		c        campaigns.Campaign
		loc      *time.Location
		from, to string
		want     []occ
	}{
		{
			name: "daily cron in Shanghai",
			c:    cron("0 10 * * *"), loc: sh,
			from: "2027-03-01T00:00:00+08:00", to: "2027-03-03T00:00:00+08:00",
			want: []occ{
				{"2027-03-01", "2027-03-01", "2027-03-01T02:00:00Z"},
				{"2027-03-02", "2027-03-02", "2027-03-02T02:00:00Z"},
			},
		},
		{
			name: "same label, another instant in Los Angeles",
			c:    cron("0 10 * * *"), loc: la,
			from: "2027-03-01T00:00:00-08:00", to: "2027-03-02T00:00:00-08:00",
			want: []occ{{"2027-03-01", "2027-03-01", "2027-03-01T18:00:00Z"}},
		},
		{
			name: "DST gap: 02:30 on spring-forward day fires at 03:30 PDT",
			c:    cron("30 2 * * *"), loc: la,
			from: "2027-03-13T00:00:00-08:00", to: "2027-03-16T00:00:00-07:00",
			want: []occ{
				{"2027-03-13", "2027-03-13", "2027-03-13T10:30:00Z"}, // 02:30 PST
				{"2027-03-14", "2027-03-14", "2027-03-14T10:30:00Z"}, // 03:30 PDT
				{"2027-03-15", "2027-03-15", "2027-03-15T09:30:00Z"}, // 02:30 PDT
			},
		},
		{
			name: "DST overlap: 01:30 on fall-back day fires once, at its first instant",
			c:    cron("30 1 * * *"), loc: la,
			from: "2027-11-06T00:00:00-07:00", to: "2027-11-09T00:00:00-08:00",
			want: []occ{
				{"2027-11-06", "2027-11-06", "2027-11-06T08:30:00Z"}, // 01:30 PDT
				{"2027-11-07", "2027-11-07", "2027-11-07T08:30:00Z"}, // 01:30 PDT, not also 01:30 PST
				{"2027-11-08", "2027-11-08", "2027-11-08T09:30:00Z"}, // 01:30 PST
			},
		},
		{
			name: "London gap: 01:30 on 2027-03-28 fires at 02:30 BST",
			c:    cron("30 1 * * *"), loc: london,
			from: "2027-03-28T00:00:00Z", to: "2027-03-29T00:00:00+01:00",
			want: []occ{{"2027-03-28", "2027-03-28", "2027-03-28T01:30:00Z"}},
		},
		{
			name: "London overlap: 01:30 on 2027-10-31 fires once, at 01:30 BST",
			c:    cron("30 1 * * *"), loc: london,
			from: "2027-10-30T23:00:00Z", to: "2027-11-01T00:00:00Z",
			want: []occ{{"2027-10-31", "2027-10-31", "2027-10-31T00:30:00Z"}},
		},
		{
			name: "Sydney overlap: 02:30 on 2027-04-04 fires once, at 02:30 AEDT",
			c:    cron("30 2 * * *"), loc: mustLoad(t, "Australia/Sydney"),
			from: "2027-04-04T00:00:00+11:00", to: "2027-04-05T00:00:00+10:00",
			want: []occ{{"2027-04-04", "2027-04-04", "2027-04-03T15:30:00Z"}},
		},
		{
			name: "Lord Howe half-hour gap: 02:15 on 2027-10-03 fires at 02:45 +11",
			c:    cron("15 2 * * *"), loc: mustLoad(t, "Australia/Lord_Howe"),
			from: "2027-10-03T00:00:00+10:30", to: "2027-10-04T00:00:00+11:00",
			want: []occ{{"2027-10-03", "2027-10-03", "2027-10-02T15:45:00Z"}},
		},
		{
			name: "from is inclusive",
			c:    cron("0 10 * * *"), loc: sh,
			from: "2027-03-01T10:00:00+08:00", to: "2027-03-02T10:00:00+08:00",
			want: []occ{{"2027-03-01", "2027-03-01", "2027-03-01T02:00:00Z"}},
		},
		{
			name: "to is exclusive",
			c:    cron("0 10 * * *"), loc: sh,
			from: "2027-03-01T10:00:01+08:00", to: "2027-03-02T10:00:00+08:00",
			want: nil,
		},
		{
			name: "empty range",
			c:    cron("0 10 * * *"), loc: sh,
			from: "2027-03-02T00:00:00+08:00", to: "2027-03-01T00:00:00+08:00",
			want: nil,
		},
		{
			name: "several a day: labels carry the time",
			c:    cron("0 9,18 * * *"), loc: sh,
			from: "2027-03-01T00:00:00+08:00", to: "2027-03-02T00:00:00+08:00",
			want: []occ{
				{"2027-03-01T09:00", "2027-03-01", "2027-03-01T01:00:00Z"},
				{"2027-03-01T18:00", "2027-03-01", "2027-03-01T10:00:00Z"},
			},
		},
		{
			name: "several a day across the gap: labels keep the wall time, in order of Due",
			c:    cron("30 1,2,3 * * *"), loc: la,
			from: "2027-03-14T00:00:00-08:00", to: "2027-03-15T00:00:00-07:00",
			want: []occ{
				{"2027-03-14T01:30", "2027-03-14", "2027-03-14T09:30:00Z"},
				{"2027-03-14T02:30", "2027-03-14", "2027-03-14T10:30:00Z"},
				{"2027-03-14T03:30", "2027-03-14", "2027-03-14T10:30:00Z"},
			},
		},
		{
			name: "LocalSendTime replaces the cron's time; its days stay",
			c: campaigns.Campaign{
				Schedule:      campaigns.Schedule{Cron: "0 9,18 * * 1"}, // Mondays
				LocalSendTime: "20:15",
			},
			loc:  sh,
			from: "2027-03-01T00:00:00+08:00", to: "2027-03-15T00:00:00+08:00",
			want: []occ{
				{"2027-03-01", "2027-03-01", "2027-03-01T12:15:00Z"},
				{"2027-03-08", "2027-03-08", "2027-03-08T12:15:00Z"},
			},
		},
		{
			name: "LocalSendTime in the gap",
			c:    campaigns.Campaign{Schedule: campaigns.Schedule{Cron: "0 0 14 3 *"}, LocalSendTime: "02:00"},
			loc:  la,
			from: "2027-01-01T00:00:00Z", to: "2028-01-01T00:00:00Z",
			want: []occ{{"2027-03-14", "2027-03-14", "2027-03-14T10:00:00Z"}}, // 03:00 PDT
		},
		{
			name: "send_at date at 10:00 local",
			c:    campaigns.Campaign{Schedule: campaigns.Schedule{SendAt: "2027-03-01"}},
			loc:  sh,
			from: "2027-01-01T00:00:00Z", to: "2028-01-01T00:00:00Z",
			want: []occ{{"2027-03-01", "2027-03-01", "2027-03-01T02:00:00Z"}},
		},
		{
			name: "send_at date at LocalSendTime",
			c:    campaigns.Campaign{Schedule: campaigns.Schedule{SendAt: "2027-03-01"}, LocalSendTime: "08:00"},
			loc:  la,
			from: "2027-01-01T00:00:00Z", to: "2028-01-01T00:00:00Z",
			want: []occ{{"2027-03-01", "2027-03-01", "2027-03-01T16:00:00Z"}},
		},
		{
			name: "send_at date out of range",
			c:    campaigns.Campaign{Schedule: campaigns.Schedule{SendAt: "2027-03-01"}},
			loc:  sh,
			from: "2027-03-01T10:00:01+08:00", to: "2028-01-01T00:00:00Z",
			want: nil,
		},
		{
			name: "send_at instant in Shanghai",
			c:    campaigns.Campaign{Schedule: campaigns.Schedule{SendAt: "2027-03-01T12:00:00+08:00"}},
			loc:  sh,
			from: "2027-01-01T00:00:00Z", to: "2028-01-01T00:00:00Z",
			want: []occ{{"2027-03-01T04:00", "2027-03-01", "2027-03-01T04:00:00Z"}},
		},
		{
			name: "send_at instant in Los Angeles: same label and Due, local date",
			c:    campaigns.Campaign{Schedule: campaigns.Schedule{SendAt: "2027-03-01T12:00:00+08:00"}},
			loc:  la,
			from: "2027-01-01T00:00:00Z", to: "2028-01-01T00:00:00Z",
			want: []occ{{"2027-03-01T04:00", "2027-02-28", "2027-03-01T04:00:00Z"}},
		},
		{
			name: "invalid schedule has none",
			c:    cron("@daily"), loc: sh,
			from: "2027-01-01T00:00:00Z", to: "2028-01-01T00:00:00Z",
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := simplify(tt.c.Occurrences(tt.loc, at(t, tt.from), at(t, tt.to)))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Occurrences (-want +got):\n%s", diff)
			}
		})
	}
}

// TestOccurrencesEveryHalfHour checks the DST days of a cron that fires
// every 30 minutes: each wall time once, none lost in the gap, none
// doubled in the overlap.
func TestOccurrencesEveryHalfHour(t *testing.T) {
	la := mustLoad(t, "America/Los_Angeles")
	c := campaigns.Campaign{Schedule: campaigns.Schedule{Cron: "*/30 * * * *"}}
	for _, day := range []struct {
		from, to string
		want     int
	}{
		{"2027-03-14T00:00:00-08:00", "2027-03-15T00:00:00-07:00", 48}, // 23 hours, but 48 wall times
		{"2027-11-07T00:00:00-07:00", "2027-11-08T00:00:00-08:00", 48}, // 25 hours, but 48 wall times
	} {
		got := c.Occurrences(la, at(t, day.from), at(t, day.to))
		if len(got) != day.want {
			t.Errorf("%s: %d occurrences, want %d", day.from, len(got), day.want)
		}
		seen := map[string]bool{}
		for _, o := range got {
			if seen[o.Label] {
				t.Errorf("%s: label %s twice", day.from, o.Label)
			}
			seen[o.Label] = true
		}
	}
}

// TestOccurrencesPartition checks that adjacent ranges split the
// occurrences of a longer one between them, without loss or repeat.
func TestOccurrencesPartition(t *testing.T) {
	la := mustLoad(t, "America/Los_Angeles")
	c := campaigns.Campaign{Schedule: campaigns.Schedule{Cron: "15 */5 * * *"}}
	start := at(t, "2027-03-01T00:00:00Z")
	end := at(t, "2027-12-01T00:00:00Z")
	all := c.Occurrences(la, start, end)
	var pieces []campaigns.Occurrence
	for from := start; from.Before(end); from = from.Add(7 * time.Hour) {
		to := from.Add(7 * time.Hour)
		if to.After(end) {
			to = end
		}
		pieces = append(pieces, c.Occurrences(la, from, to)...)
	}
	if diff := cmp.Diff(simplify(all), simplify(pieces)); diff != "" {
		t.Errorf("pieces differ from the whole (-whole +pieces):\n%s", diff)
	}
}

func TestOccurrenceOn(t *testing.T) {
	sh := mustLoad(t, "Asia/Shanghai")
	la := mustLoad(t, "America/Los_Angeles")
	tests := []struct {
		name   string
		c      campaigns.Campaign
		loc    *time.Location
		date   string
		want   occ
		wantOK bool
	}{
		{
			name: "daily cron",
			c:    campaigns.Campaign{Schedule: campaigns.Schedule{Cron: "0 10 * * *"}},
			loc:  sh, date: "2027-02-28",
			want: occ{"2027-02-28", "2027-02-28", "2027-02-28T02:00:00Z"}, wantOK: true,
		},
		{
			name: "first firing of a cron with several",
			c:    campaigns.Campaign{Schedule: campaigns.Schedule{Cron: "0 9,18 * * *"}},
			loc:  sh, date: "2027-02-28",
			want: occ{"2027-02-28T09:00", "2027-02-28", "2027-02-28T01:00:00Z"}, wantOK: true,
		},
		{
			name: "weekday cron on a Sunday",
			c:    campaigns.Campaign{Schedule: campaigns.Schedule{Cron: "0 10 * * 1-5"}},
			loc:  sh, date: "2027-02-28",
		},
		{
			name: "LocalSendTime",
			c:    campaigns.Campaign{Schedule: campaigns.Schedule{Cron: "0 0 * * *"}, LocalSendTime: "23:59"},
			loc:  la, date: "2027-02-28",
			want: occ{"2027-02-28", "2027-02-28", "2027-03-01T07:59:00Z"}, wantOK: true,
		},
		{
			name: "send_at date on its date",
			c:    campaigns.Campaign{Schedule: campaigns.Schedule{SendAt: "2027-02-28"}},
			loc:  la, date: "2027-02-28",
			want: occ{"2027-02-28", "2027-02-28", "2027-02-28T18:00:00Z"}, wantOK: true,
		},
		{
			name: "send_at date on another date",
			c:    campaigns.Campaign{Schedule: campaigns.Schedule{SendAt: "2027-02-28"}},
			loc:  la, date: "2027-03-01",
		},
		{
			name: "send_at instant on its local date",
			c:    campaigns.Campaign{Schedule: campaigns.Schedule{SendAt: "2027-03-01T02:00:00Z"}},
			loc:  la, date: "2027-02-28",
			want: occ{"2027-03-01T02:00", "2027-02-28", "2027-03-01T02:00:00Z"}, wantOK: true,
		},
		{
			name: "send_at instant on its UTC date elsewhere",
			c:    campaigns.Campaign{Schedule: campaigns.Schedule{SendAt: "2027-03-01T02:00:00Z"}},
			loc:  la, date: "2027-03-01",
		},
		{
			name: "bad date",
			c:    campaigns.Campaign{Schedule: campaigns.Schedule{Cron: "0 10 * * *"}},
			loc:  sh, date: "2027-02-29",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, ok := tt.c.OccurrenceOn(tt.loc, tt.date)
			if ok != tt.wantOK {
				t.Fatalf("OccurrenceOn ok = %v, want %v (%+v)", ok, tt.wantOK, o)
			}
			if !ok {
				return
			}
			if diff := cmp.Diff(tt.want, simplify([]campaigns.Occurrence{o})[0]); diff != "" {
				t.Errorf("OccurrenceOn (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunOccurrence(t *testing.T) {
	la := mustLoad(t, "America/Los_Angeles")
	c := campaigns.Campaign{Schedule: campaigns.Schedule{Cron: "0 10 * * 1"}}
	now := at(t, "2027-03-01T05:00:00Z") // Feb 28, 21:00 in Los Angeles
	tests := []struct {
		date string
		want campaigns.Occurrence
	}{
		{"2027-02-27", campaigns.Occurrence{Label: "2027-02-27", Date: "2027-02-27", Due: now}},
		{"", campaigns.Occurrence{Label: "2027-02-28", Date: "2027-02-28", Due: now}},
	}
	for _, tt := range tests {
		if got := c.RunOccurrence(la, tt.date, now); got != tt.want {
			t.Errorf("RunOccurrence(%q) = %+v, want %+v", tt.date, got, tt.want)
		}
	}
}
