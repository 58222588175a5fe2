package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The console page tests: a merchandiser signs in to /console, creates a
// birthday campaign with a 满减 offer, sees the API's field errors next to
// the fields, previews it, activates and runs it and reads its results; an
// admin reads the policies and decisions. Screenshots of each step go to
// the screenshot folder (see screenshot), at phone and desktop widths.

const e2eMerch = "e2e-merch-key-0123456789abcdef"

// startConsoleHeed starts heed with a merchandiser key besides the admin and
// storefront keys of startHeed (a later HEED_API_KEYS wins).
func startConsoleHeed(t *testing.T) *heedProc {
	t.Helper()
	return startHeed(t, t.TempDir(),
		"HEED_API_KEYS=admin="+e2eAdmin+",storefront="+e2eStore+",merchandiser="+e2eMerch)
}

// consoleErrors collects the errors a tab writes to its console (uncaught
// exceptions, Content-Security-Policy violations, console.error), leaving
// out the network log's lines about 4xx answers, which the page expects.
type consoleErrors struct {
	mu   sync.Mutex
	msgs []string
}

// watchConsoleErrors starts collecting the errors of the tab of ctx.
func watchConsoleErrors(ctx context.Context) *consoleErrors {
	pe := &consoleErrors{}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if (m.Type == chromedp.ConsoleError || m.IsException()) && m.Source != "network" {
				pe.mu.Lock()
				pe.msgs = append(pe.msgs, m.String())
				pe.mu.Unlock()
			}
		}
	}()
	return pe
}

// check fails t for each error collected so far.
func (pe *consoleErrors) check(t *testing.T) {
	t.Helper()
	pe.mu.Lock()
	defer pe.mu.Unlock()
	for _, m := range pe.msgs {
		t.Errorf("page console: %s", m)
	}
}

// consoleSel is a CSS selector.
func consoleSel(sel string) chromedp.CSS { return chromedp.CSS(sel) }

// consoleChoose picks value in a select (or sets any input) and fires
// change, as a person choosing it would.
func consoleChoose(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(
		`(() => { const el = document.querySelector(%q); el.value = %q; el.dispatchEvent(new Event('change', {bubbles: true})); })()`, sel, value))
}

// consoleRetype replaces the text of an input by typing value
// (chromedp.Clear resets only the value attribute, not what was typed).
func consoleRetype(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).value = ''`, sel)),
		chromedp.SendKeys(consoleSel(sel), value))
}

// consoleWaitText waits until the text of sel is want.
func consoleWaitText(sel, want string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](fmt.Sprintf(
		`document.querySelector(%q)?.textContent.trim() === %q`, sel, want),
		chromedp.WithPollingTimeout(15*time.Second))
}

// consoleText is the text of sel.
func consoleText(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return strings.TrimSpace(get(t, ctx, "text of "+sel, chromedp.TextContent(consoleSel(sel))))
}

// consoleVisible reports whether sel is rendered.
func consoleVisible(t *testing.T, ctx context.Context, sel string) bool {
	t.Helper()
	return get(t, ctx, "is "+sel+" visible", chromedp.Evaluate[bool](fmt.Sprintf(
		`(() => { const el = document.querySelector(%q); return !!el && el.offsetParent !== null; })()`, sel)))
}

// consoleUnlabelled lists the page's controls that have no accessible
// name: no <label>, aria-label or aria-labelledby, and for a button no text.
func consoleUnlabelled(t *testing.T, ctx context.Context) []string {
	t.Helper()
	return get(t, ctx, "controls without a label", chromedp.Evaluate[[]string](`(() => {
		const bad = [];
		for (const el of document.querySelectorAll('input, select, textarea, button')) {
			if (el.type === 'hidden') continue;
			const byLabel = Array.from(el.labels || []).map((l) => l.textContent).join('').trim();
			const byAria = (el.getAttribute('aria-label') || '').trim() ||
				(el.getAttribute('aria-labelledby') || '').split(/\s+/).map((id) => document.getElementById(id)?.textContent || '').join('').trim();
			const byText = el.tagName === 'BUTTON' ? el.textContent.trim() : '';
			if (!byLabel && !byAria && !byText) bad.push(el.id || el.outerHTML.slice(0, 80));
		}
		return bad;
	})()`))
}

// seedConsoleBirthdays creates shoppers for a birthday campaign on birthday
// (MM-DD): ann (push marketing granted) and bob (no consent) have their
// birthday then, cho another day; and an item to buy.
func seedConsoleBirthdays(t *testing.T, p *heedProc, birthday string) {
	t.Helper()
	p.call(t, "PUT", "/v1/items", `{"items":[{"id":"cake-1","title":"生日蛋糕","category":"food","price":399,"in_stock":true}]}`, 200, nil)
	for _, u := range []struct{ id, birthday string }{{"ann", birthday}, {"bob", birthday}, {"cho", "12-31"}} {
		p.call(t, "PUT", "/v1/users/"+u.id, fmt.Sprintf(`{"time_zone":"Asia/Shanghai","locale":"zh-CN","birthday":%q,"name":%q}`, u.birthday, u.id), 200, nil)
	}
	p.call(t, "POST", "/v1/users/ann/consents", `{"records":[{"purpose":"marketing","channel":"push","status":"granted","notice_version":"2026-01","source":"app"}]}`, 201, nil)
}

func TestConsoleMerchandiser(t *testing.T) {
	for _, size := range []struct {
		name string
		w, h int
	}{{"phone", phoneWidth, phoneHeight}, {"desktop", desktopWidth, desktopHeight}} {
		t.Run(size.name, func(t *testing.T) {
			t.Parallel()
			consoleFlow(t, size.name, size.w, size.h)
		})
	}
}

// consoleFlow is the merchandiser's whole path through /console in a
// browser of the given size.
func consoleFlow(t *testing.T, size string, w, h int) {
	start := time.Now()
	p := startConsoleHeed(t)
	const date = "2027-03-15"
	seedConsoleBirthdays(t, p, "03-15")
	// A campaign that exists before anyone signs in: the page must not
	// show it without a key.
	p.adminCall(t, "POST", "/v1/campaigns", `{"name":"秋季会员日","kind":"vip","audience":{"min_tier":"gold"},
		"offer":{"type":"discount","percent_off":15},"channels":["email"],"schedule":{"cron":"0 10 * * 1"},
		"message":{"title":"{{.Offer}}","body":"{{.Name}}，{{.Offer}}"}}`, 201, nil)

	ctx := newBrowser(t, w, h)
	// Headless Chromium keeps windows at least 500 px wide: emulate the
	// phone's viewport.
	browse(t, ctx, "viewport", chromedp.EmulateViewport(int64(w), int64(h)))
	errs := watchConsoleErrors(ctx)
	shot := func(name string) { screenshot(t, ctx, "console-"+name+"-"+size) }

	// Without a key: the sign-in form and nothing else.
	browse(t, ctx, "open /console", chromedp.Navigate(p.base+"/console"), chromedp.WaitVisible(consoleSel("#signin-key")))
	if html := get(t, ctx, "page", chromedp.OuterHTML(consoleSel("html"))); strings.Contains(html, "秋季会员日") {
		t.Error("the page shows a campaign before sign-in")
	}
	for _, sel := range []string{"#view-list", "#c-nav", "#signout", "#view-detail"} {
		if consoleVisible(t, ctx, sel) {
			t.Errorf("%s is visible before sign-in", sel)
		}
	}
	if lbl := consoleText(t, ctx, `label[for="signin-key"]`); lbl == "" {
		t.Error("the key field has no label")
	}
	shot("signin")

	// A storefront key is refused.
	browse(t, ctx, "sign in with the storefront key",
		chromedp.SendKeys(consoleSel("#signin-key"), e2eStore), chromedp.Click(consoleSel("#signin-submit")),
		chromedp.WaitVisible(consoleSel("#signin-error")))
	if msg := consoleText(t, ctx, "#signin-error"); !strings.Contains(msg, "不能使用控制台") {
		t.Errorf("storefront key: error %q", msg)
	}
	if consoleVisible(t, ctx, "#view-list") {
		t.Error("the storefront key opened the console")
	}

	// The merchandiser signs in, with the keyboard, and sees the campaigns.
	browse(t, ctx, "sign in",
		chromedp.SendKeys(consoleSel("#signin-key"), e2eMerch+"\r"),
		chromedp.WaitVisible(consoleSel("#list-table")))
	// The focus is on the list's heading; Tab reaches the first control
	// after it, with a visible focus ring.
	browse(t, ctx, "tab", chromedp.KeyEvent("\t"))
	focus := get(t, ctx, "focus", chromedp.Evaluate[[]string](`[document.activeElement.id,
		getComputedStyle(document.activeElement).outlineStyle, getComputedStyle(document.activeElement).outlineWidth]`))
	if focus[0] != "list-new" || focus[1] == "none" || focus[2] == "0px" {
		t.Errorf("after Tab: focus on %q, outline %s %s; want list-new with an outline", focus[0], focus[1], focus[2])
	}
	if role := consoleText(t, ctx, "#c-role"); !strings.Contains(role, "商品运营") {
		t.Errorf("role shown: %q", role)
	}
	if list := consoleText(t, ctx, "#list-body"); !strings.Contains(list, "秋季会员日") {
		t.Errorf("the list lacks the campaign: %q", list)
	}
	if consoleVisible(t, ctx, "#nav-admin") {
		t.Error("a merchandiser sees the admin view's link")
	}
	shot("list")

	// Create a birthday campaign with a 满减 offer: first with an amount
	// off that is not below the spend and a bad cron.
	browse(t, ctx, "fill the campaign form",
		chromedp.Click(consoleSel("#list-new")), chromedp.WaitVisible(consoleSel("#f-name")),
		chromedp.SendKeys(consoleSel("#f-name"), "生日满减"),
		consoleChoose("#f-kind", "birthday"),
		consoleChoose("#f-offer-type", "threshold"),
		chromedp.WaitVisible(consoleSel("#f-spend")),
		chromedp.SendKeys(consoleSel("#f-spend"), "300"),
		chromedp.SendKeys(consoleSel("#f-amount"), "300"),
		chromedp.SendKeys(consoleSel("#f-code"), "BDAY"),
		chromedp.Click(consoleSel("#f-ch-push")),
		consoleRetype("#f-cron", "0 25 * * *"),
		chromedp.SendKeys(consoleSel("#f-title"), "生日快乐，{{.Name}}"),
		chromedp.SendKeys(consoleSel("#f-body"), "送你{{.Offer}}，券码 {{.Code}}"),
		chromedp.Click(consoleSel("#f-submit")),
		chromedp.WaitVisible(consoleSel(`[data-field="offer.amount_off"] .c-field-error`)))
	if msg := consoleText(t, ctx, `[data-field="offer.amount_off"] .c-field-error`); !strings.Contains(msg, "less than spend") {
		t.Errorf("amount_off error: %q", msg)
	}
	if msg := consoleText(t, ctx, `[data-field="schedule.cron"] .c-field-error`); msg == "" {
		t.Error("no error next to the cron")
	}
	if inv := get(t, ctx, "aria-invalid", chromedp.AttributeValue(consoleSel("#f-amount"), "aria-invalid")); inv.Value != "true" {
		t.Errorf("#f-amount aria-invalid = %q", inv.Value)
	}
	if !consoleVisible(t, ctx, "#form-summary") {
		t.Error("no error summary")
	}
	if bad := consoleUnlabelled(t, ctx); len(bad) > 0 {
		t.Errorf("controls without a label: %v", bad)
	}
	shot("form-error")

	// Fix both and save: the campaign's page.
	browse(t, ctx, "fix and save",
		consoleRetype("#f-amount", "50"),
		consoleRetype("#f-cron", "0 10 * * *"),
		chromedp.Click(consoleSel("#f-submit")),
		chromedp.WaitVisible(consoleSel("#view-detail")), consoleWaitText("#d-name", "生日满减"))
	if st := consoleText(t, ctx, "#d-status"); st != "草稿" {
		t.Errorf("status %q, want 草稿", st)
	}
	if facts := consoleText(t, ctx, "#d-facts"); !strings.Contains(facts, "满300减50") {
		t.Errorf("facts: %q", facts)
	}

	// Edit: the form comes back filled in; the change is saved (PUT with
	// If-Match).
	browse(t, ctx, "edit", chromedp.Click(consoleSel("#d-edit")), consoleWaitText("#form-h", "编辑活动：生日满减"))
	for sel, want := range map[string]string{"#f-kind": "birthday", "#f-offer-type": "threshold", "#f-spend": "300",
		"#f-amount": "50", "#f-code": "BDAY", "#f-cron": "0 10 * * *"} {
		if got := get(t, ctx, "value of "+sel, chromedp.Value(consoleSel(sel))); got != want {
			t.Errorf("edit form: %s = %q, want %q", sel, got, want)
		}
	}
	if !get(t, ctx, "push ticked", chromedp.Evaluate[bool](`document.querySelector('#f-ch-push').checked`)) {
		t.Error("edit form: push is not ticked")
	}
	browse(t, ctx, "save the edit",
		consoleRetype("#f-name", "生日满减 300-50"), chromedp.Click(consoleSel("#f-submit")),
		consoleWaitText("#d-name", "生日满减 300-50"))

	// Preview on the shoppers' birthday: ann would get it, bob has no consent.
	browse(t, ctx, "preview",
		chromedp.SetValue(consoleSel("#pv-date"), date), chromedp.Click(consoleSel("#pv-submit")),
		chromedp.WaitVisible(consoleSel("#pv-audience")))
	if a, e := consoleText(t, ctx, "#pv-audience"), consoleText(t, ctx, "#pv-eligible"); a != "2" || e != "1" {
		t.Errorf("preview audience %s, eligible %s; want 2, 1", a, e)
	}
	if n := consoleText(t, ctx, `#pv-suppressed-table tr[data-reason="no_consent"] td`); n != "1" {
		t.Errorf("preview no_consent = %q, want 1", n)
	}
	shot("preview")

	// Activate, then run now for that date: the results show the send.
	browse(t, ctx, "activate",
		chromedp.Click(consoleSel("#d-activate")), consoleWaitText("#d-status", "进行中"), chromedp.WaitVisible(consoleSel("#d-pause")))
	ran := time.Now()
	browse(t, ctx, "run now",
		chromedp.SetValue(consoleSel("#run-date"), date), chromedp.Click(consoleSel("#run-submit")),
		consoleWaitText("#st-sent", "1"))
	t.Logf("%s: the run's send showed after %v", size, time.Since(ran).Round(time.Millisecond))
	// ann redeems the code: a conversion with its revenue.
	p.call(t, "POST", "/v1/events", fmt.Sprintf(`{"events":[{"type":"purchase","user_id":"ann","order_id":"o-1","offer_code":"BDAY",
		"items":[{"item_id":"cake-1","quantity":1,"price":399}],"touchpoint":"app","occurred_at":%q}]}`,
		time.Now().UTC().Format(time.RFC3339Nano)), 200, nil)
	browse(t, ctx, "refresh the results",
		chromedp.Click(consoleSel("#st-refresh")), consoleWaitText("#st-conversions", "1"),
		chromedp.WaitVisible(consoleSel("#st-chart svg rect.c-bar-sent")),
		chromedp.WaitVisible(consoleSel(`#dl-body tr[data-status="sent"]`)))
	if rev := consoleText(t, ctx, "#st-revenue"); !strings.Contains(rev, "399") {
		t.Errorf("revenue %q", rev)
	}
	if n := consoleText(t, ctx, `#st-suppressed-table tr[data-reason="no_consent"] td`); n != "1" {
		t.Errorf("stats no_consent = %q, want 1", n)
	}
	if row := consoleText(t, ctx, `#st-channels tr[data-channel="push"]`); !strings.Contains(row, "1") {
		t.Errorf("by channel push: %q", row)
	}
	if bad := consoleUnlabelled(t, ctx); len(bad) > 0 {
		t.Errorf("controls without a label: %v", bad)
	}
	shot("stats")

	// Pause; the language switch; sign out.
	browse(t, ctx, "pause", chromedp.Click(consoleSel("#d-pause")), consoleWaitText("#d-status", "已暂停"))
	browse(t, ctx, "switch to English",
		chromedp.Click(consoleSel("#lang-toggle")), consoleWaitText("#st-h", "Results"), consoleWaitText("#d-status", "Paused"))
	if l := get(t, ctx, "lang", chromedp.Evaluate[string](`document.documentElement.lang`)); l != "en" {
		t.Errorf("html lang %q after the switch", l)
	}
	shot("stats-en")
	browse(t, ctx, "back to Chinese", chromedp.Click(consoleSel("#lang-toggle")), consoleWaitText("#st-h", "效果"))
	browse(t, ctx, "sign out", chromedp.Click(consoleSel("#signout")), chromedp.WaitVisible(consoleSel("#signin-key")))
	if consoleVisible(t, ctx, "#view-detail") || consoleVisible(t, ctx, "#view-list") {
		t.Error("data still shown after sign-out")
	}
	code := get(t, ctx, "session after sign-out", chromedp.Evaluate[int](`fetch('/v1/session').then(r => r.status)`, chromedp.EvalAwaitPromise))
	if code != 401 {
		t.Errorf("GET /v1/session after sign-out = %d, want 401", code)
	}
	errs.check(t)
	t.Logf("%s: %v", size, time.Since(start).Round(time.Millisecond))
}

// TestConsoleAdmin: an admin also reads the active policies and recent
// decisions, read only.
func TestConsoleAdmin(t *testing.T) {
	p := startConsoleHeed(t)
	ctx := newBrowser(t, desktopWidth, desktopHeight)
	errs := watchConsoleErrors(ctx)
	browse(t, ctx, "sign in as admin",
		chromedp.Navigate(p.base+"/console"), chromedp.WaitVisible(consoleSel("#signin-key")),
		chromedp.SendKeys(consoleSel("#signin-key"), e2eAdmin), chromedp.Click(consoleSel("#signin-submit")),
		chromedp.WaitVisible(consoleSel("#nav-admin")),
		chromedp.Click(consoleSel("#nav-admin")),
		chromedp.WaitVisible(consoleSel("#pol-result details")),
		chromedp.Poll[chromedp.Void](`document.querySelector('#dec-table, #dec-na, #dec-result p') !== null`))
	if pol := consoleText(t, ctx, "#pol-result"); !strings.Contains(pol, "authz") {
		t.Errorf("policies: %q", pol)
	}
	if consoleVisible(t, ctx, "#dec-na") {
		t.Log("GET /v1/decisions is not served: the page says so")
	} else if !consoleVisible(t, ctx, "#dec-table") {
		t.Errorf("decisions: %q", consoleText(t, ctx, "#dec-result"))
	}
	if n := get(t, ctx, "edit controls", chromedp.Evaluate[int](`document.querySelectorAll('#view-admin textarea, #view-admin input, #view-admin select').length`)); n != 0 {
		t.Errorf("the admin view has %d edit controls; it is read only", n)
	}
	screenshot(t, ctx, "console-admin-desktop")
	errs.check(t)
}
