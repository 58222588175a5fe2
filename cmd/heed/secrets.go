package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"heed/engine"
)

const (
	secretsFile    = "secrets.json"
	secretsVersion = 1
	secretBytes    = 32
)

// secrets are the credentials heed serve runs with.
type secrets struct {
	Path string // the secrets file
	// Keys are the API keys in force: config's if given, else the stored ones.
	Keys          []apiKey
	TokenSecret   []byte // signs shopper tokens
	WebhookSecret []byte // signs webhooks: HEED_WEBHOOK_SECRET, else stored
	// ProofKey keys the hash under which erasure keeps its proof. It must
	// never change: proofs kept under an old key can no longer be found.
	ProofKey []byte
}

// storedSecrets is the secrets file's content. Secrets are base64url.
type storedSecrets struct {
	Version       int                 `json:"version"`
	CreatedAt     time.Time           `json:"created_at"`
	APIKeys       map[string][]string `json:"api_keys,omitempty"` // role → keys
	TokenSecret   string              `json:"token_secret"`
	WebhookSecret string              `json:"webhook_secret,omitempty"`
	ProofKey      string              `json:"erasure_proof_key"`
}

// loadSecrets reads <dataDir>/secrets.json, generating what it lacks, and
// writes it back (mode 0600, atomically) if anything was generated. API
// keys are generated only when cfg has none and none are stored, one per
// role; generated reports that, so that serve prints them once. The webhook
// secret is generated only when cfg has none. random is the source of
// randomness (crypto/rand.Reader outside tests).
//
// A secrets file that can't be read or parsed is an error, never replaced:
// its erasure-proof key can't be made again.
func loadSecrets(dataDir string, cfg config, random io.Reader) (s secrets, generated bool, err error) {
	path, err := filepath.Abs(filepath.Join(dataDir, secretsFile))
	if err != nil {
		return secrets{}, false, err
	}
	var st storedSecrets
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		st = storedSecrets{Version: secretsVersion, CreatedAt: time.Now().UTC()}
	case err != nil:
		return secrets{}, false, fmt.Errorf("secrets: %w", err)
	default:
		if err := json.Unmarshal(b, &st); err != nil {
			return secrets{}, false, fmt.Errorf("secrets: %s is damaged (%v); restore it from a backup", path, err)
		}
		if st.Version != secretsVersion {
			return secrets{}, false, fmt.Errorf("secrets: %s has version %d, this heed knows %d", path, st.Version, secretsVersion)
		}
		if err := os.Chmod(path, 0o600); err != nil { // in case someone widened it
			return secrets{}, false, fmt.Errorf("secrets: %w", err)
		}
	}

	// Check what is stored before adding to it, so that a damaged file is
	// reported, never rewritten.
	fields := []struct {
		name string
		src  *string
		dst  *[]byte
	}{
		{"token_secret", &st.TokenSecret, &s.TokenSecret},
		{"erasure_proof_key", &st.ProofKey, &s.ProofKey},
		{"webhook_secret", &st.WebhookSecret, &s.WebhookSecret},
	}
	for _, f := range fields {
		if *f.src == "" {
			continue
		}
		if b, err := base64.RawURLEncoding.DecodeString(*f.src); err != nil || len(b) < minSecretLen {
			return secrets{}, false, fmt.Errorf("secrets: %s: %s is damaged; restore it from a backup", path, f.name)
		}
	}
	if _, err := storedKeys(path, st.APIKeys); err != nil {
		return secrets{}, false, err
	}

	dirty := false
	gen := func(field *string) error {
		if *field != "" {
			return nil
		}
		b := make([]byte, secretBytes)
		if _, err := io.ReadFull(random, b); err != nil {
			return fmt.Errorf("secrets: %w", err)
		}
		*field, dirty = base64.RawURLEncoding.EncodeToString(b), true
		return nil
	}
	if err := gen(&st.TokenSecret); err != nil {
		return secrets{}, false, err
	}
	if err := gen(&st.ProofKey); err != nil {
		return secrets{}, false, err
	}
	if cfg.WebhookSecret == "" {
		if err := gen(&st.WebhookSecret); err != nil {
			return secrets{}, false, err
		}
	}
	if len(cfg.Keys) == 0 && len(st.APIKeys) == 0 {
		st.APIKeys = make(map[string][]string)
		for _, r := range engine.KeyRoles {
			var k string
			if err := gen(&k); err != nil {
				return secrets{}, false, err
			}
			st.APIKeys[string(r)] = []string{"hk_" + string(r) + "_" + k}
		}
		generated = true
	}
	if dirty {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return secrets{}, false, fmt.Errorf("secrets: %w", err)
		}
		b, err := json.MarshalIndent(st, "", "  ")
		if err != nil {
			return secrets{}, false, err
		}
		if err := writeFileAtomic(path, append(b, '\n'), 0o600); err != nil {
			return secrets{}, false, fmt.Errorf("secrets: %w", err)
		}
	}

	s.Path, s.Keys = path, cfg.Keys
	if len(s.Keys) == 0 {
		s.Keys, _ = storedKeys(path, st.APIKeys) // checked above
	}
	for _, f := range fields {
		*f.dst, _ = base64.RawURLEncoding.DecodeString(*f.src) // checked above
	}
	if cfg.WebhookSecret != "" {
		s.WebhookSecret = []byte(cfg.WebhookSecret)
	}
	return s, generated, nil
}

// storedKeys returns the keys of the secrets file in engine.KeyRoles order.
func storedKeys(path string, m map[string][]string) ([]apiKey, error) {
	var keys []apiKey
	for role, ks := range m {
		if !engine.Role(role).Valid() {
			return nil, fmt.Errorf("secrets: %s: api_keys: unknown role %q", path, role)
		}
		for _, k := range ks {
			if len(k) < minSecretLen {
				return nil, fmt.Errorf("secrets: %s: api_keys: a key for role %s is shorter than %d characters", path, role, minSecretLen)
			}
			keys = append(keys, apiKey{Role: engine.Role(role), Key: k})
		}
	}
	slices.SortStableFunc(keys, func(a, b apiKey) int {
		return slices.Index(engine.KeyRoles, a.Role) - slices.Index(engine.KeyRoles, b.Role)
	})
	return keys, nil
}

// printGeneratedKeys tells the operator the keys generated on first start.
// They are shown this once; afterwards they are only in the secrets file.
func printGeneratedKeys(w io.Writer, s secrets) {
	fmt.Fprintf(w, "heed: generated API keys (shown once, stored in %s):\n", s.Path)
	for _, k := range s.Keys {
		fmt.Fprintf(w, "  %-13s %s\n", k.Role, k.Key)
	}
}

// writeFileAtomic replaces path with data: a temporary file in the same
// directory, fsynced, renamed over path, then the directory fsynced, so a
// crash leaves either the old file or the new one, never a torn one.
func writeFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(perm); err != nil {
		return err
	}
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// keyRoles returns the API keys in force as key → role, the form api.Config
// takes.
func (s secrets) keyRoles() map[string]engine.Role {
	m := make(map[string]engine.Role, len(s.Keys))
	for _, k := range s.Keys {
		m[k.Key] = k.Role
	}
	return m
}
