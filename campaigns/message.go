package campaigns

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"text/template"
	"text/template/parse"
	"time"
)

// Limits on what a message template may do, so that neither validation
// nor a send can be made to run away: templates are written by
// merchandisers and executed for every recipient.
const (
	maxOutput     = 64 << 10 // bytes of rendered text
	maxRangeDepth = 2        // nested {{range}}s
)

// Render renders c's message for a user of locale with d. The template is
// the locale's own (exact tag, compared without regard to case), else its
// language's ("zh-CN" uses "zh"), else any of the same language ("zh-TW"
// uses "zh-CN"), else the default Title and Body. A template that fails to
// parse or execute (an unknown field, say) is an error naming the field,
// like "message.locales.en.body: line 1, column 3: ...".
func (c Campaign) Render(locale string, d MessageData) (title, body string, err error) {
	path, t := c.Message.pick(locale)
	if title, err = executeTemplate(t.Title, d); err != nil {
		return "", "", fmt.Errorf("%s.title: %w", path, err)
	}
	if body, err = executeTemplate(t.Body, d); err != nil {
		return "", "", fmt.Errorf("%s.body: %w", path, err)
	}
	return title, body, nil
}

// SampleData returns data to check and preview c's message with: c's own
// name, offer (in Chinese) and code, a ValidUntil counted from c's last
// update when the offer has valid_days, a sample user name and
// unsubscribe URL, and one sample item (so templates that range over
// .Items are exercised).
func (c Campaign) SampleData() MessageData {
	var validUntil string
	if c.Offer.ValidDays > 0 {
		from := c.UpdatedAt
		if from.IsZero() {
			from = time.Date(2027, 1, 1, 10, 0, 0, 0, time.UTC) // any day will do for a sample
		}
		validUntil = c.Offer.ValidUntil(from, c.Location(""))
	}
	return MessageData{
		Name:           "李雷",
		Campaign:       c.Name,
		Offer:          c.Offer.Render(""),
		Code:           c.Offer.Code,
		ValidUntil:     validUntil,
		Items:          []MessageItem{{ID: "sample-1", Title: "示例商品", Price: "¥99"}},
		UnsubscribeURL: "https://example.com/u/sample",
	}
}

// pick chooses the template for locale and returns it with its JSON path.
func (m Message) pick(locale string) (path string, t Template) {
	if locale != "" && len(m.Locales) > 0 {
		keys := make([]string, 0, len(m.Locales))
		for k := range m.Locales {
			keys = append(keys, k)
		}
		slices.Sort(keys) // so "any of the same language" is always the same one
		lang := languageOf(locale)
		for _, match := range []func(k string) bool{
			func(k string) bool { return k == locale },
			func(k string) bool { return strings.EqualFold(k, locale) },
			func(k string) bool { return strings.EqualFold(k, lang) },
			func(k string) bool { return strings.EqualFold(languageOf(k), lang) },
		} {
			for _, k := range keys {
				if match(k) {
					return "message.locales." + k, m.Locales[k]
				}
			}
		}
	}
	return "message", Template{Title: m.Title, Body: m.Body}
}

// languageOf returns the language subtag of a locale: "zh" for "zh-CN".
func languageOf(locale string) string {
	lang, _, _ := strings.Cut(locale, "-")
	lang, _, _ = strings.Cut(lang, "_")
	return lang
}

// executeTemplate parses text as a template and executes it with d. Errors are
// rewritten to read well in an API response.
func executeTemplate(text string, d MessageData) (string, error) {
	t, err := template.New("t").Option("missingkey=error").Parse(text)
	if err != nil {
		return "", readableTemplateError(err)
	}
	if err := checkTemplateTree(t); err != nil {
		return "", err
	}
	var out limitedBuilder
	if err := t.Execute(&out, d); err != nil {
		var tooLong errTooLong
		if errors.As(err, &tooLong) {
			return "", tooLong
		}
		return "", readableTemplateError(err)
	}
	return out.String(), nil
}

// checkTemplateTree refuses what could make a template run without bound: its own
// {{define}}, {{block}} and {{template}} (which can recurse), ranging
// over anything but a field (a number ranges that many times), and
// ranges nested deeper than maxRangeDepth.
func checkTemplateTree(t *template.Template) error {
	if len(t.Templates()) > 1 {
		return errors.New("{{define}} and {{block}} are not supported")
	}
	if t.Tree == nil {
		return nil
	}
	var walk func(n parse.Node, depth int) error
	walk = func(n parse.Node, depth int) error {
		switch n := n.(type) {
		case *parse.ListNode:
			if n == nil {
				return nil
			}
			for _, c := range n.Nodes {
				if err := walk(c, depth); err != nil {
					return err
				}
			}
		case *parse.TemplateNode:
			return fmt.Errorf("line %d: {{template}} is not supported", templateLine(t, n))
		case *parse.RangeNode:
			if depth >= maxRangeDepth {
				return fmt.Errorf("line %d: {{range}} is nested more than %d deep", templateLine(t, n), maxRangeDepth)
			}
			if !rangesOverField(n.Pipe) {
				return fmt.Errorf("line %d: {{range}} can only range over a field, such as {{range .Items}}", templateLine(t, n))
			}
			if err := walk(n.List, depth+1); err != nil {
				return err
			}
			return walk(n.ElseList, depth)
		case *parse.IfNode:
			if err := walk(n.List, depth); err != nil {
				return err
			}
			return walk(n.ElseList, depth)
		case *parse.WithNode:
			if err := walk(n.List, depth); err != nil {
				return err
			}
			return walk(n.ElseList, depth)
		}
		return nil
	}
	return walk(t.Tree.Root, 0)
}

// rangesOverField reports whether a range pipeline is a single field
// reference: .Items, $.Items, $item.Tags.
func rangesOverField(p *parse.PipeNode) bool {
	if p == nil || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return false
	}
	switch a := p.Cmds[0].Args[0].(type) {
	case *parse.FieldNode:
		return true
	case *parse.VariableNode:
		return len(a.Ident) > 1 // $x.Field; a bare $x may hold a number
	}
	return false
}

// templateLine returns the line of t that n is on.
func templateLine(t *template.Template, n parse.Node) int {
	loc, _ := t.ErrorContext(n) // "t:LINE:COL"
	var ln int
	fmt.Sscanf(strings.TrimPrefix(loc, t.Name()+":"), "%d", &ln)
	return ln
}

// readableTemplateError rewrites a text/template error for a merchandiser:
//
//	template: t:1:3: executing "t" at <.Foo>: can't evaluate field Foo in type campaigns.MessageData
//
// becomes
//
//	line 1, column 3: {{.Foo}}: unknown field Foo; the fields are .Name, .Campaign, ...
func readableTemplateError(err error) error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "template: ")
	if rest, ok := strings.CutPrefix(msg, "t:"); ok {
		// "1: msg" (parse) or "1:3: msg" (execute).
		pos, tail, _ := strings.Cut(rest, ": ")
		ln, col, hasCol := strings.Cut(pos, ":")
		if hasCol {
			msg = "line " + ln + ", column " + col + ": " + tail
		} else {
			msg = "line " + ln + ": " + tail
		}
	}
	if before, after, ok := strings.Cut(msg, `executing "t" at <`); ok {
		if action, tail, ok := strings.Cut(after, ">: "); ok {
			msg = before + "{{" + action + "}}: " + tail
		}
	}
	for _, typ := range []reflect.Type{reflect.TypeFor[MessageData](), reflect.TypeFor[MessageItem]()} {
		marker := " in type " + typ.String()
		if before, after, ok := strings.Cut(msg, "can't evaluate field "); ok {
			if field, rest, ok := strings.Cut(after, marker); ok {
				what := "the fields are"
				if typ == reflect.TypeFor[MessageItem]() {
					what = "an item's fields are"
				}
				msg = before + "unknown field " + field + "; " + what + " " + fieldList(typ) + rest
			}
		}
	}
	return errors.New(msg)
}

// fieldList lists a struct's fields as a template names them.
func fieldList(t reflect.Type) string {
	var names []string
	for f := range t.Fields() {
		names = append(names, "."+f.Name)
	}
	return strings.Join(names, ", ")
}

// errTooLong stops a template whose output passes maxOutput.
type errTooLong struct{}

func (errTooLong) Error() string {
	return fmt.Sprintf("renders more than %d bytes", maxOutput)
}

// limitedBuilder is a strings.Builder that fails past maxOutput bytes.
type limitedBuilder struct{ strings.Builder }

func (b *limitedBuilder) Write(p []byte) (int, error) {
	if b.Len()+len(p) > maxOutput {
		return 0, errTooLong{}
	}
	return b.Builder.Write(p)
}
