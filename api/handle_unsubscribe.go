package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/gin-gonic/gin/binding"

	"heed/engine"
)

// unsubscriber follows one-click unsubscribe links; engine.Service
// satisfies it.
type unsubscriber interface {
	UnsubscribeInfo(token string) (engine.Channel, error)
	Unsubscribe(ctx context.Context, token string) (engine.ConsentRecord, error)
}

// errBadLink answers every unsubscribe link that cannot be followed, a
// forged one and one whose user was erased alike: the answer does not say
// which.
var errBadLink = fmt.Errorf("this unsubscribe link is not valid (%w)", engine.ErrNotFound)

// unsubscribeResult is the JSON answer of a followed unsubscribe link.
type unsubscribeResult struct {
	Withdrawn bool           `json:"withdrawn"`
	Channel   engine.Channel `json:"channel,omitempty"` // empty: every channel
}

// handleUnsubscribePage shows the page that offers to withdraw marketing:
// GET /unsubscribe/:token. It changes nothing, so that link scanners and
// prefetching mail clients cannot unsubscribe anyone.
func handleUnsubscribePage(s unsubscriber) gin.HandlerFunc {
	return func(c *gin.Context) {
		ch, err := s.UnsubscribeInfo(c.Param("token"))
		if err != nil {
			fail(c, linkError(err))
			return
		}
		writePage(c, unsubscribeForm, "退订营销消息 · Unsubscribe", ch)
	}
}

// handleUnsubscribe withdraws marketing on the link's channel, acting as
// the shopper the link was sent to: POST /unsubscribe/:token (RFC 8058
// one-click; the body, List-Unsubscribe=One-Click, is not needed). It
// answers a confirmation page, or JSON to a client that accepts only JSON.
func handleUnsubscribe(s unsubscriber) gin.HandlerFunc {
	return func(c *gin.Context) {
		r, err := s.Unsubscribe(c.Request.Context(), c.Param("token"))
		if err != nil {
			fail(c, linkError(err))
			return
		}
		if c.NegotiateFormat(binding.MIMEHTML, binding.MIMEJSON) == binding.MIMEJSON {
			c.Header("Cache-Control", "no-store")
			c.JSON(http.StatusOK, unsubscribeResult{Withdrawn: true, Channel: r.Channel})
			return
		}
		writePage(c, unsubscribeDone, "已退订 · Unsubscribed", r.Channel)
	}
}

// linkError hides why a link cannot be followed.
func linkError(err error) error {
	if errors.Is(err, engine.ErrBadToken) || errors.Is(err, engine.ErrNotFound) {
		return errBadLink
	}
	return err
}

// channelNames names each channel in the pages' two languages.
var channelNames = map[engine.Channel][2]string{
	engine.ChannelEmail: {"电子邮件", "email"},
	engine.ChannelSMS:   {"短信", "text message (SMS)"},
	engine.ChannelPush:  {"推送通知", "push notification"},
	engine.ChannelInApp: {"应用内消息", "in-app message"},
	"":                  {"任何渠道", "any channel"},
}

// pageData is what the unsubscribe pages show.
type pageData struct{ Title, Zh, En string }

// writePage answers a small self-contained HTML page: no scripts, no
// external assets, nothing cached, no referrer leaking the link's token.
func writePage(c *gin.Context, t *template.Template, title string, ch engine.Channel) {
	names, ok := channelNames[ch]
	if !ok {
		names = [2]string{string(ch), string(ch)}
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, pageData{Title: title, Zh: names[0], En: names[1]}); err != nil {
		fail(c, fmt.Errorf("unsubscribe page: %w", err))
		return
	}
	h := c.Writer.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Robots-Tag", "noindex")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	c.Data(http.StatusOK, "text/html; charset=utf-8", buf.Bytes())
}

const pageHead = `<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{.Title}}</title>
<style>
body{margin:0;font-family:-apple-system,"PingFang SC","Microsoft YaHei","Helvetica Neue",Arial,sans-serif;background:#f5f5f7;color:#1d1d1f}
main{max-width:32rem;margin:4rem auto;padding:2rem;background:#fff;border-radius:12px;box-shadow:0 1px 4px rgba(0,0,0,.08)}
h1{font-size:1.4rem;margin:0 0 1rem}
h1 span,p.en{display:block;color:#555;font-weight:normal}
h1 span{font-size:1rem;margin-top:.25rem}
button{font-size:1rem;padding:.7rem 1.4rem;border:0;border-radius:8px;background:#1d1d1f;color:#fff;cursor:pointer}
</style>
</head>
<body>
<main>
`

const pageFoot = `</main>
</body>
</html>
`

var unsubscribeForm = template.Must(template.New("form").Parse(pageHead + `<h1>退订营销消息<span lang="en">Unsubscribe from marketing messages</span></h1>
<p>点击下方按钮后，我们将不再通过{{.Zh}}向您发送营销消息。</p>
<p class="en" lang="en">Press the button and we will stop sending you marketing messages by {{.En}}.</p>
<form method="post">
<input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">退订 · Unsubscribe</button>
</form>
` + pageFoot))

var unsubscribeDone = template.Must(template.New("done").Parse(pageHead + `<h1>您已退订<span lang="en">You are unsubscribed</span></h1>
<p>我们将不再通过{{.Zh}}向您发送营销消息。</p>
<p class="en" lang="en">We will no longer send you marketing messages by {{.En}}.</p>
` + pageFoot))
