package campaigns_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"heed/campaigns"
	"heed/engine"
)

var testNow = time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)

// validCampaign returns a campaign that passes Validate(testNow).
func validCampaign() campaigns.Campaign {
	return campaigns.Campaign{
		Name:     "春季会员日",
		Kind:     campaigns.KindSegment,
		Offer:    campaigns.Offer{Type: campaigns.OfferDiscount, PercentOff: 15, Code: "SPRING_15", ValidDays: 7},
		Channels: []engine.Channel{engine.ChannelPush, engine.ChannelEmail},
		Schedule: campaigns.Schedule{Cron: "0 10 * * *"},
		Message:  campaigns.Message{Title: "{{.Offer}}", Body: "{{.Name}}，{{.Campaign}}：{{.Offer}}"},
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(c *campaigns.Campaign)
		fields []string // the fields with problems, in order; nil: valid
	}{
		{"valid", func(c *campaigns.Campaign) {}, nil},
		{"valid with everything", func(c *campaigns.Campaign) {
			c.Kind = campaigns.KindVIP
			c.Status = campaigns.StatusActive
			c.Audience = campaigns.Audience{Regions: []string{"310000"}, MinTier: "gold", Categories: []string{"tea"}, Touchpoints: []engine.Touchpoint{engine.TouchpointApp}}
			c.Touchpoint = engine.TouchpointApp
			c.LocalSendTime = "23:59"
			c.TimeZone = "Asia/Shanghai"
			c.WindowHours = 168
			c.Cap = engine.CampaignCap{Max: 1000, Per: engine.PerWeek}
			c.AttributionDays = 90
			c.Message.Locales = map[string]campaigns.Template{"en": {Title: "{{.Offer}}", Body: "Hi"}, "zh-Hant-TW": {Title: "t", Body: "b\n\t多行"}}
		}, nil},
		{"empty", func(c *campaigns.Campaign) { *c = campaigns.Campaign{} },
			[]string{"name", "kind", "offer.type", "channels", "schedule", "message.title", "message.body"}},

		// name
		{"blank name", func(c *campaigns.Campaign) { c.Name = "  " }, []string{"name"}},
		{"long name", func(c *campaigns.Campaign) { c.Name = strings.Repeat("名", 201) }, []string{"name"}},
		{"200-character name", func(c *campaigns.Campaign) { c.Name = strings.Repeat("名", 200) }, nil},
		{"control character in name", func(c *campaigns.Campaign) { c.Name = "a\nb" }, []string{"name"}},
		{"unknown kind", func(c *campaigns.Campaign) { c.Kind = "loyal" }, []string{"kind"}},
		{"unknown status", func(c *campaigns.Campaign) { c.Status = "running" }, []string{"status"}},

		// offer
		{"percent over 100", func(c *campaigns.Campaign) { c.Offer.PercentOff = 150 }, []string{"offer.percent_off"}},
		{"percent 100", func(c *campaigns.Campaign) { c.Offer.PercentOff = 100 }, []string{"offer.percent_off"}},
		{"percent 0", func(c *campaigns.Campaign) { c.Offer.PercentOff = 0 }, []string{"offer.percent_off"}},
		{"percent negative", func(c *campaigns.Campaign) { c.Offer.PercentOff = -5 }, []string{"offer.percent_off"}},
		{"percent 99.5", func(c *campaigns.Campaign) { c.Offer.PercentOff = 99.5 }, nil},
		{"discount with spend", func(c *campaigns.Campaign) { c.Offer.Spend = 100 }, []string{"offer.spend"}},
		{"threshold", func(c *campaigns.Campaign) {
			c.Offer = campaigns.Offer{Type: campaigns.OfferThreshold, Spend: 300, AmountOff: 50}
		}, nil},
		{"threshold amount equals spend", func(c *campaigns.Campaign) {
			c.Offer = campaigns.Offer{Type: campaigns.OfferThreshold, Spend: 300, AmountOff: 300}
		}, []string{"offer.amount_off"}},
		{"threshold amount over spend", func(c *campaigns.Campaign) {
			c.Offer = campaigns.Offer{Type: campaigns.OfferThreshold, Spend: 300, AmountOff: 301}
		}, []string{"offer.amount_off"}},
		{"threshold without amounts", func(c *campaigns.Campaign) {
			c.Offer = campaigns.Offer{Type: campaigns.OfferThreshold}
		}, []string{"offer.spend", "offer.amount_off"}},
		{"threshold with percent", func(c *campaigns.Campaign) {
			c.Offer = campaigns.Offer{Type: campaigns.OfferThreshold, Spend: 300, AmountOff: 50, PercentOff: 10}
		}, []string{"offer.percent_off"}},
		{"points", func(c *campaigns.Campaign) { c.Offer = campaigns.Offer{Type: campaigns.OfferPoints, Points: 200} }, nil},
		{"points zero", func(c *campaigns.Campaign) { c.Offer = campaigns.Offer{Type: campaigns.OfferPoints} }, []string{"offer.points"}},
		{"percent on a points offer", func(c *campaigns.Campaign) {
			c.Offer = campaigns.Offer{Type: campaigns.OfferPoints, Points: 200, PercentOff: 15}
		}, []string{"offer.percent_off"}},
		{"free shipping with every amount", func(c *campaigns.Campaign) {
			c.Offer = campaigns.Offer{Type: campaigns.OfferFreeShipping, PercentOff: 1, Spend: 2, AmountOff: 1, Points: 3}
		}, []string{"offer.percent_off", "offer.spend", "offer.amount_off", "offer.points"}},
		{"unknown offer type", func(c *campaigns.Campaign) { c.Offer.Type = "bogo" }, []string{"offer.type"}},
		{"bad code", func(c *campaigns.Campaign) { c.Offer.Code = "SPRING 15" }, []string{"offer.code"}},
		{"long code", func(c *campaigns.Campaign) { c.Offer.Code = strings.Repeat("A", 65) }, []string{"offer.code"}},
		{"64-character code", func(c *campaigns.Campaign) { c.Offer.Code = strings.Repeat("A", 64) }, nil},
		{"valid_days too many", func(c *campaigns.Campaign) { c.Offer.ValidDays = 3651 }, []string{"offer.valid_days"}},
		{"valid_days negative", func(c *campaigns.Campaign) { c.Offer.ValidDays = -1 }, []string{"offer.valid_days"}},

		// audience
		{"vip without min tier", func(c *campaigns.Campaign) { c.Kind = campaigns.KindVIP }, []string{"audience.min_tier"}},
		{"vip with min tier none", func(c *campaigns.Campaign) {
			c.Kind = campaigns.KindVIP
			c.Audience.MinTier = "none"
		}, []string{"audience.min_tier"}},
		{"vip with min tier silver", func(c *campaigns.Campaign) {
			c.Kind = campaigns.KindVIP
			c.Audience.MinTier = "silver"
		}, nil},
		{"unknown min tier", func(c *campaigns.Campaign) { c.Audience.MinTier = "platinum" }, []string{"audience.min_tier"}},
		{"bad regions", func(c *campaigns.Campaign) {
			c.Audience.Regions = []string{"310000", "", strings.Repeat("x", 65), "a\tb"}
		}, []string{"audience.regions[1]", "audience.regions[2]", "audience.regions[3]"}},
		{"too many categories", func(c *campaigns.Campaign) { c.Audience.Categories = make([]string, 101) }, []string{"audience.categories"}},
		{"bad touchpoint", func(c *campaigns.Campaign) {
			c.Audience.Touchpoints = []engine.Touchpoint{engine.TouchpointWeb, "kiosk"}
		}, []string{"audience.touchpoints[1]"}},

		// channels
		{"unknown and duplicate channels", func(c *campaigns.Campaign) {
			c.Channels = []engine.Channel{engine.ChannelPush, "fax", engine.ChannelPush}
		}, []string{"channels[1]", "channels[2]"}},
		{"bad touchpoint", func(c *campaigns.Campaign) { c.Touchpoint = "kiosk" }, []string{"touchpoint"}},

		// schedule
		{"cron and send_at", func(c *campaigns.Campaign) { c.Schedule.SendAt = "2027-03-02" }, []string{"schedule"}},
		{"descriptor", func(c *campaigns.Campaign) { c.Schedule.Cron = "@daily" }, []string{"schedule.cron"}},
		{"TZ prefix", func(c *campaigns.Campaign) { c.Schedule.Cron = "TZ=Asia/Shanghai 0 10 * * *" }, []string{"schedule.cron"}},
		{"CRON_TZ prefix without fields", func(c *campaigns.Campaign) { c.Schedule.Cron = "CRON_TZ=UTC" }, []string{"schedule.cron"}},
		{"six fields", func(c *campaigns.Campaign) { c.Schedule.Cron = "0 0 10 * * *" }, []string{"schedule.cron"}},
		{"bad hour", func(c *campaigns.Campaign) { c.Schedule.Cron = "0 24 * * *" }, []string{"schedule.cron"}},
		{"never fires", func(c *campaigns.Campaign) { c.Schedule.Cron = "0 10 30 2 *" }, []string{"schedule.cron"}},
		{"names and ranges", func(c *campaigns.Campaign) { c.Schedule.Cron = "*/15 9-17 * jan-mar mon-fri" }, nil},
		{"send_at date", func(c *campaigns.Campaign) { c.Schedule = campaigns.Schedule{SendAt: "2027-03-02"} }, nil},
		{"send_at yesterday (still today somewhere)", func(c *campaigns.Campaign) { c.Schedule = campaigns.Schedule{SendAt: "2027-02-28"} }, nil},
		{"send_at two days ago", func(c *campaigns.Campaign) { c.Schedule = campaigns.Schedule{SendAt: "2027-02-27"} }, []string{"schedule.send_at"}},
		{"send_at Feb 29 in a common year", func(c *campaigns.Campaign) { c.Schedule = campaigns.Schedule{SendAt: "2027-02-29"} }, []string{"schedule.send_at"}},
		{"send_at Feb 29 in a leap year", func(c *campaigns.Campaign) { c.Schedule = campaigns.Schedule{SendAt: "2028-02-29"} }, nil},
		{"send_at Apr 31", func(c *campaigns.Campaign) { c.Schedule = campaigns.Schedule{SendAt: "2027-04-31"} }, []string{"schedule.send_at"}},
		{"send_at instant", func(c *campaigns.Campaign) { c.Schedule = campaigns.Schedule{SendAt: "2027-03-01T20:00:00+08:00"} }, nil},
		{"send_at instant in UTC", func(c *campaigns.Campaign) { c.Schedule = campaigns.Schedule{SendAt: "2027-03-01T12:00:00Z"} }, nil},
		{"send_at instant in the past", func(c *campaigns.Campaign) { c.Schedule = campaigns.Schedule{SendAt: "2027-03-01T19:59:59+08:00"} }, []string{"schedule.send_at"}},
		{"send_at instant without offset", func(c *campaigns.Campaign) { c.Schedule = campaigns.Schedule{SendAt: "2027-03-02T10:00:00"} }, []string{"schedule.send_at"}},
		{"send_at instant with local_send_time", func(c *campaigns.Campaign) {
			c.Schedule = campaigns.Schedule{SendAt: "2027-03-02T10:00:00Z"}
			c.LocalSendTime = "10:00"
		}, []string{"local_send_time"}},
		{"local_send_time 24:00", func(c *campaigns.Campaign) { c.LocalSendTime = "24:00" }, []string{"local_send_time"}},
		{"local_send_time 9:30", func(c *campaigns.Campaign) { c.LocalSendTime = "9:30" }, []string{"local_send_time"}},
		{"local_send_time 09:60", func(c *campaigns.Campaign) { c.LocalSendTime = "09:60" }, []string{"local_send_time"}},
		{"local_send_time 00:00", func(c *campaigns.Campaign) { c.LocalSendTime = "00:00" }, nil},
		{"bad time zone", func(c *campaigns.Campaign) { c.TimeZone = "Mars/Olympus" }, []string{"time_zone"}},
		{"Local is no time zone", func(c *campaigns.Campaign) { c.TimeZone = "Local" }, []string{"time_zone"}},
		{"window too long", func(c *campaigns.Campaign) { c.WindowHours = 169 }, []string{"window_hours"}},
		{"window negative", func(c *campaigns.Campaign) { c.WindowHours = -1 }, []string{"window_hours"}},

		// cap and attribution
		{"cap without per", func(c *campaigns.Campaign) { c.Cap = engine.CampaignCap{Max: 1} }, []string{"cap.per"}},
		{"per without max", func(c *campaigns.Campaign) { c.Cap = engine.CampaignCap{Per: engine.PerDay} }, []string{"cap.per"}},
		{"unknown per", func(c *campaigns.Campaign) { c.Cap = engine.CampaignCap{Max: 1, Per: "fortnight"} }, []string{"cap.per"}},
		{"cap too high", func(c *campaigns.Campaign) { c.Cap = engine.CampaignCap{Max: 1001, Per: engine.PerDay} }, []string{"cap.max_per_user"}},
		{"per campaign", func(c *campaigns.Campaign) { c.Cap = engine.CampaignCap{Max: 1, Per: engine.PerCampaign} }, nil},
		{"attribution too long", func(c *campaigns.Campaign) { c.AttributionDays = 91 }, []string{"attribution_days"}},

		// message
		{"long title", func(c *campaigns.Campaign) { c.Message.Title = strings.Repeat("字", 201) }, []string{"message.title"}},
		{"long body", func(c *campaigns.Campaign) { c.Message.Body = strings.Repeat("字", 2001) }, []string{"message.body"}},
		{"newline in title", func(c *campaigns.Campaign) { c.Message.Title = "a\nb" }, []string{"message.title"}},
		{"newlines in body", func(c *campaigns.Campaign) { c.Message.Body = "a\r\nb\tc" }, nil},
		{"NUL in body", func(c *campaigns.Campaign) { c.Message.Body = "a\x00b" }, []string{"message.body"}},
		{"unknown field", func(c *campaigns.Campaign) { c.Message.Body = "{{.Foo}}" }, []string{"message.body"}},
		{"bad template", func(c *campaigns.Campaign) { c.Message.Title = "{{if .Name}}" }, []string{"message.title"}},
		{"locale without body", func(c *campaigns.Campaign) {
			c.Message.Locales = map[string]campaigns.Template{"en": {Title: "t"}}
		}, []string{"message.locales.en.body"}},
		{"locale keys", func(c *campaigns.Campaign) {
			c.Message.Locales = map[string]campaigns.Template{"e": {Title: "t", Body: "b"}, "zh_CN": {Title: "t", Body: "b"}, "en-1": {Title: "t", Body: "b"}}
		}, []string{"message.locales.e", "message.locales.en-1", "message.locales.zh_CN"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validCampaign()
			tt.edit(&c)
			err := c.Validate(testNow)
			got := fieldsOf(t, err)
			if diff := cmp.Diff(tt.fields, got); diff != "" {
				t.Errorf("problem fields (-want +got):\n%s\nerror: %v", diff, err)
			}
		})
	}
}

// fieldsOf returns the fields of err's problems, in order.
func fieldsOf(tb testing.TB, err error) []string {
	tb.Helper()
	if err == nil {
		return nil
	}
	var v *engine.ValidationError
	if !errors.As(err, &v) {
		tb.Fatalf("error %v is not a *engine.ValidationError", err)
	}
	var out []string
	for _, p := range v.Problems {
		out = append(out, p.Field)
	}
	return out
}

func TestValidateMessages(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(c *campaigns.Campaign)
		field string
		want  string
	}{
		{"percent over 100", func(c *campaigns.Campaign) { c.Offer.PercentOff = 150 }, "offer.percent_off", "less than 100, got 150"},
		{"amount off at spend", func(c *campaigns.Campaign) {
			c.Offer = campaigns.Offer{Type: campaigns.OfferThreshold, Spend: 300, AmountOff: 300}
		}, "offer.amount_off", "less than spend (300)"},
		{"percent on points", func(c *campaigns.Campaign) {
			c.Offer = campaigns.Offer{Type: campaigns.OfferPoints, Points: 1, PercentOff: 5}
		}, "offer.percent_off", "does not apply to a points offer"},
		{"descriptor", func(c *campaigns.Campaign) { c.Schedule.Cron = "@daily" }, "schedule.cron", "descriptors such as @daily are not accepted"},
		{"TZ prefix", func(c *campaigns.Campaign) { c.Schedule.Cron = "CRON_TZ=Asia/Shanghai 0 10 * * *" }, "schedule.cron", "time zone prefix"},
		{"field count", func(c *campaigns.Campaign) { c.Schedule.Cron = "0 10 * *" }, "schedule.cron", "has 4 fields; want 5"},
		{"unknown field", func(c *campaigns.Campaign) { c.Message.Body = "Hi {{.Foo}}" }, "message.body", "line 1, column 5: {{.Foo}}: unknown field Foo; the fields are .Name"},
		{"past date", func(c *campaigns.Campaign) { c.Schedule = campaigns.Schedule{SendAt: "2026-12-31"} }, "schedule.send_at", "2026-12-31 is in the past"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validCampaign()
			tt.edit(&c)
			got := problemsOf(t, c.Validate(testNow))[tt.field]
			if !strings.Contains(got, tt.want) {
				t.Errorf("problem for %s = %q, want one containing %q", tt.field, got, tt.want)
			}
		})
	}
}

func TestCanTransition(t *testing.T) {
	statuses := []campaigns.Status{campaigns.StatusDraft, campaigns.StatusActive, campaigns.StatusPaused, campaigns.StatusEnded}
	allowed := map[[2]campaigns.Status]bool{
		{campaigns.StatusDraft, campaigns.StatusActive}:  true,
		{campaigns.StatusDraft, campaigns.StatusEnded}:   true,
		{campaigns.StatusActive, campaigns.StatusPaused}: true,
		{campaigns.StatusActive, campaigns.StatusEnded}:  true,
		{campaigns.StatusPaused, campaigns.StatusActive}: true,
		{campaigns.StatusPaused, campaigns.StatusEnded}:  true,
	}
	for _, from := range statuses {
		for _, to := range statuses {
			c := campaigns.Campaign{Status: from}
			if got, want := c.CanTransition(to), allowed[[2]campaigns.Status{from, to}]; got != want {
				t.Errorf("%s → %s: CanTransition = %v, want %v", from, to, got, want)
			}
		}
	}
}
