package campaigns_test

import (
	"errors"
	"strings"
	"testing"

	"heed/campaigns"
	"heed/engine"
)

func TestRenderPicksTemplate(t *testing.T) {
	c := campaigns.Campaign{
		Name: "春季",
		Message: campaigns.Message{
			Title: "default {{.Offer}}",
			Body:  "默认 {{.Name}}",
			Locales: map[string]campaigns.Template{
				"en":    {Title: "en {{.Offer}}", Body: "Hi {{.Name}}"},
				"en-GB": {Title: "en-GB", Body: "Hello {{.Name}}"},
				"zh-CN": {Title: "zh-CN", Body: "你好 {{.Name}}"},
				"fr-CA": {Title: "fr-CA", Body: "Bonjour"},
				"fr-BE": {Title: "fr-BE", Body: "Bonjour"},
			},
		},
	}
	d := campaigns.MessageData{Name: "Ann", Offer: "15% off"}
	tests := []struct {
		name, locale, title, body string
	}{
		{"exact tag", "en-GB", "en-GB", "Hello Ann"},
		{"exact tag ignoring case", "EN-gb", "en-GB", "Hello Ann"},
		{"exact language key", "en", "en 15% off", "Hi Ann"},
		{"language key for a regional tag", "en-US", "en 15% off", "Hi Ann"},
		{"language key before a longer exact-ish tag", "en-GB-oxendict", "en 15% off", "Hi Ann"},
		{"any key of the language", "zh-TW", "zh-CN", "你好 Ann"},
		{"any key of the language for a bare language", "zh", "zh-CN", "你好 Ann"},
		{"any key of the language: first in order", "fr-FR", "fr-BE", "Bonjour"},
		{"underscore tolerated", "zh_CN", "zh-CN", "你好 Ann"},
		{"other language: default", "de-DE", "default 15% off", "默认 Ann"},
		{"no locale: default", "", "default 15% off", "默认 Ann"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			title, body, err := c.Render(tt.locale, d)
			if err != nil {
				t.Fatal(err)
			}
			if title != tt.title || body != tt.body {
				t.Errorf("Render(%q) = %q, %q; want %q, %q", tt.locale, title, body, tt.title, tt.body)
			}
		})
	}
}

func TestRenderData(t *testing.T) {
	c := campaigns.Campaign{Message: campaigns.Message{
		Title: "{{.Campaign}}: {{.Offer}}",
		Body: "{{if .Name}}{{.Name}}，{{end}}用码 {{.Code}}，{{.ValidUntil}} 前有效。\n" +
			"{{range .Items}}- {{.Title}} {{.Price}}\n{{end}}退订: {{.UnsubscribeURL}}",
	}}
	d := campaigns.MessageData{
		Campaign: "春季", Offer: "满300减50", Code: "SPRING", ValidUntil: "2027-03-08",
		Items:          []campaigns.MessageItem{{ID: "a", Title: "茶", Price: "¥30"}, {ID: "b", Title: "杯", Price: "¥12.5"}},
		UnsubscribeURL: "https://heed.example/u/x",
	}
	title, body, err := c.Render("zh-CN", d)
	if err != nil {
		t.Fatal(err)
	}
	wantBody := "用码 SPRING，2027-03-08 前有效。\n- 茶 ¥30\n- 杯 ¥12.5\n退订: https://heed.example/u/x"
	if title != "春季: 满300减50" || body != wantBody {
		t.Errorf("Render = %q, %q; want %q, %q", title, body, "春季: 满300减50", wantBody)
	}
}

func TestRenderErrors(t *testing.T) {
	tests := []struct {
		name    string
		m       campaigns.Message
		locale  string
		wantErr []string // substrings
	}{
		{
			name:    "unknown field in the default body",
			m:       campaigns.Message{Title: "t", Body: "Hi {{.Foo}}"},
			wantErr: []string{"message.body: ", "line 1, column 5", "unknown field Foo", ".Name, .Campaign"},
		},
		{
			name:    "unknown item field in a locale's title",
			m:       campaigns.Message{Title: "t", Body: "b", Locales: map[string]campaigns.Template{"en": {Title: "{{range .Items}}{{.Colour}}{{end}}", Body: "b"}}},
			locale:  "en-US",
			wantErr: []string{"message.locales.en.title: ", "unknown field Colour", ".ID, .Title, .Price"},
		},
		{
			name:    "parse error",
			m:       campaigns.Message{Title: "{{.Name", Body: "b"},
			wantErr: []string{"message.title: line 1: unclosed action"},
		},
		{
			name:    "index out of range at send time",
			m:       campaigns.Message{Title: "t", Body: "{{(index .Items 1).Title}}"},
			wantErr: []string{"message.body: ", "index out of range"},
		},
	}
	d := campaigns.MessageData{Items: []campaigns.MessageItem{{ID: "a"}}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := campaigns.Campaign{Message: tt.m}.Render(tt.locale, d)
			if err == nil {
				t.Fatal("Render succeeded")
			}
			for _, s := range tt.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
			if strings.Contains(err.Error(), "template: ") || strings.Contains(err.Error(), "campaigns.MessageData") {
				t.Errorf("error %q shows text/template internals", err)
			}
		})
	}
}

// TestRenderBounded checks the templates that could run without bound are
// refused before they run.
func TestRenderBounded(t *testing.T) {
	tests := []struct {
		name, body, wantErr string
	}{
		{"range over a number", "{{range 2000000000}}{{end}}", "can only range over a field"},
		{"range over a variable", "{{$n := 2000000000}}{{range $n}}{{end}}", "can only range over a field"},
		{"range nested three deep", "{{range .Items}}{{range $.Items}}{{range $.Items}}{{end}}{{end}}{{end}}", "nested more than 2 deep"},
		{"range nested in else", "{{range .Items}}{{else}}{{range .Items}}{{range $.Items}}{{range $.Items}}{{end}}{{end}}{{end}}{{end}}", "nested more than 2 deep"},
		{"define", `{{define "x"}}{{template "x"}}{{end}}`, "not supported"},
		{"block", `{{block "x" .}}a{{end}}`, "not supported"},
		{"template", `{{template "x"}}`, "{{template}} is not supported"},
		{"huge output", "{{range .Items}}{{range $.Items}}" + strings.Repeat("x", 1000) + "{{end}}{{end}}", "renders more than"},
	}
	items := make([]campaigns.MessageItem, 300)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := campaigns.Campaign{Message: campaigns.Message{Title: "t", Body: tt.body}}
			_, _, err := c.Render("", campaigns.MessageData{Items: items})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Render error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
	// Nesting two deep over a field is fine.
	c := campaigns.Campaign{Message: campaigns.Message{Title: "t", Body: "{{range $i, $it := .Items}}{{range $.Items}}.{{end}}{{end}}"}}
	if _, body, err := c.Render("", campaigns.MessageData{Items: items[:3]}); err != nil || body != "........." {
		t.Errorf("Render = %q, %v; want 9 dots", body, err)
	}
}

func TestSampleData(t *testing.T) {
	c := campaigns.Campaign{
		Name:     "春季",
		TimeZone: "Asia/Shanghai",
		Offer:    campaigns.Offer{Type: campaigns.OfferThreshold, Spend: 300, AmountOff: 50, Code: "SPRING", ValidDays: 7},
	}
	d := c.SampleData()
	if d.Campaign != "春季" || d.Offer != "满300减50" || d.Code != "SPRING" || d.ValidUntil == "" || len(d.Items) == 0 || d.UnsubscribeURL == "" {
		t.Errorf("SampleData = %+v", d)
	}
	c.Offer.ValidDays = 0
	if d := c.SampleData(); d.ValidUntil != "" {
		t.Errorf("SampleData().ValidUntil = %q without valid_days", d.ValidUntil)
	}
}

// TestValidateMessage checks that validation renders every template
// against sample data and reports failures by field.
func TestValidateMessage(t *testing.T) {
	m := campaigns.Message{
		Title: "{{.Offer}}",
		Body:  "Hi {{.Foo}}",
		Locales: map[string]campaigns.Template{
			"en":    {Title: "{{.Offer}}", Body: "{{range .Items}}{{.Title}}{{end}}"},
			"zh-CN": {Title: "{{.Nope}}", Body: ""},
			"bad!":  {Title: "t", Body: "b"},
		},
	}
	c := validCampaign()
	c.Message = m
	got := problemsOf(t, c.Validate(testNow))
	want := map[string]string{
		"message.body":                "unknown field Foo",
		"message.locales.bad!":        "not a language tag",
		"message.locales.zh-CN.title": "unknown field Nope",
		"message.locales.zh-CN.body":  "is required",
	}
	if len(got) != len(want) {
		t.Errorf("problems = %v, want fields %v", got, want)
	}
	for field, msg := range want {
		if !strings.Contains(got[field], msg) {
			t.Errorf("problem for %s = %q, want one containing %q", field, got[field], msg)
		}
	}
}

// problemsOf returns err's field problems as a map from field to message.
func problemsOf(tb testing.TB, err error) map[string]string {
	tb.Helper()
	if err == nil {
		return nil
	}
	var v *engine.ValidationError
	if !errors.As(err, &v) {
		tb.Fatalf("error %v is not a *engine.ValidationError", err)
	}
	if !errors.Is(err, engine.ErrInvalid) {
		tb.Errorf("errors.Is(%v, engine.ErrInvalid) = false", err)
	}
	out := map[string]string{}
	for _, p := range v.Problems {
		out[p.Field] = p.Message
	}
	return out
}
