package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"heed/engine"
)

func mustLoadSecrets(tb testing.TB, dir string, cfg config) (secrets, bool) {
	tb.Helper()
	s, generated, err := loadSecrets(dir, cfg, rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return s, generated
}

func TestLoadSecretsFirstStartGeneratesThenKeeps(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // not there yet
	s, generated := mustLoadSecrets(t, dir, config{})
	if !generated {
		t.Fatal("first start: generated = false")
	}
	if s.Path != filepath.Join(dir, "secrets.json") {
		t.Errorf("Path = %s", s.Path)
	}
	var roles []engine.Role
	for _, k := range s.Keys {
		roles = append(roles, k.Role)
		prefix := "hk_" + string(k.Role) + "_"
		if !strings.HasPrefix(k.Key, prefix) || len(k.Key) != len(prefix)+43 { // 32 bytes, base64url
			t.Errorf("key for %s = %q, want %s + 43 characters", k.Role, k.Key, prefix)
		}
	}
	if diff := cmp.Diff(engine.KeyRoles, roles); diff != "" {
		t.Errorf("roles of the generated keys (-want +got):\n%s", diff)
	}
	for name, b := range map[string][]byte{"token": s.TokenSecret, "webhook": s.WebhookSecret, "proof": s.ProofKey} {
		if len(b) != 32 {
			t.Errorf("%s secret has %d bytes, want 32", name, len(b))
		}
	}
	if bytes.Equal(s.TokenSecret, s.ProofKey) {
		t.Error("token secret and proof key are equal")
	}
	fi, err := os.Stat(s.Path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".secrets.json.tmp-*")); len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}

	// Second start: the same secrets, nothing generated, file untouched.
	before, _ := os.ReadFile(s.Path)
	s2, generated := mustLoadSecrets(t, dir, config{})
	if generated {
		t.Error("second start: generated = true")
	}
	if diff := cmp.Diff(s, s2); diff != "" {
		t.Errorf("second start (-first +second):\n%s", diff)
	}
	after, _ := os.ReadFile(s.Path)
	if !bytes.Equal(before, after) {
		t.Error("second start rewrote the file")
	}
}

func TestLoadSecretsConfigKeysWin(t *testing.T) {
	dir := t.TempDir()
	stored, _ := mustLoadSecrets(t, dir, config{})
	given := []apiKey{{engine.RoleAdmin, "an-admin-key-of-enough-length"}}
	s, generated := mustLoadSecrets(t, dir, config{Keys: given})
	if generated {
		t.Error("generated = true with HEED_API_KEYS set")
	}
	if diff := cmp.Diff(given, s.Keys); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	if !bytes.Equal(s.ProofKey, stored.ProofKey) || !bytes.Equal(s.TokenSecret, stored.TokenSecret) {
		t.Error("secrets changed")
	}
}

func TestLoadSecretsNoKeysGeneratedWhenGiven(t *testing.T) {
	dir := t.TempDir()
	given := []apiKey{{engine.RoleStorefront, "a-storefront-key-long-enough"}}
	s, generated := mustLoadSecrets(t, dir, config{Keys: given, WebhookSecret: "the-operators-webhook-secret"})
	if generated {
		t.Error("generated = true with keys given")
	}
	if string(s.WebhookSecret) != "the-operators-webhook-secret" {
		t.Errorf("webhook secret = %q, want HEED_WEBHOOK_SECRET's", s.WebhookSecret)
	}
	var st storedSecrets
	b, _ := os.ReadFile(s.Path)
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if len(st.APIKeys) != 0 || st.WebhookSecret != "" {
		t.Errorf("stored %v keys and webhook secret %q; want neither", st.APIKeys, st.WebhookSecret)
	}
	if strings.Contains(string(b), "a-storefront-key") || strings.Contains(string(b), "the-operators") {
		t.Error("given secrets were written to the file")
	}

	// Later without HEED_API_KEYS: keys are generated and shown then.
	s2, generated := mustLoadSecrets(t, dir, config{})
	if !generated || len(s2.Keys) != len(engine.KeyRoles) {
		t.Errorf("generated = %t, %d keys; want true, %d", generated, len(s2.Keys), len(engine.KeyRoles))
	}
	if !bytes.Equal(s2.ProofKey, s.ProofKey) {
		t.Error("proof key changed")
	}
}

func TestLoadSecretsDamagedFileIsKept(t *testing.T) {
	for name, content := range map[string]string{
		"NotJSON":     "{not json",
		"Version":     `{"version": 9}`,
		"BadBase64":   `{"version": 1, "token_secret": "!!!", "erasure_proof_key": "` + strings.Repeat("A", 43) + `", "webhook_secret": "` + strings.Repeat("A", 43) + `"}`,
		"UnknownRole": `{"version": 1, "api_keys": {"root": ["` + strings.Repeat("k", 20) + `"]}}`,
		"ShortKey":    `{"version": 1, "api_keys": {"admin": ["short"]}}`,
		"ShortSecret": `{"version": 1, "token_secret": "AAAA", "erasure_proof_key": "AAAA"}`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "secrets.json")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, _, err := loadSecrets(dir, config{}, rand.Reader); err == nil {
				t.Fatal("no error")
			} else {
				t.Log(err)
			}
			if b, _ := os.ReadFile(path); string(b) != content {
				t.Errorf("the damaged file was replaced")
			}
		})
	}
}

func TestLoadSecretsTightensMode(t *testing.T) {
	dir := t.TempDir()
	s, _ := mustLoadSecrets(t, dir, config{})
	os.Chmod(s.Path, 0o644)
	mustLoadSecrets(t, dir, config{})
	if fi, _ := os.Stat(s.Path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestLoadSecretsRandomFails(t *testing.T) {
	_, _, err := loadSecrets(t.TempDir(), config{}, failingReader{})
	if err == nil {
		t.Fatal("no error when randomness fails")
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

func TestPrintGeneratedKeys(t *testing.T) {
	var b bytes.Buffer
	printGeneratedKeys(&b, secrets{Path: "/d/secrets.json", Keys: []apiKey{{engine.RoleAdmin, "hk_admin_x"}}})
	want := "heed: generated API keys (shown once, stored in /d/secrets.json):\n  admin         hk_admin_x\n"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

func TestWriteFileAtomicReplaces(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	for _, content := range []string{"one", "two"} {
		if err := writeFileAtomic(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(path); string(b) != content {
			t.Errorf("content %q, want %q", b, content)
		}
	}
	if err := writeFileAtomic(filepath.Join(t.TempDir(), "no", "such", "dir"), nil, 0o600); err == nil {
		t.Error("no error for a missing directory")
	}
}

func TestSecretsKeyRoles(t *testing.T) {
	s := secrets{Keys: []apiKey{{engine.RoleAdmin, "k1"}, {engine.RoleMarketing, "k2"}, {engine.RoleMarketing, "k3"}}}
	want := map[string]engine.Role{"k1": engine.RoleAdmin, "k2": engine.RoleMarketing, "k3": engine.RoleMarketing}
	if diff := cmp.Diff(want, s.keyRoles()); diff != "" {
		t.Errorf("keyRoles (-want +got):\n%s", diff)
	}
}
