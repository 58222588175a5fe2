package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRunCommands(t *testing.T) {
	tests := []struct {
		args       []string
		wantErr    string
		wantStdout string
	}{
		{[]string{"heed", "version"}, "", "heed dev (" + runtime.Version() + ")\n"},
		{[]string{"heed", "help"}, "", "Usage:"},
		{[]string{"heed", "serve", "-h"}, "", "-max-body"},
		{[]string{"heed"}, "no command given", ""},
		{[]string{"heed", "frobnicate"}, `unknown command "frobnicate"`, ""},
		{[]string{"heed", "serve", "--keys", "admin=short"}, "key for role admin is shorter than 16 characters", ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args[1:], "_"), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, env(nil), &stdout, &stderr)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("run = %v, want error %q", err, tt.wantErr)
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("stdout = %q, want it to contain %q", stdout.String(), tt.wantStdout)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeStartsAndStopsPrivateRedis runs heed serve without HEED_REDIS:
// it prints the generated keys once, runs a private redis-server while it
// runs, and stops it when its context ends.
func TestServeStartsAndStopsPrivateRedis(t *testing.T) {
	needRedisServer(t)
	data := t.TempDir()
	args := []string{"heed", "serve", "--addr=127.0.0.1:0", "--data=" + data}
	pidfile := filepath.Join(data, "redis", "redis.pid")

	for i, wantKeys := range []bool{true, false} {
		ctx, cancel := context.WithCancel(context.Background())
		var stdout, stderr syncBuffer
		done := make(chan error, 1)
		go func() { done <- run(ctx, args, env(nil), &stdout, &stderr) }()

		var pid int
		for deadline := time.Now().Add(10 * time.Second); pid == 0 || !strings.Contains(stderr.String(), "started private redis-server"); {
			if time.Now().After(deadline) {
				cancel()
				t.Fatalf("start %d: no private redis-server; stderr:\n%s", i+1, stderr.String())
			}
			b, _ := os.ReadFile(pidfile)
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
			time.Sleep(10 * time.Millisecond)
		}
		if got := strings.Contains(stdout.String(), "heed: generated API keys (shown once"); got != wantKeys {
			t.Errorf("start %d: keys printed = %t, want %t; stdout:\n%s", i+1, got, wantKeys, stdout.String())
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("start %d: run = %v", i+1, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("serve did not return after cancel")
		}
		if processAlive(pid) {
			t.Errorf("start %d: redis-server %d still running after serve returned", i+1, pid)
		}
	}
}

// TestServeCanceledWhileStarting: a stop asked for before heed serve has
// finished starting ends it cleanly, whatever step it cut short.
func TestServeCanceledWhileStarting(t *testing.T) {
	needRedisServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr syncBuffer
	args := []string{"heed", "serve", "--addr=127.0.0.1:0", "--data=" + t.TempDir()}
	if err := run(ctx, args, env(nil), &stdout, &stderr); err != nil {
		t.Errorf("run with a cancelled context = %v, want nil; stderr:\n%s", err, stderr.String())
	}
}

func TestPolicyTest(t *testing.T) {
	ctx := context.Background()
	var out bytes.Buffer
	if err := run(ctx, []string{"heed", "policy", "test"}, env(nil), &out, io.Discard); err != nil {
		t.Fatalf("embedded policies: %v", err)
	}
	if !strings.Contains(out.String(), "every Rego test passed") {
		t.Errorf("output = %q", out.String())
	}

	// A copy of the embedded set with a consent test that cannot pass.
	dir := t.TempDir()
	for _, name := range []string{"authz", "authz_test", "consent", "consent_test", "collect", "collect_test"} {
		src, err := os.ReadFile(filepath.Join("..", "..", "policies", name+".rego"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".rego"), src, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	bad := "package heed.consent_test\n\ntest_impossible if { 1 == 2 }\n"
	if err := os.WriteFile(filepath.Join(dir, "broken_test.rego"), []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	err := run(ctx, []string{"heed", "policy", "test", dir}, env(nil), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "test_impossible") {
		t.Errorf("a failing Rego test: err = %v, want it named", err)
	}
	if err := run(ctx, []string{"heed", "policy", "lint"}, env(nil), io.Discard, io.Discard); err == nil {
		t.Error("unknown policy subcommand accepted")
	}
}
