// Package smtp delivers campaign messages as email through an SMTP relay,
// one connection and one attempt per Send; the caller schedules retries.
//
// Each message is plain text in UTF-8 and carries RFC 8058 one-click
// unsubscribe headers (List-Unsubscribe, List-Unsubscribe-Post). Mailbox
// providers honour them only on DKIM-signed mail whose signature covers
// both headers: signing is the relay's job. The Message-ID is derived from
// the delivery's idempotency key, so a message sent again after a crash
// carries the same Message-ID as the first.
package smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/textproto"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"heed/scheduler"
)

// Options configure a Sender. Addr and From must be set.
type Options struct {
	Addr string // the relay, host:port
	From string // the sender, "Shop <news@shop.example>" or "news@shop.example"
	// Username and Password, if Username is set, authenticate with PLAIN,
	// which Send does only over TLS or to a loopback relay.
	Username, Password string
	// TLSConfig is used for STARTTLS; nil: the system's roots, and the
	// server name from Addr.
	TLSConfig *tls.Config
	Now       func() time.Time // nil: time.Now
	Hello     string           // the name given in EHLO; empty: "localhost"
}

const (
	dialTimeout    = 30 * time.Second
	commandTimeout = time.Minute
	// submissionTimeout bounds the wait for the relay's answer to the
	// message itself; it is long because a relay may check the message
	// before it answers, and a timeout there may send the message twice.
	submissionTimeout = 5 * time.Minute
)

// A Sender sends messages through one SMTP relay. It is safe for concurrent
// use: each Send opens its own connection.
type Sender struct {
	opts Options
}

var _ scheduler.Sender = (*Sender)(nil)

// New returns a Sender for o.
func New(o Options) *Sender {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Hello == "" {
		o.Hello = "localhost"
	}
	return &Sender{opts: o}
}

// A ReplyError reports an SMTP reply that refused a command. Its text
// gives the command and the codes only: a relay's reply text often quotes
// the recipient's address.
type ReplyError struct {
	Command  string // "RCPT TO", "DATA", ...
	Code     int    // 451, 550, ...
	Enhanced string // RFC 3463 code, "5.1.1"; empty if the relay gave none
}

func (e *ReplyError) Error() string {
	s := fmt.Sprintf("smtp: %s refused: %d", e.Command, e.Code)
	if e.Enhanced != "" {
		s += " " + e.Enhanced
	}
	return s
}

// Send delivers m to m.To.
//
// It uses STARTTLS whenever the relay offers it and otherwise sends in
// plain text; it sends credentials only over TLS or to a loopback relay.
//
// Send returns nil once the relay accepted the message; a
// *scheduler.RetryError wrapping a *ReplyError for a 4xx reply, and one
// wrapping the cause for a network error, a TLS failure or the end of ctx;
// and a permanent error for a 5xx reply (a *ReplyError), a message with no
// or an invalid recipient, or an unusable configuration. Errors never quote
// the message, the address or the relay's reply text.
func (s *Sender) Send(ctx context.Context, m scheduler.Message) error {
	from, err := mail.ParseAddress(s.opts.From)
	if s.opts.From == "" || err != nil {
		return errors.New("smtp: Options.From is not an address")
	}
	if m.To == "" {
		return errors.New("smtp: message has no recipient address")
	}
	to, err := mail.ParseAddress(m.To)
	if err != nil || strings.ContainsAny(to.Address, "\r\n") {
		return errors.New("smtp: recipient address is not valid")
	}
	to.Name = "" // only the address is ours to use
	if strings.ContainsAny(s.opts.Hello, " \t\r\n") {
		return errors.New("smtp: Options.Hello is not a host name")
	}
	host, _, err := net.SplitHostPort(s.opts.Addr)
	if err != nil {
		return errors.New("smtp: Options.Addr is not host:port")
	}
	date := m.SentAt
	if date.IsZero() {
		date = s.opts.Now()
	}
	msg, err := compose(m, from, to, date)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return &scheduler.RetryError{Err: fmt.Errorf("smtp: %w", err)}
	}

	d := net.Dialer{Timeout: dialTimeout}
	conn, err := d.DialContext(ctx, "tcp", s.opts.Addr)
	if err != nil {
		return failure(ctx, "connect", err)
	}
	defer conn.Close()
	// go-smtp takes no context, and sets its own deadlines on each command:
	// closing the connection is what stops it.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	c, secure, err := s.open(ctx, conn, host)
	if err != nil {
		return err
	}
	defer c.Close()

	if s.opts.Username != "" {
		if !secure && !isLoopback(host) {
			return errors.New("smtp: refusing to send credentials without TLS")
		}
		if !c.SupportsAuth(sasl.Plain) {
			return errors.New("smtp: relay does not offer AUTH PLAIN")
		}
		if err := c.Auth(sasl.NewPlainClient("", s.opts.Username, s.opts.Password)); err != nil {
			return failure(ctx, "AUTH", err)
		}
	}

	opts := &gosmtp.MailOptions{Size: int64(len(msg))}
	if !isASCII(from.Address) || !isASCII(to.Address) {
		if ok, _ := c.Extension("SMTPUTF8"); !ok {
			return errors.New("smtp: relay cannot take an internationalized address (no SMTPUTF8)")
		}
		opts.UTF8 = true
	}
	if err := c.Mail(from.Address, opts); err != nil {
		return failure(ctx, "MAIL FROM", err)
	}
	if err := c.Rcpt(to.Address, nil); err != nil {
		return failure(ctx, "RCPT TO", err)
	}
	w, err := c.Data()
	if err != nil {
		return failure(ctx, "DATA", err)
	}
	if _, err := w.Write(msg); err != nil {
		return failure(ctx, "DATA", err)
	}
	if err := w.Close(); err != nil {
		return failure(ctx, "DATA", err)
	}
	c.Quit() // the relay has the message: a failed goodbye changes nothing
	return nil
}

// open greets the relay, switches to TLS if the relay offers STARTTLS, and
// returns a go-smtp client that has said EHLO (over TLS, if secure).
//
// go-smtp starts TLS only in NewClientStartTLS, which greets the relay as
// "localhost" and fails outright if the relay does not offer STARTTLS. So
// open says EHLO, with Options.Hello, and STARTTLS itself, and hands the
// connection on with a copy of the greeting in front, which the client
// reads first; the client then says EHLO again, as RFC 3207 asks after
// STARTTLS and RFC 5321 allows at any time.
func (s *Sender) open(ctx context.Context, conn net.Conn, host string) (*gosmtp.Client, bool, error) {
	conn.SetDeadline(time.Now().Add(commandTimeout))
	tp := textproto.NewConn(conn) // not closed: that would close conn
	if _, _, err := tp.ReadResponse(220); err != nil {
		return nil, false, failure(ctx, "greeting", err)
	}
	exts, err := command(tp, 250, "EHLO %s", s.opts.Hello)
	var te *textproto.Error
	switch {
	case errors.As(err, &te) && (te.Code == 500 || te.Code == 502):
		// An old relay without EHLO, hence without STARTTLS; the client
		// falls back to HELO.
	case err != nil:
		return nil, false, failure(ctx, "EHLO", err)
	}

	secure := false
	if hasExtension(exts, "STARTTLS") {
		if _, err := command(tp, 220, "STARTTLS"); err != nil {
			return nil, false, failure(ctx, "STARTTLS", err)
		}
		if tp.R.Buffered() > 0 {
			// Plain text injected ahead of the TLS handshake.
			return nil, false, &scheduler.RetryError{Err: errors.New("smtp: STARTTLS: relay sent data before the TLS handshake")}
		}
		cfg := s.opts.TLSConfig.Clone()
		if cfg == nil {
			cfg = &tls.Config{}
		}
		if cfg.ServerName == "" {
			cfg.ServerName = host
		}
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, false, failure(ctx, "STARTTLS", err)
		}
		conn, secure = tc, true
	} else if tp.R.Buffered() > 0 {
		return nil, false, &scheduler.RetryError{Err: errors.New("smtp: EHLO: relay sent an unexpected reply")}
	}
	conn.SetDeadline(time.Time{})

	c := gosmtp.NewClient(&greeted{Conn: conn, greeting: strings.NewReader("220 " + host + " ESMTP\r\n")})
	c.CommandTimeout = commandTimeout
	c.SubmissionTimeout = submissionTimeout
	if err := c.Hello(s.opts.Hello); err != nil {
		c.Close()
		return nil, false, failure(ctx, "EHLO", err)
	}
	return c, secure, nil
}

// command sends one command and reads its reply, whose text it returns.
func command(tp *textproto.Conn, expect int, format string, args ...any) (string, error) {
	id, err := tp.Cmd(format, args...)
	if err != nil {
		return "", err
	}
	tp.StartResponse(id)
	defer tp.EndResponse(id)
	_, msg, err := tp.ReadResponse(expect)
	return msg, err
}

// hasExtension reports whether an EHLO reply's text lists ext.
func hasExtension(ehlo, ext string) bool {
	lines := strings.Split(ehlo, "\n")
	for _, line := range lines[min(1, len(lines)):] { // the first line is the greeting
		if f := strings.Fields(line); len(f) > 0 && strings.EqualFold(f[0], ext) {
			return true
		}
	}
	return false
}

// greeted is a connection whose relay greeting was read already; Read
// returns a copy of it first.
type greeted struct {
	net.Conn
	greeting *strings.Reader
}

func (g *greeted) Read(p []byte) (int, error) {
	if g.greeting.Len() > 0 {
		return g.greeting.Read(p)
	}
	return g.Conn.Read(p)
}

// failure classifies an error of command cmd: a 5xx reply is permanent,
// anything else (a 4xx reply, a network error, the end of ctx) is worth
// another attempt.
func failure(ctx context.Context, cmd string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return &scheduler.RetryError{Err: fmt.Errorf("smtp: %s: %w", cmd, ctxErr)}
	}
	var re *ReplyError
	var se *gosmtp.SMTPError
	var te *textproto.Error
	switch {
	case errors.As(err, &se):
		re = &ReplyError{Command: cmd, Code: se.Code}
		if c := se.EnhancedCode; c != (gosmtp.EnhancedCode{}) && c != gosmtp.NoEnhancedCode {
			re.Enhanced = fmt.Sprintf("%d.%d.%d", c[0], c[1], c[2])
		}
	case errors.As(err, &te):
		re = &ReplyError{Command: cmd, Code: te.Code, Enhanced: enhancedCode(te.Msg)}
	default:
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF // the relay hung up
		}
		return &scheduler.RetryError{Err: fmt.Errorf("smtp: %s: %w", cmd, err)}
	}
	if re.Code >= 500 && re.Code < 600 {
		return re
	}
	return &scheduler.RetryError{Err: re}
}

// enhancedCode returns the RFC 3463 code that starts a reply's text, if any.
func enhancedCode(msg string) string {
	code, _, _ := strings.Cut(msg, " ")
	parts := strings.Split(code, ".")
	if len(parts) != 3 {
		return ""
	}
	for _, p := range parts {
		if p == "" || len(p) > 3 || strings.Trim(p, "0123456789") != "" {
			return ""
		}
	}
	return code
}

// isLoopback reports whether host names this machine.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
