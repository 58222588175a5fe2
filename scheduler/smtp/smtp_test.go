package smtp_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
	"github.com/google/go-cmp/cmp"

	"heed/engine"
	"heed/scheduler"
	"heed/scheduler/smtp"
)

var now = time.Date(2026, 2, 28, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))

const (
	shopper   = "xiaoming@example.com"
	chinese   = "会员专享：全场 85 折，仅限本周末！"
	chineseTx = "你好，小明：\n\n感谢你一直以来的支持。本周末全场 85 折，结账时输入 VIP15 即可。\n.\n祝购物愉快！"
)

func testMessage() scheduler.Message {
	return scheduler.Message{
		DeliveryID:     "dlv_1",
		IdempotencyKey: "cmp_1/2026-02-28/u_42",
		CampaignID:     "cmp_1",
		User:           engine.UserID("u_42"),
		Channel:        engine.ChannelEmail,
		To:             shopper,
		Offer:          json.RawMessage(`{"type":"discount","percent_off":15}`),
		Title:          chinese,
		Body:           chineseTx,
		UnsubscribeURL: "https://heed.example/v1/unsubscribe/tok_abc?c=email",
		SentAt:         now,
	}
}

// A received message, as the test relay saw it.
type received struct {
	hello string
	tls   bool
	from  string
	to    []string
	data  []byte
}

// relay is a go-smtp backend that keeps the messages it gets; mailErr,
// rcptErr and dataErr, when set, refuse those commands.
type relay struct {
	mu      sync.Mutex
	msgs    []received // guarded by mu
	mailErr error
	rcptErr error
	dataErr error
	user    string // if set, AUTH PLAIN with user and pass is offered
	pass    string
	hold    chan struct{} // if set, Data waits for it to close
	arrived chan struct{} // if set, closed when Data starts
}

func (r *relay) NewSession(c *gosmtp.Conn) (gosmtp.Session, error) {
	_, isTLS := c.TLSConnectionState()
	return &session{r: r, msg: received{hello: c.Hostname(), tls: isTLS}}, nil
}

func (r *relay) messages() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.msgs...)
}

type session struct {
	r    *relay
	msg  received
	auth bool
}

func (s *session) AuthMechanisms() []string {
	if s.r.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != s.r.user || pass != s.r.pass {
			return gosmtp.ErrAuthFailed
		}
		s.auth = true
		return nil
	}), nil
}

func (s *session) Mail(from string, opts *gosmtp.MailOptions) error {
	if s.r.user != "" && !s.auth {
		return gosmtp.ErrAuthRequired
	}
	if s.r.mailErr != nil {
		return s.r.mailErr
	}
	s.msg.from = from
	return nil
}

func (s *session) Rcpt(to string, opts *gosmtp.RcptOptions) error {
	if s.r.rcptErr != nil {
		return s.r.rcptErr
	}
	s.msg.to = append(s.msg.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if s.r.arrived != nil {
		close(s.r.arrived)
	}
	if s.r.hold != nil {
		<-s.r.hold
	}
	if s.r.dataErr != nil {
		return s.r.dataErr
	}
	s.msg.data = data
	s.r.mu.Lock()
	s.r.msgs = append(s.r.msgs, s.msg)
	s.r.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.msg.from, s.msg.to, s.msg.data = "", nil, nil }
func (s *session) Logout() error { return nil }

// startRelay runs a real SMTP server for r on an ephemeral loopback port,
// with STARTTLS if tlsConfig is set, and returns its address.
func startRelay(t *testing.T, r *relay, tlsConfig *tls.Config) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := gosmtp.NewServer(r)
	srv.Domain = "relay.test"
	srv.TLSConfig = tlsConfig
	srv.AllowInsecureAuth = tlsConfig == nil
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(l)
	}()
	t.Cleanup(func() {
		srv.Close()
		l.Close() // in case Close ran before Serve took the listener
		<-done
	})
	return l.Addr().String()
}

func newSender(addr string) *smtp.Sender {
	return smtp.New(smtp.Options{Addr: addr, From: "Heed 商城 <news@shop.example>", Hello: "sender.test",
		Now: func() time.Time { return now }})
}

// parse parses a received message and decodes its body.
func parse(t *testing.T, data []byte) (*mail.Message, string) {
	t.Helper()
	for i, line := range bytes.Split(data, []byte("\r\n")) {
		if len(line) > 998 {
			t.Errorf("line %d has %d bytes, more than RFC 5322 allows", i, len(line))
		}
		if bytes.Contains(line, []byte("\n")) {
			t.Errorf("line %d has a bare LF: %q", i, line)
		}
	}
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("ReadMessage: %v\n%s", err, data)
	}
	var body io.Reader
	switch cte := msg.Header.Get("Content-Transfer-Encoding"); cte {
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, msg.Body)
	case "quoted-printable":
		body = quotedprintable.NewReader(msg.Body)
	default:
		t.Fatalf("Content-Transfer-Encoding %q", cte)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatalf("decode body: %v", err)
	}
	return msg, strings.ReplaceAll(string(b), "\r\n", "\n")
}

func TestSend(t *testing.T) {
	r := &relay{}
	addr := startRelay(t, r, nil)
	m := testMessage()
	if err := newSender(addr).Send(t.Context(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	msgs := r.messages()
	if len(msgs) != 1 {
		t.Fatalf("relay got %d messages, want 1", len(msgs))
	}
	got := msgs[0]
	if got.from != "news@shop.example" || !cmp.Equal(got.to, []string{shopper}) {
		t.Errorf("envelope from %q to %q, want news@shop.example to %s", got.from, got.to, shopper)
	}
	if got.hello != "sender.test" {
		t.Errorf("EHLO %q, want sender.test", got.hello)
	}
	if got.tls {
		t.Errorf("TLS without STARTTLS on offer")
	}

	msg, body := parse(t, got.data)
	h := msg.Header
	dec := new(mime.WordDecoder)
	subject, err := dec.DecodeHeader(h.Get("Subject"))
	if err != nil || subject != chinese {
		t.Errorf("Subject %q decodes to %q (%v), want %q", h.Get("Subject"), subject, err, chinese)
	}
	if !isASCII(h.Get("Subject")) {
		t.Errorf("Subject is not RFC 2047-encoded: %q", h.Get("Subject"))
	}
	if body != chineseTx {
		t.Errorf("body = %q, want %q", body, chineseTx)
	}
	from, err := mail.ParseAddress(h.Get("From"))
	if err != nil || from.Name != "Heed 商城" || from.Address != "news@shop.example" {
		t.Errorf("From %q = %v (%v)", h.Get("From"), from, err)
	}
	to, err := h.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Address != shopper {
		t.Errorf("To %q = %v (%v)", h.Get("To"), to, err)
	}
	if date, err := h.Date(); err != nil || !date.Equal(now) {
		t.Errorf("Date %q = %v (%v), want %v", h.Get("Date"), date, err, now)
	}
	for name, want := range map[string]string{
		"Message-Id":            "<cmp_1=2F2026-02-28=2Fu_42@heed>",
		"Mime-Version":          "1.0",
		"Content-Type":          "text/plain; charset=utf-8",
		"List-Unsubscribe":      "<https://heed.example/v1/unsubscribe/tok_abc?c=email>",
		"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
		"Heed-Idempotency-Key":  "cmp_1/2026-02-28/u_42",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if mt, params, err := mime.ParseMediaType(h.Get("Content-Type")); err != nil || mt != "text/plain" || params["charset"] != "utf-8" {
		t.Errorf("Content-Type %q", h.Get("Content-Type"))
	}
}

func TestSendEncodings(t *testing.T) {
	tests := []struct {
		name, title, body string
		cte               string
	}{
		{name: "Chinese", title: chinese, body: chineseTx, cte: "base64"},
		{name: "ASCII", title: "Your 15% off = this weekend", body: "Hi Ming,\nSee you soon.\n", cte: "quoted-printable"},
		{name: "MostlyASCII", title: "Café Ming: 15% off",
			body: "Hello Ming,\r\nthe café is open. " + strings.Repeat("A long line without breaks. ", 20) + "\n\nBye  \n", cte: "quoted-printable"},
		{name: "LongChineseTitle", title: strings.Repeat(chinese, 6), body: strings.Repeat(chineseTx, 40), cte: "base64"},
		{name: "TitleWithNewline", title: "Line one\r\nBcc: victim@example.com", body: "x", cte: "quoted-printable"},
	}
	r := &relay{}
	addr := startRelay(t, r, nil)
	s := newSender(addr)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := testMessage()
			m.Title, m.Body = tt.title, tt.body
			if err := s.Send(t.Context(), m); err != nil {
				t.Fatalf("Send: %v", err)
			}
			msg, body := parse(t, r.messages()[i].data)
			subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
			if err != nil {
				t.Fatalf("decode Subject: %v", err)
			}
			if want := strings.Join(strings.Fields(tt.title), " "); strings.Join(strings.Fields(subject), " ") != want {
				t.Errorf("Subject = %q, want %q", subject, want)
			}
			if msg.Header.Get("Bcc") != "" {
				t.Errorf("the title injected a header: Bcc %q", msg.Header.Get("Bcc"))
			}
			want := strings.ReplaceAll(strings.ReplaceAll(tt.body, "\r\n", "\n"), "\r", "\n")
			if body != want {
				t.Errorf("body = %q, want %q", body, want)
			}
			if cte := msg.Header.Get("Content-Transfer-Encoding"); cte != tt.cte {
				t.Errorf("Content-Transfer-Encoding = %q, want %q", cte, tt.cte)
			}
		})
	}
}

func TestSendMessageIDStable(t *testing.T) {
	r := &relay{}
	addr := startRelay(t, r, nil)
	s := newSender(addr)
	m := testMessage()
	other := testMessage()
	other.IdempotencyKey = "cmp_1:2026-02-28:u_42"
	later := testMessage()
	later.SentAt = now.Add(time.Hour) // a retry is a new attempt, the same message
	for _, m := range []scheduler.Message{m, later, other} {
		if err := s.Send(t.Context(), m); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	var ids []string
	for _, got := range r.messages() {
		msg, _ := parse(t, got.data)
		ids = append(ids, msg.Header.Get("Message-ID"))
	}
	if ids[0] != ids[1] {
		t.Errorf("Message-IDs of one key differ: %q, %q", ids[0], ids[1])
	}
	if ids[0] == ids[2] {
		t.Errorf("keys %q and %q share the Message-ID %q", m.IdempotencyKey, other.IdempotencyKey, ids[0])
	}
	for _, id := range ids {
		if _, err := mail.ParseAddress(strings.Trim(id, "<>")); err != nil {
			t.Errorf("Message-ID %q is not addr-spec shaped: %v", id, err)
		}
	}
}

func TestSendClassification(t *testing.T) {
	refused := func(code int, enh gosmtp.EnhancedCode) error {
		return &gosmtp.SMTPError{Code: code, EnhancedCode: enh, Message: "<" + shopper + ">: mailbox says no"}
	}
	tests := []struct {
		name      string
		relay     *relay
		wantRetry bool
		wantCode  int
	}{
		{name: "Rcpt451", relay: &relay{rcptErr: refused(451, gosmtp.EnhancedCode{4, 7, 1})}, wantRetry: true, wantCode: 451},
		{name: "Mail421", relay: &relay{mailErr: refused(421, gosmtp.EnhancedCode{4, 3, 2})}, wantRetry: true, wantCode: 421},
		{name: "Data452", relay: &relay{dataErr: refused(452, gosmtp.EnhancedCode{4, 2, 2})}, wantRetry: true, wantCode: 452},
		{name: "Rcpt550", relay: &relay{rcptErr: refused(550, gosmtp.EnhancedCode{5, 1, 1})}, wantCode: 550},
		{name: "Data550", relay: &relay{dataErr: refused(550, gosmtp.EnhancedCode{5, 7, 1})}, wantCode: 550},
		{name: "Data554", relay: &relay{dataErr: refused(554, gosmtp.EnhancedCode{5, 6, 0})}, wantCode: 554},
		{name: "AuthFailed", relay: &relay{user: "heed", pass: "not this"}, wantCode: 535},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.relay
			addr := startRelay(t, r, nil)
			o := smtp.Options{Addr: addr, From: "news@shop.example"}
			if r.user != "" {
				o.Username, o.Password = "heed", "wrong"
			}
			err := smtp.New(o).Send(t.Context(), testMessage())
			if err == nil {
				t.Fatal("Send = nil, want an error")
			}
			if retry, _ := scheduler.Retryable(err); retry != tt.wantRetry {
				t.Errorf("Retryable(%v) = %t, want %t", err, retry, tt.wantRetry)
			}
			var re *smtp.ReplyError
			if !errors.As(err, &re) || re.Code != tt.wantCode {
				t.Errorf("Send = %v, want a *ReplyError with code %d", err, tt.wantCode)
			}
			assertNoPersonalData(t, err)
			if n := len(r.messages()); n != 0 {
				t.Errorf("relay kept %d messages", n)
			}
		})
	}
}

func assertNoPersonalData(t *testing.T, err error) {
	t.Helper()
	for _, s := range []string{shopper, "xiaoming", chinese, "小明", "tok_abc", "mailbox says no"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains %q", err, s)
		}
	}
}

func TestSendNetworkErrors(t *testing.T) {
	t.Run("ConnectionRefused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		err = newSender(addr).Send(t.Context(), testMessage())
		if retry, _ := scheduler.Retryable(err); !retry {
			t.Fatalf("Send = %v, want a RetryError", err)
		}
		assertNoPersonalData(t, err)
	})
	t.Run("HangUp", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Write([]byte("220 relay.test ESMTP\r\n"))
				c.Close()
			}
		}()
		err = newSender(l.Addr().String()).Send(t.Context(), testMessage())
		if retry, _ := scheduler.Retryable(err); !retry {
			t.Fatalf("Send = %v, want a RetryError", err)
		}
	})
	t.Run("ContextCanceled", func(t *testing.T) {
		r := &relay{hold: make(chan struct{}), arrived: make(chan struct{})}
		addr := startRelay(t, r, nil)
		t.Cleanup(func() { close(r.hold) }) // before the relay stops
		ctx, cancel := context.WithCancel(t.Context())
		go func() { <-r.arrived; cancel() }()
		start := time.Now()
		err := newSender(addr).Send(ctx, testMessage())
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Send = %v, want context.Canceled", err)
		}
		if retry, _ := scheduler.Retryable(err); !retry {
			t.Errorf("Send = %v, want a RetryError", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Send took %s after cancel", d)
		}
	})
	t.Run("ContextDoneBefore", func(t *testing.T) {
		r := &relay{}
		addr := startRelay(t, r, nil)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := newSender(addr).Send(ctx, testMessage())
		if retry, _ := scheduler.Retryable(err); !retry || !errors.Is(err, context.Canceled) {
			t.Errorf("Send = %v, want a RetryError wrapping context.Canceled", err)
		}
	})
}

func TestSendPermanentWithoutConnecting(t *testing.T) {
	tests := []struct {
		name string
		opts func(*smtp.Options)
		msg  func(*scheduler.Message)
	}{
		{name: "NoTo", msg: func(m *scheduler.Message) { m.To = "" }},
		{name: "BadTo", msg: func(m *scheduler.Message) { m.To = "xiaoming at example.com" }},
		{name: "ToInjection", msg: func(m *scheduler.Message) { m.To = shopper + ">\r\nRCPT TO:<x@example.com" }},
		{name: "NoUnsubscribeURL", msg: func(m *scheduler.Message) { m.UnsubscribeURL = "" }},
		{name: "RelativeUnsubscribeURL", msg: func(m *scheduler.Message) { m.UnsubscribeURL = "/v1/unsubscribe/tok_abc" }},
		{name: "UnsubscribeURLInjection", msg: func(m *scheduler.Message) { m.UnsubscribeURL = "https://heed.example/u>\r\nBcc: x" }},
		{name: "NoIdempotencyKey", msg: func(m *scheduler.Message) { m.IdempotencyKey = "" }},
		{name: "NoFrom", opts: func(o *smtp.Options) { o.From = "" }},
		{name: "BadAddr", opts: func(o *smtp.Options) { o.Addr = "relay.test" }},
		{name: "BadHello", opts: func(o *smtp.Options) { o.Hello = "a b" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &relay{}
			o := smtp.Options{Addr: startRelay(t, r, nil), From: "news@shop.example"}
			m := testMessage()
			if tt.opts != nil {
				tt.opts(&o)
			}
			if tt.msg != nil {
				tt.msg(&m)
			}
			err := smtp.New(o).Send(t.Context(), m)
			if err == nil {
				t.Fatal("Send = nil, want an error")
			}
			if retry, _ := scheduler.Retryable(err); retry {
				t.Errorf("Send = %v, want a permanent error", err)
			}
			assertNoPersonalData(t, err)
			if n := len(r.messages()); n != 0 {
				t.Errorf("relay got %d messages", n)
			}
		})
	}
}

func TestSendAuth(t *testing.T) {
	r := &relay{user: "heed", pass: "s3cret"}
	addr := startRelay(t, r, nil) // plain text, but on loopback
	s := smtp.New(smtp.Options{Addr: addr, From: "news@shop.example", Username: "heed", Password: "s3cret"})
	if err := s.Send(t.Context(), testMessage()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if n := len(r.messages()); n != 1 {
		t.Errorf("relay got %d messages, want 1", n)
	}
}

func TestSendSTARTTLS(t *testing.T) {
	serverTLS, roots := selfSigned(t)
	t.Run("Used", func(t *testing.T) {
		r := &relay{user: "heed", pass: "s3cret"}
		addr := startRelay(t, r, serverTLS) // offers AUTH only over TLS
		s := smtp.New(smtp.Options{Addr: addr, From: "news@shop.example", Hello: "sender.test",
			Username: "heed", Password: "s3cret", TLSConfig: &tls.Config{RootCAs: roots}})
		if err := s.Send(t.Context(), testMessage()); err != nil {
			t.Fatalf("Send: %v", err)
		}
		msgs := r.messages()
		if len(msgs) != 1 {
			t.Fatalf("relay got %d messages, want 1", len(msgs))
		}
		if !msgs[0].tls {
			t.Error("message was not sent over TLS")
		}
		if msgs[0].hello != "sender.test" {
			t.Errorf("EHLO over TLS %q, want sender.test", msgs[0].hello)
		}
		if _, body := parse(t, msgs[0].data); body != chineseTx {
			t.Errorf("body = %q", body)
		}
	})
	t.Run("UntrustedCertificate", func(t *testing.T) {
		r := &relay{}
		addr := startRelay(t, r, serverTLS)
		err := newSender(addr).Send(t.Context(), testMessage()) // system roots
		if err == nil {
			t.Fatal("Send over an untrusted certificate = nil, want an error")
		}
		if n := len(r.messages()); n != 0 {
			t.Errorf("relay got %d messages: fell back to plain text", n)
		}
	})
}

// selfSigned returns a server TLS config for 127.0.0.1 and a pool that
// trusts it.
func selfSigned(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "relay.test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}}, roots
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
