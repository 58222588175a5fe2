package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// needRedisServer skips the test when redis-server is not installed, unless
// REQUIRE_REDIS is set (make test, CI): then it fails.
func needRedisServer(tb testing.TB) {
	tb.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("REQUIRE_REDIS") != "" {
			tb.Fatalf("REQUIRE_REDIS is set: %v", err)
		}
		tb.Skip("redis-server not in PATH")
	}
}

func testLogger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{tb}, nil))
}

type tWriter struct{ tb testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func mustStartRedis(tb testing.TB, dataDir string) *redisChild {
	tb.Helper()
	c, err := startRedis(context.Background(), dataDir, testLogger(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Stop() })
	return c
}

func mustClient(tb testing.TB, rawURL string) *redis.Client {
	tb.Helper()
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		tb.Fatal(err)
	}
	client := redis.NewClient(opts)
	tb.Cleanup(func() { client.Close() })
	return client
}

// exited waits up to d for c's process to exit.
func exited(c *redisChild, d time.Duration) bool {
	select {
	case <-c.Exited():
		return true
	default:
	}
	select {
	case <-c.Exited():
		return true
	case <-time.After(d):
		return false
	}
}

func TestStartRedisUnixSocketPersists(t *testing.T) {
	needRedisServer(t)
	t.Parallel()
	ctx := context.Background()
	data := t.TempDir()

	c := mustStartRedis(t, data)
	if !strings.HasPrefix(c.URL(), "unix://") {
		t.Fatalf("URL() = %q, want a unix socket", c.URL())
	}
	dir := filepath.Join(data, "redis")
	for name, want := range map[string]os.FileMode{"": 0o700, "redis.conf": 0o600, "redis.pid": 0o600} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("mode of redis/%s = %v, want %v", name, got, want)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "redis.pid"))
	if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(c.proc.Pid) {
		t.Errorf("redis.pid = %q, %v; want %d", b, err, c.proc.Pid)
	}

	client := mustClient(t, c.URL())
	if err := client.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	// Threads that end while locked must not take the child down with them:
	// the runtime ends each of these threads.
	for range 20 {
		done := make(chan struct{})
		go func() {
			runtime.LockOSThread()
			close(done)
		}()
		<-done
	}
	time.Sleep(100 * time.Millisecond)
	if err := client.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after threads ended: %v", err)
	}

	if err := c.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if !exited(c, 0) {
		t.Fatal("redis-server still running after Stop")
	}
	if _, err := os.Stat(filepath.Join(dir, "redis.pid")); !os.IsNotExist(err) {
		t.Errorf("redis.pid after Stop: %v, want it removed", err)
	}
	if err := c.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}

	// The append-only file brings the data back.
	c2 := mustStartRedis(t, data)
	got, err := mustClient(t, c2.URL()).Get(ctx, "k").Result()
	if err != nil || got != "v" {
		t.Fatalf("GET k after restart = %q, %v; want v", got, err)
	}
}

func TestStartRedisLongPathUsesTCPWithPassword(t *testing.T) {
	needRedisServer(t)
	t.Parallel()
	ctx := context.Background()
	data := filepath.Join(t.TempDir(), strings.Repeat("d", 100))

	c := mustStartRedis(t, data)
	opts, err := redis.ParseURL(c.URL())
	if err != nil {
		t.Fatal(err)
	}
	if opts.Network != "tcp" || !strings.HasPrefix(opts.Addr, "127.0.0.1:") || opts.Password == "" {
		t.Fatalf("URL() = network %s addr %s, password set %t; want tcp on 127.0.0.1 with a password",
			opts.Network, opts.Addr, opts.Password != "")
	}
	if err := mustClient(t, c.URL()).Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	anon := redis.NewClient(&redis.Options{Addr: opts.Addr})
	defer anon.Close()
	if err := anon.Set(ctx, "k", "v", 0).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Errorf("SET without password: %v, want NOAUTH", err)
	}
	conf, err := os.ReadFile(filepath.Join(data, "redis", "redis.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(conf), opts.Password) {
		t.Errorf("redis.conf lacks the password")
	}
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", c.proc.Pid))
	if strings.Contains(string(cmdline), opts.Password) {
		t.Errorf("the password is on redis-server's command line")
	}
}

func TestStartRedisRefusesSecondOwner(t *testing.T) {
	needRedisServer(t)
	t.Parallel()
	data := t.TempDir()
	c := mustStartRedis(t, data)
	_, err := startRedis(context.Background(), data, testLogger(t))
	if err == nil || !strings.Contains(err.Error(), "in use by another running heed") {
		t.Fatalf("second startRedis: %v, want in use", err)
	}
	if exited(c, 100*time.Millisecond) {
		t.Fatal("the first redis-server was stopped")
	}
}

// A redis-server that outlived its heed (its lock is gone, it still runs)
// is stopped before a new one starts.
func TestStartRedisStopsLeftoverServer(t *testing.T) {
	needRedisServer(t)
	t.Parallel()
	data := t.TempDir()
	old := mustStartRedis(t, data)
	old.pidfile.Close() // as if its heed had died: the lock is released

	c := mustStartRedis(t, data)
	if !exited(old, 5*time.Second) {
		t.Fatal("the leftover redis-server is still running")
	}
	if c.proc.Pid == old.proc.Pid {
		t.Fatal("same pid")
	}
	if err := mustClient(t, c.URL()).Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
}

// A pidfile naming some other process, or nothing, is not acted on.
func TestStartRedisIgnoresForeignPid(t *testing.T) {
	needRedisServer(t)
	t.Parallel()
	data := t.TempDir()
	sleeper := exec.Command("sleep", "30")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sleeper.Process.Kill(); sleeper.Wait() }()
	os.MkdirAll(filepath.Join(data, "redis"), 0o700)
	if err := os.WriteFile(filepath.Join(data, "redis", "redis.pid"), []byte(strconv.Itoa(sleeper.Process.Pid)), 0o600); err != nil {
		t.Fatal(err)
	}
	mustStartRedis(t, data)
	if !processAlive(sleeper.Process.Pid) {
		t.Fatal("startRedis killed a process that is not its redis-server")
	}
}

func TestStartRedisNotInstalled(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := startRedis(context.Background(), t.TempDir(), testLogger(t))
	if err == nil || err.Error() != "redis-server not found in PATH; run `make deps` or set HEED_REDIS" {
		t.Fatalf("startRedis without redis-server: %v", err)
	}
}

func TestStartRedisBadConfigReportsLog(t *testing.T) {
	needRedisServer(t)
	t.Parallel()
	data := t.TempDir()
	// A directory where the append-only directory should be makes redis
	// fail at start; the error should carry its log.
	dir := filepath.Join(data, "redis")
	os.MkdirAll(dir, 0o700)
	if err := os.WriteFile(filepath.Join(dir, "appendonlydir"), []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := startRedis(context.Background(), data, testLogger(t))
	if err == nil || !strings.Contains(err.Error(), "exited at start") {
		t.Fatalf("startRedis: %v, want exited at start with its log", err)
	}
	t.Log(err)
	// The data directory is free again.
	os.Remove(filepath.Join(dir, "appendonlydir"))
	mustStartRedis(t, data)
}

// TestRedisChildDiesWithHeed SIGKILLs a process that started a private
// redis-server and checks that the server does not outlive it.
func TestRedisChildDiesWithHeed(t *testing.T) {
	needRedisServer(t)
	t.Parallel()
	data := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestRedisHelperProcess$")
	cmd.Env = append(os.Environ(), "HEED_TEST_REDIS_HELPER="+data)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(line), "redis pid "))
	if err != nil {
		t.Fatalf("helper said %q", line)
	}
	if !processAlive(pid) {
		t.Fatal("redis-server not running")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	for deadline := time.Now().Add(5 * time.Second); processAlive(pid); {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatal("redis-server outlived the SIGKILLed process that started it")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRedisHelperProcess is not a test: TestRedisChildDiesWithHeed runs it
// in a child process, which starts a redis-server, reports its pid, ends a
// few locked threads (which must not kill the server) and waits to be
// killed.
func TestRedisHelperProcess(t *testing.T) {
	data := os.Getenv("HEED_TEST_REDIS_HELPER")
	if data == "" {
		t.Skip("helper process for TestRedisChildDiesWithHeed")
	}
	c, err := startRedis(context.Background(), data, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for range 10 {
		go func() { runtime.LockOSThread() }()
	}
	fmt.Printf("redis pid %d\n", c.proc.Pid)
	time.Sleep(time.Minute)
	os.Exit(1)
}
