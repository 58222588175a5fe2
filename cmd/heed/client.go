package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// A client calls a running heed's HTTP API: the import, train and demo
// subcommands work through it, so they run against a live server (whose
// Badger directory is locked by that server) and go through the same
// policies as any storefront.
type client struct {
	base string
	key  string
	http *http.Client
}

// clientFlags adds --url, --key and --data to fs and returns a function that
// builds the client once fs is parsed. Without --key (or HEED_KEY), the admin
// key is read from the data directory's secrets.json, so commands run on the
// machine heed serve runs on need no set-up.
func clientFlags(fs *flag.FlagSet, getenv func(string) string) func() (*client, error) {
	url := fs.String("url", envOr(getenv, "HEED_URL", "http://127.0.0.1:8080"), "heed's base URL (env HEED_URL)")
	key := fs.String("key", getenv("HEED_KEY"), "an admin API key (env HEED_KEY); default: the admin key in --data's secrets.json")
	data := fs.String("data", envOr(getenv, "HEED_DATA", defaultDataDir), "heed's data directory, to find the admin key (env HEED_DATA)")
	return func() (*client, error) {
		k := *key
		if k == "" {
			var err error
			if k, err = storedAdminKey(*data); err != nil {
				return nil, fmt.Errorf("no API key: pass --key or HEED_KEY (%v)", err)
			}
		}
		return &client{base: strings.TrimRight(*url, "/"), key: k, http: &http.Client{
			Transport: &http.Transport{MaxIdleConnsPerHost: 32},
		}}, nil
	}
}

func envOr(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

// storedAdminKey returns the first admin key of dataDir's secrets.json.
func storedAdminKey(dataDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, secretsFile))
	if err != nil {
		return "", err
	}
	var st storedSecrets
	if err := json.Unmarshal(b, &st); err != nil {
		return "", fmt.Errorf("%s: %w", secretsFile, err)
	}
	if ks := st.APIKeys["admin"]; len(ks) > 0 {
		return ks[0], nil
	}
	return "", errors.New("secrets.json holds no admin key (keys given by --keys are not stored)")
}

// call sends a JSON request (body nil: none) and decodes a JSON answer into
// out (nil: discarded).
func (c *client) call(ctx context.Context, method, path string, body, out any) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	return c.send(ctx, method, path, "application/json", r, out)
}

// send sends r as the request body with the given media type.
func (c *client) send(ctx context.Context, method, path, mediaType string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	if body != nil {
		req.Header.Set("Content-Type", mediaType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w (is heed serve running at %s?)", method, path, err, c.base)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return problemError(method, path, resp)
	}
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// problemError turns an error answer (an RFC 9457 problem) into an error
// that says what was wrong, field by field.
func problemError(method, path string, resp *http.Response) error {
	var p struct {
		Title  string `json:"title"`
		Detail string `json:"detail"`
		Errors []struct {
			Field, Message string
		} `json:"errors"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if json.Unmarshal(b, &p) != nil || p.Title == "" {
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	msg := fmt.Sprintf("%s %s: %d %s", method, path, resp.StatusCode, p.Title)
	if p.Detail != "" { // names every field at fault, and more
		return errors.New(msg + ": " + p.Detail)
	}
	for i, e := range p.Errors {
		if i == 5 {
			msg += fmt.Sprintf("; and %d more", len(p.Errors)-i)
			break
		}
		msg += fmt.Sprintf("; %s: %s", e.Field, e.Message)
	}
	return errors.New(msg)
}

// since formats the time since start for the CLI: "4.2 s".
func since(start time.Time) string {
	return fmt.Sprintf("%.1f s", time.Since(start).Seconds())
}
