package smtp

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"heed/scheduler"
)

const (
	maxHeaderLine = 78  // RFC 5322's SHOULD; lines are folded at spaces to fit
	maxURLLen     = 900 // keeps List-Unsubscribe under RFC 5322's 998 limit
	maxKeyLen     = 200 // longer idempotency keys go into the Message-ID hashed
)

// compose returns m as an RFC 5322 message with CRLF line ends, from from
// to to, dated date.
func compose(m scheduler.Message, from, to *mail.Address, date time.Time) ([]byte, error) {
	if m.IdempotencyKey == "" {
		return nil, errors.New("smtp: message has no idempotency key")
	}
	unsub, err := unsubscribeURL(m.UnsubscribeURL)
	if err != nil {
		return nil, err
	}

	body := crlf(m.Body)
	cte := "base64"
	if mostlyASCII(body) {
		cte = "quoted-printable"
	}

	var b bytes.Buffer
	header := func(name, value string) {
		b.WriteString(fold(name + ": " + value))
		b.WriteString("\r\n")
	}
	header("From", from.String())
	header("To", to.String())
	header("Subject", encodeWords(oneLine(m.Title)))
	header("Date", date.Format(time.RFC1123Z))
	header("Message-ID", messageID(m.IdempotencyKey))
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", cte)
	header("List-Unsubscribe", "<"+unsub+">")
	header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
	header("Heed-Idempotency-Key", headerSafe(m.IdempotencyKey))
	b.WriteString("\r\n")

	// The message must end in a line break, which must not add one to the
	// body: base64 ignores it, and in quoted-printable a body that ends
	// without one ends in a soft line break.
	if cte == "quoted-printable" {
		w := quotedprintable.NewWriter(&b)
		w.Write([]byte(body))
		w.Close()
		if !strings.HasSuffix(body, "\r\n") {
			b.WriteString("=\r\n")
		}
	} else {
		enc := base64.StdEncoding.EncodeToString([]byte(body))
		for len(enc) > 76 {
			b.WriteString(enc[:76])
			b.WriteString("\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc)
		b.WriteString("\r\n")
	}
	return b.Bytes(), nil
}

// messageID returns the Message-ID of the message for idempotency key key,
// "<key@heed>" with key's bytes outside [A-Za-z0-9_+-] written as =XX: the
// same key always yields the same ID, and different keys different IDs.
// Keys longer than 200 bytes are hashed instead.
func messageID(key string) string {
	if len(key) > maxKeyLen {
		sum := sha256.Sum256([]byte(key))
		return "<sha256-" + hex.EncodeToString(sum[:]) + "@heed>"
	}
	var b strings.Builder
	b.WriteString("<")
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '+':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "=%02X", c)
		}
	}
	b.WriteString("@heed>")
	return b.String()
}

// unsubscribeURL checks that u is an absolute http(s) URL that fits in a
// List-Unsubscribe header, and returns it.
func unsubscribeURL(u string) (string, error) {
	if u == "" {
		return "", errors.New("smtp: message has no unsubscribe URL")
	}
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
		return "", errors.New("smtp: unsubscribe URL is not an absolute http(s) URL")
	}
	if len(u) > maxURLLen {
		return "", errors.New("smtp: unsubscribe URL is too long")
	}
	for i := 0; i < len(u); i++ {
		if c := u[i]; c <= ' ' || c >= 0x7f || c == '<' || c == '>' {
			return "", errors.New("smtp: unsubscribe URL has characters a header cannot carry")
		}
	}
	return u, nil
}

// encodeWords returns s as a header value, RFC 2047-encoded if it is not
// printable ASCII: B encoding for mostly non-ASCII text such as Chinese,
// which it keeps shorter, Q encoding otherwise, which keeps it readable.
func encodeWords(s string) string {
	if mostlyASCII(s) {
		return mime.QEncoding.Encode("utf-8", s)
	}
	return mime.BEncoding.Encode("utf-8", s)
}

// headerSafe returns s if it is printable ASCII, and else s with '=' and
// every byte that is not printable ASCII written as =XX.
func headerSafe(s string) string {
	printable := true
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] >= 0x7f {
			printable = false
			break
		}
	}
	if printable {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c >= 0x7f || c == '=' {
			fmt.Fprintf(&b, "=%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// fold folds a header line at spaces so that its lines stay within
// maxHeaderLine where it can; encoded words carry no spaces, so they are
// never split.
func fold(line string) string {
	if len(line) <= maxHeaderLine {
		return line
	}
	var b strings.Builder
	n := 0 // length of the current line
	for i, word := range strings.Split(line, " ") {
		// i > 1: never between the field's name and its first word.
		if i > 1 && n+1+len(word) > maxHeaderLine {
			b.WriteString("\r\n")
			n = 0
		}
		if i > 0 {
			b.WriteByte(' ')
			n++
		}
		b.WriteString(word)
		n += len(word)
	}
	return b.String()
}

// oneLine replaces each run of line breaks and tabs in a title with a
// space: a header holds one line.
func oneLine(s string) string {
	return strings.TrimSpace(strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		switch r {
		case '\r', '\n', '\t', '\v', '\f', '\u2028', '\u2029', '\u0085':
			return true
		}
		return false
	}), " "))
}

// crlf returns s with every line break as CRLF.
func crlf(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.ReplaceAll(s, "\n", "\r\n")
}

// mostlyASCII reports whether at most a third of s's bytes are non-ASCII.
func mostlyASCII(s string) bool {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			n++
		}
	}
	return n*3 <= len(s)
}
