package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The page tests drive a real headless Chromium (Debian's chromium package,
// which scripts/deps.sh installs) against a real heed serve.

// chromiumPath returns the Chromium to drive. Without one the test is
// skipped, unless REQUIRE_CHROMIUM is set (make test, CI): then it fails.
func chromiumPath(tb testing.TB) string {
	tb.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("REQUIRE_CHROMIUM") != "" {
		tb.Fatal("REQUIRE_CHROMIUM is set and no chromium is in PATH (scripts/deps.sh installs it)")
	}
	tb.Skip("chromium not in PATH")
	return ""
}

// newBrowser starts a headless Chromium with its own profile and returns a
// context for one tab, closed when the test ends. More tabs of the same
// browser (same cookies): chromedp.NewContext(ctx).
func newBrowser(tb testing.TB, width, height int) context.Context {
	tb.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(tb)),
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.WindowSize(width, height),
		chromedp.NoSandbox, // containers, CI runners as root
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	tb.Cleanup(func() { cancelTab(); cancelAlloc() })
	// Headless Chromium keeps windows at least 500 px wide: the viewport
	// is set apart, so that the phone width is a phone's.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(int64(width), int64(height))); err != nil {
		tb.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// browse runs steps in the tab, in order, with a deadline, failing the test
// on error.
func browse(tb testing.TB, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.Fatalf("%s: %v", what, err)
	}
}

// get runs one action that answers a value in the tab, with a deadline.
func get[T any](tb testing.TB, ctx context.Context, what string, a chromedp.Action[T]) T {
	tb.Helper()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		tb.Fatalf("%s: %v", what, err)
	}
	return v
}

// screenshot saves the whole page as HEED_SCREENSHOTS/<name>.png (default
// ./screenshots, which git ignores), for a reviewer to look at.
func screenshot(tb testing.TB, ctx context.Context, name string) {
	tb.Helper()
	dir := os.Getenv("HEED_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	png := get(tb, ctx, "screenshot "+name, chromedp.FullScreenshot(100)) // 100: PNG, not JPEG
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// Phone and desktop widths for the screenshots.
const (
	phoneWidth, phoneHeight     = 390, 844
	desktopWidth, desktopHeight = 1280, 900
)

// TestBrowserStarts checks the page-test set-up itself: Chromium starts
// and loads a heed page.
func TestBrowserStarts(t *testing.T) {
	ctx := newBrowser(t, desktopWidth, desktopHeight)
	p := startHeed(t, t.TempDir())
	browse(t, ctx, "load /console", chromedp.Navigate(p.base+"/console"))
	title := get(t, ctx, "title", chromedp.Title())
	if title == "" {
		t.Error("the console page has no title")
	}
}
