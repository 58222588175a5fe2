// Package redistest starts a real redis-server for a test, on an ephemeral
// loopback port, with its data in the test's temporary directory.
package redistest

import (
	"context"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// A Server is a running redis-server.
type Server struct {
	Addr string
	cmd  *exec.Cmd
	dir  string
	port string
}

// Start starts a redis-server for tb, stopped when tb ends. Without
// redis-server in PATH the test is skipped, unless REQUIRE_REDIS is set
// (make test, CI): then it fails.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("REQUIRE_REDIS") != "" {
			tb.Fatalf("REQUIRE_REDIS is set: %v", err)
		}
		tb.Skip("redis-server not in PATH")
	}
	s := &Server{dir: tb.TempDir()}
	for range 3 { // the port can be taken between the probe and redis's bind
		s.port = freePort(tb)
		s.Addr = "127.0.0.1:" + s.port
		if s.start(bin) == nil {
			tb.Cleanup(s.Stop)
			return s
		}
	}
	tb.Fatal("redis-server did not start")
	return nil
}

func (s *Server) start(bin string) error {
	s.cmd = exec.Command(bin, "--port", s.port, "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "yes", "--appendfsync", "everysec", "--dir", s.dir)
	if err := s.cmd.Start(); err != nil {
		return err
	}
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr})
	defer rdb.Close()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Stop()
	return os.ErrDeadlineExceeded
}

// Stop kills the server; its data (append-only file) stays for Restart.
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
		s.cmd = nil
	}
}

// Restart starts the server again on the same port with the same data, as
// after an outage.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.Stop()
	bin, _ := exec.LookPath("redis-server")
	if err := s.start(bin); err != nil {
		tb.Fatalf("restart redis-server: %v", err)
	}
}

// URL returns the server's redis:// URL.
func (s *Server) URL() string { return "redis://" + s.Addr + "/0" }

// Client returns a client of the server, closed when tb ends.
func (s *Server) Client(tb testing.TB) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	tb.Cleanup(func() { c.Close() })
	return c
}

func freePort(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// Traces lists the keys of rdb whose name or value holds s.
func Traces(t testing.TB, rdb *redis.Client, s string) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	iter := rdb.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		var vals []string
		switch rdb.Type(ctx, k).Val() {
		case "string":
			vals = []string{rdb.Get(ctx, k).Val()}
		case "hash":
			for f, v := range rdb.HGetAll(ctx, k).Val() {
				vals = append(vals, f, v)
			}
		case "list":
			vals = rdb.LRange(ctx, k, 0, -1).Val()
		case "set":
			vals = rdb.SMembers(ctx, k).Val()
		case "zset":
			vals = rdb.ZRange(ctx, k, 0, -1).Val()
		}
		if strings.Contains(k, s) || slices.ContainsFunc(vals, func(v string) bool { return strings.Contains(v, s) }) {
			out = append(out, k)
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
