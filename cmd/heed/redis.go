package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// The private redis-server's files, all under <data>/redis/:
//
//	redis.conf     written at each start (mode 0600; holds the password in TCP mode)
//	redis.pid      the child's pid, locked (flock) while a heed owns the child
//	redis.sock     the unix socket, when its path is short enough
//	redis.log      the child's log for this run; redis.log.1 the previous run's
//	appendonlydir/ the append-only file: the queue's data
const (
	redisSubdir       = "redis"
	redisStartTimeout = 30 * time.Second
	redisStopTimeout  = 5 * time.Second
	// maxSocketPath keeps the socket path within sun_path (108 bytes on
	// Linux, 104 on the BSDs) with room to spare.
	maxSocketPath = 100
	// minRedisVersion: asynq uses ZRANGE ... BYSCORE, new in Redis 6.2.
	minRedisMajor, minRedisMinor = 6, 2
)

var errRedisNotFound = errors.New("redis-server not found in PATH; run `make deps` or set HEED_REDIS")

// A redisChild is a private redis-server that heed serve started because
// HEED_REDIS was unset. It dies with heed: Stop ends it, and if heed is
// killed outright the kernel sends it SIGKILL (Pdeathsig).
type redisChild struct {
	url     string // for go-redis and asynq: unix:///... or redis://:pw@127.0.0.1:port/0
	addr    string // for logs: the socket path or host:port, no password
	proc    *os.Process
	pidfile *os.File // locked until Stop
	log     *slog.Logger

	done    chan struct{} // closed when the child has exited
	waitErr error         // the child's exit; read only after done is closed

	stopOnce sync.Once
	stopErr  error
}

// URL returns the URL to reach the server, password included in TCP mode.
func (c *redisChild) URL() string { return c.url }

// Exited is closed when the server has exited, whether by Stop or not.
func (c *redisChild) Exited() <-chan struct{} { return c.done }

// startRedis starts a private redis-server with its data under
// <dataDir>/redis and waits until it answers PING. It listens on a unix
// socket inside that directory when the socket's path is shorter than 100
// bytes, else on 127.0.0.1 with an ephemeral port and a random password.
// A server left running by an earlier heed on the same data directory is
// stopped first; one that a running heed owns is an error.
//
// Persistence is the append-only file with appendfsync everysec: a crash
// of the machine loses at most about a second of queue writes, a crash of
// heed or of redis-server none. RDB snapshots are off: the AOF already
// holds everything, its rewrites start with an RDB preamble, and periodic
// snapshots would only fork the server and write the data a second time.
func startRedis(ctx context.Context, dataDir string, log *slog.Logger) (*redisChild, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errRedisNotFound
	}
	if err := checkRedisVersion(ctx, bin); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, fmt.Errorf("redis: data directory: %w", err)
	}
	dir := filepath.Join(abs, redisSubdir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	pidfile, err := lockPidfile(filepath.Join(dir, "redis.pid"))
	if err != nil {
		return nil, err
	}
	c, err := func() (*redisChild, error) {
		if err := stopStaleRedis(pidfile, dir, log); err != nil {
			return nil, err
		}
		sock := filepath.Join(dir, "redis.sock")
		if len(sock) < maxSocketPath {
			return launchRedis(ctx, bin, dir, listener{socket: sock}, pidfile, log)
		}
		// The port can be taken between our probe and redis' bind: retry.
		var err error
		for range 3 {
			var port int
			if port, err = freePort(); err != nil {
				return nil, err
			}
			l := listener{port: port, password: randomHex(24)}
			var c *redisChild
			if c, err = launchRedis(ctx, bin, dir, l, pidfile, log); !errors.Is(err, errAddrInUse) {
				return c, err
			}
		}
		return nil, err
	}()
	if err != nil {
		pidfile.Close()
		return nil, err
	}
	log.InfoContext(ctx, "started private redis-server", "addr", c.addr, "pid", c.proc.Pid, "dir", dir)
	return c, nil
}

// A listener is where the child listens: a unix socket, or a TCP port on
// 127.0.0.1 guarded by a password.
type listener struct {
	socket   string
	port     int
	password string
}

var errAddrInUse = errors.New("redis: address in use")

func launchRedis(ctx context.Context, bin, dir string, l listener, pidfile *os.File, log *slog.Logger) (*redisChild, error) {
	conf := filepath.Join(dir, "redis.conf")
	if err := writeRedisConf(conf, dir, l); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "redis.log")
	if _, err := os.Stat(logPath); err == nil {
		_ = os.Rename(logPath, logPath+".1") // keep the previous run's log
	}
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	defer logf.Close() // the child has its own copy once started

	c := &redisChild{pidfile: pidfile, log: log, done: make(chan struct{})}
	if l.socket != "" {
		c.addr = l.socket
		c.url = (&url.URL{Scheme: "unix", Path: l.socket}).String()
	} else {
		c.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(l.port))
		c.url = (&url.URL{Scheme: "redis", User: url.UserPassword("", l.password), Host: c.addr, Path: "/0"}).String()
	}

	cmd := exec.Command(bin, conf)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = childProcAttr()
	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the thread that forked the child ends, not
		// the process (prctl(2); golang/go#27505), and the Go runtime ends
		// a thread whenever a goroutine locked to it returns without
		// unlocking. So fork from a thread locked to this goroutine and
		// keep both alive until the child exits: no other goroutine can
		// run on this thread, lock it and take it down with it.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		c.proc = cmd.Process
		started <- nil
		c.waitErr = cmd.Wait()
		close(c.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("redis: start %s: %w", bin, err)
	}
	if err := writePid(pidfile, c.proc.Pid); err != nil {
		c.kill()
		return nil, err
	}
	if err := c.waitReady(ctx, logPath); err != nil {
		c.kill()
		return nil, err
	}
	return c, nil
}

// waitReady waits until the child answers PING. While it is loading its
// data it answers LOADING, which is progress, not failure.
func (c *redisChild) waitReady(ctx context.Context, logPath string) error {
	opts, err := redis.ParseURL(c.url)
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	opts.DialTimeout, opts.ReadTimeout, opts.MaxRetries = time.Second, time.Second, -1
	client := redis.NewClient(opts)
	defer client.Close()

	deadline := time.Now().Add(redisStartTimeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	loadingLogged := false
	for {
		err := client.Ping(ctx).Err()
		switch {
		case err == nil:
			return nil
		case strings.HasPrefix(err.Error(), "LOADING"):
			if !loadingLogged {
				c.log.InfoContext(ctx, "private redis-server is loading its data", "addr", c.addr)
				loadingLogged = true
			}
			deadline = time.Now().Add(redisStartTimeout)
		case time.Now().After(deadline):
			return fmt.Errorf("redis: redis-server did not answer PING within %v (log: %s): %w", redisStartTimeout, logPath, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.done:
			tail := logTail(logPath, 2048)
			if bytes.Contains(tail, []byte("Address already in use")) {
				return errAddrInUse
			}
			return fmt.Errorf("redis: redis-server exited at start (%v); its log %s ends:\n%s", c.waitErr, logPath, tail)
		case <-tick.C:
		}
	}
}

// Stop stops the server: SIGTERM, which makes redis-server flush its
// append-only file and exit, then SIGKILL if it has not exited within 5 s.
// It releases the data directory for the next heed. Stop is idempotent.
func (c *redisChild) Stop() error {
	c.stopOnce.Do(func() { c.stopErr = c.stop() })
	return c.stopErr
}

func (c *redisChild) stop() error {
	defer c.pidfile.Close()
	select {
	case <-c.done:
		_ = os.Remove(c.pidfile.Name())
		if c.waitErr != nil {
			return fmt.Errorf("redis-server had exited: %v", c.waitErr)
		}
		return nil
	default:
	}
	_ = c.proc.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(redisStopTimeout):
		c.log.Warn("private redis-server did not stop within 5s; killing it", "pid", c.proc.Pid)
		c.kill()
	}
	_ = os.Remove(c.pidfile.Name())
	if c.waitErr != nil {
		return fmt.Errorf("redis-server: %v", c.waitErr)
	}
	c.log.Info("stopped private redis-server", "addr", c.addr)
	return nil
}

// kill kills the child and waits for it to exit.
func (c *redisChild) kill() {
	_ = c.proc.Kill()
	<-c.done
}

// writeRedisConf writes the child's configuration. The file, not the
// command line, carries the password, which ps would otherwise show.
func writeRedisConf(path, dir string, l listener) error {
	var b strings.Builder
	line := func(args ...string) {
		b.WriteString(strings.Join(args, " "))
		b.WriteByte('\n')
	}
	line("# Written by heed at each start of its private redis-server; edits are lost.")
	line("daemonize", "no")
	line("dir", redisQuote(dir))
	line("logfile", `""`) // stdout, which heed points at redis.log
	line("loglevel", "notice")
	line("appendonly", "yes")
	line("appendfsync", "everysec")
	line("save", `""`)
	line("maxmemory-policy", "noeviction") // asynq needs every key kept
	line("protected-mode", "yes")
	if l.socket != "" {
		line("port", "0")
		line("unixsocket", redisQuote(l.socket))
		line("unixsocketperm", "700")
	} else {
		line("bind", "127.0.0.1")
		line("port", strconv.Itoa(l.port))
		line("requirepass", redisQuote(l.password))
	}
	for _, s := range []string{dir, l.socket} {
		if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return fmt.Errorf("redis: path %q has control characters", s)
		}
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// redisQuote quotes s for redis.conf.
func redisQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// checkRedisVersion refuses a redis-server older than asynq needs.
func checkRedisVersion(ctx context.Context, bin string) error {
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return fmt.Errorf("redis: %s --version: %w", bin, err)
	}
	// "Redis server v=7.0.15 sha=..." (Valkey: "Valkey server v=8.0.1 ...").
	_, v, ok := strings.Cut(string(out), " v=")
	if !ok {
		return nil // an unknown format: let PING decide
	}
	v, _, _ = strings.Cut(v, " ")
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return nil
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	if err1 == nil && err2 == nil && (major < minRedisMajor || major == minRedisMajor && minor < minRedisMinor) {
		return fmt.Errorf("redis-server %s is too old: heed needs %d.%d or newer; run `make deps` or set HEED_REDIS", v, minRedisMajor, minRedisMinor)
	}
	return nil
}

// lockPidfile opens and locks the pidfile; a lock held by another process
// means a running heed owns this data directory's redis-server. The lock
// goes with the file descriptor, which the child does not inherit
// (close-on-exec), so a killed heed releases it.
func lockPidfile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("redis: %s is in use by another running heed", filepath.Dir(path))
		}
		return nil, fmt.Errorf("redis: lock %s: %w", path, err)
	}
	return f, nil
}

func writePid(f *os.File, pid int) error {
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("redis: pidfile: %w", err)
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(pid)+"\n"), 0); err != nil {
		return fmt.Errorf("redis: pidfile: %w", err)
	}
	return nil
}

// stopStaleRedis stops the redis-server named in the (locked) pidfile if it
// is still running: one that outlived its heed, say because heed was
// stopped in a way Pdeathsig does not cover.
func stopStaleRedis(pidfile *os.File, dir string, log *slog.Logger) error {
	b, err := io.ReadAll(io.NewSectionReader(pidfile, 0, 32))
	if err != nil {
		return fmt.Errorf("redis: pidfile: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 || !isOurRedis(pid, dir) {
		return nil
	}
	log.Info("stopping the private redis-server a previous run left running", "pid", pid)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		if err := syscall.Kill(pid, sig); err != nil {
			if errors.Is(err, syscall.ESRCH) {
				return nil
			}
			return fmt.Errorf("redis: stop the redis-server (pid %d) a previous run left in %s: %w", pid, dir, err)
		}
		for deadline := time.Now().Add(redisStopTimeout); time.Now().Before(deadline); {
			if !processAlive(pid) {
				return nil
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return fmt.Errorf("redis: the redis-server (pid %d) a previous run left in %s does not stop", pid, dir)
}

// isOurRedis reports whether pid is a redis-server working in dir
// (redis-server changes its working directory to its data directory). A
// process whose working directory can't be read is taken for ours, so that
// two servers never share one append-only file.
func isOurRedis(pid int, dir string) bool {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !bytes.Contains(cmdline, []byte("redis-server")) {
		return false
	}
	cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	return err != nil || cwd == dir
}

// processAlive reports whether pid runs; a zombie does not.
func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return !os.IsNotExist(err)
	}
	// "pid (comm) S ...": the state follows the last ')'.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z' && stat[i+2] != 'X'
	}
	return true
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("redis: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// logTail returns up to the last n bytes of the file at path.
func logTail(path string, n int64) []byte {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil
	}
	off := max(fi.Size()-n, 0)
	b, _ := io.ReadAll(io.NewSectionReader(f, off, n))
	return bytes.TrimSpace(b)
}
