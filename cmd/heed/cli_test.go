package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemoImportTrain runs heed demo, heed import and heed train against a
// real heed serve, as a newcomer would after make run, and checks that the
// model survives a restart (it is loaded from its snapshot).
func TestDemoImportTrain(t *testing.T) {
	if testing.Short() {
		t.Skip("loads the whole Online Retail data set")
	}
	data := t.TempDir()
	p := startHeed(t, data, "HEED_TRAIN_EVERY=0")
	getenv := env(map[string]string{"HEED_URL": p.base, "HEED_KEY": e2eAdmin})
	ctx := context.Background()
	var out, errs syncBuffer
	if err := run(ctx, []string{"heed", "demo"}, getenv, &out, &errs); err != nil {
		t.Fatalf("heed demo: %v\n%s", err, errs.String())
	}
	for _, want := range []string{"doi.org/10.24432/C5BW33", "purchases: 18402 imported", "model: ",
		"personalized: true", "personalized: false", "bought_with:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("heed demo output lacks %q:\n%s", want, out.String())
		}
	}
	if !strings.Contains(errs.String(), "customers") {
		t.Errorf("heed demo showed no progress on stderr: %q", errs.String())
	}

	// heed import: gzip NDJSON, then a file with a bad line.
	file := filepath.Join(t.TempDir(), "events.ndjson.gz")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(`{"type":"view","user_id":"c12347","item_id":"85123A","touchpoint":"app","occurred_at":"2011-12-01T10:00:00Z"}` + "\n" +
		`{"type":"purchase","user_id":"c12347","order_id":"x1","items":[{"item_id":"85123A","quantity":1,"price":2.5}],"occurred_at":"2011-12-01T11:00:00Z"}` + "\n"))
	zw.Close()
	if err := os.WriteFile(file, gz.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out = syncBuffer{}
	if err := run(ctx, []string{"heed", "import", file}, getenv, &out, &errs); err != nil {
		t.Fatalf("heed import: %v", err)
	}
	if !strings.Contains(out.String(), "imported 2 events") {
		t.Errorf("heed import said %q", out.String())
	}
	bad := filepath.Join(t.TempDir(), "bad.csv")
	os.WriteFile(bad, []byte("type,user_id,item_id,occurred_at\nview,c12347,85123A,not-a-time\n"), 0o600)
	err := run(ctx, []string{"heed", "import", bad}, getenv, &out, &errs)
	if err == nil || !strings.Contains(err.Error(), "line[2].occurred_at") {
		t.Errorf("heed import of a bad file: %v; want the bad line named", err)
	}

	out = syncBuffer{}
	if err := run(ctx, []string{"heed", "train"}, getenv, &out, &errs); err != nil {
		t.Fatalf("heed train: %v", err)
	}
	if !strings.Contains(out.String(), "model trained: ") || !strings.Contains(out.String(), "64 factors") {
		t.Errorf("heed train said %q", out.String())
	}

	// Restarted, heed serves the snapshot without training again.
	p.stop(t)
	p = startHeed(t, data, "HEED_TRAIN_EVERY=0")
	defer p.stop(t)
	var info struct {
		Trained bool `json:"trained"`
		Items   int  `json:"items"`
	}
	code, raw, err := p.try("GET", "/v1/items/85123A/complementary", "")
	if err != nil || code != 200 || !strings.Contains(string(raw), "bought_with:85123A") {
		t.Errorf("complementary after restart: %d %s %v", code, raw, err)
	}
	p.call(t, "GET", "/v1/users/c12347/recommendations", "", 200, nil)
	adminGet(t, p, "/v1/recommender", &info)
	if !info.Trained || info.Items < 3000 {
		t.Errorf("after a restart the model is %+v; want the snapshot", info)
	}
}

// adminGet GETs path with the admin key and decodes the JSON answer.
func adminGet(t *testing.T, p *heedProc, path string, out any) {
	t.Helper()
	req, err := http.NewRequest("GET", p.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e2eAdmin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}
