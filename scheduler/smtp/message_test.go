package smtp

import (
	"strings"
	"testing"
)

func TestMessageID(t *testing.T) {
	tests := []struct{ key, want string }{
		{"cmp_1/2026-02-28/u_42", "<cmp_1=2F2026-02-28=2Fu_42@heed>"},
		{"cmp_1:2026-02-28:u_42", "<cmp_1=3A2026-02-28=3Au_42@heed>"},
		{"a=2Fb", "<a=3D2Fb@heed>"}, // not the ID of "a/b"
		{"a/b", "<a=2Fb@heed>"},
		{"k é\r\n>", "<k=20=C3=A9=0D=0A=3E@heed>"},
	}
	for _, tt := range tests {
		if got := messageID(tt.key); got != tt.want {
			t.Errorf("messageID(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
	long := strings.Repeat("x", 201)
	got := messageID(long)
	if !strings.HasPrefix(got, "<sha256-") || len(got) > 100 || got != messageID(long) || got == messageID(long+"y") {
		t.Errorf("messageID of a long key = %q", got)
	}
}

func TestFold(t *testing.T) {
	long := "Subject: " + strings.Repeat("word ", 40) + "end"
	folded := fold(long)
	if strings.ReplaceAll(folded, "\r\n", "") != long {
		t.Errorf("fold(%q) = %q: unfolds to something else", long, folded)
	}
	for _, line := range strings.Split(folded, "\r\n") {
		if len(line) > maxHeaderLine {
			t.Errorf("folded line %q is longer than %d", line, maxHeaderLine)
		}
	}
	if got := fold("Subject: " + strings.Repeat("x", 100)); strings.Contains(got, "\r\n") {
		t.Errorf("fold broke after the field name: %q", got)
	}
	if got := fold("Subject: short"); got != "Subject: short" {
		t.Errorf("fold(short) = %q", got)
	}
}

func TestEnhancedCode(t *testing.T) {
	for msg, want := range map[string]string{
		"5.1.1 <x@example.com>: no such user": "5.1.1",
		"4.7.1 try later":                     "4.7.1",
		"try later":                           "",
		"5.1 nope":                            "",
		"5.x.1 nope":                          "",
		"":                                    "",
	} {
		if got := enhancedCode(msg); got != want {
			t.Errorf("enhancedCode(%q) = %q, want %q", msg, got, want)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "127.0.0.1": true, "127.1.2.3": true, "::1": true,
		"smtp.example.com": false, "10.0.0.1": false, "localhost.example.com": false,
	} {
		if got := isLoopback(host); got != want {
			t.Errorf("isLoopback(%q) = %t, want %t", host, got, want)
		}
	}
}

func TestHasExtension(t *testing.T) {
	ehlo := "relay.test greets sender.test\nPIPELINING\nSTARTTLS\nAUTH PLAIN LOGIN\nSIZE 1000"
	for ext, want := range map[string]bool{"STARTTLS": true, "starttls": true, "AUTH": true, "SMTPUTF8": false, "relay.test": false} {
		if got := hasExtension(ehlo, ext); got != want {
			t.Errorf("hasExtension(%q) = %t, want %t", ext, got, want)
		}
	}
	if hasExtension("", "STARTTLS") {
		t.Error("hasExtension of an empty reply = true")
	}
}
