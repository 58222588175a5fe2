package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/redis/go-redis/v9"

	"heed/engine"
)

// minSecretLen is the shortest API key or webhook secret heed accepts.
const minSecretLen = 16

// A config is heed serve's settings, from flags with environment fallbacks
// (API.md, "Running"). Flags win over the environment.
type config struct {
	Addr    string // listen address
	DataDir string // Badger, secrets.json and the private Redis live here
	// RedisURL is the Redis for asynq; empty: start a private redis-server.
	RedisURL string
	// Keys are the API keys given by --keys or HEED_API_KEYS; nil: the keys
	// stored in the data directory (generated on first start).
	Keys []apiKey
	// Channels has a target for every engine.Channel; unset ones are "log".
	Channels map[engine.Channel]channelTarget
	// WebhookSecret signs webhooks; empty: stored or generated.
	WebhookSecret string
	// ChangeWebhooks receive every consent, preference and erasure change.
	ChangeWebhooks []string
	// PoliciesDir overrides the embedded Rego policies; empty: embedded only.
	PoliciesDir string
	LogLevel    slog.Level
	MaxBody     int64 // largest request body accepted, in bytes
	// DebugAddr serves net/http/pprof when set; empty: not served.
	DebugAddr string
	// TrainEvery is how often the recommender retrains; 0: only on demand.
	TrainEvery time.Duration
	// Workers is how many campaign tasks this process works at once; 0:
	// none (heed worker processes work them; this one only plans).
	Workers int
	// SendLease is how long a claimed message belongs to its worker; zero:
	// engine.DefaultSendLease.
	SendLease time.Duration
	// PublicURL is where shoppers reach heed, for the unsubscribe links in
	// messages; empty: http://localhost:<port of Addr>.
	PublicURL string
}

// An apiKey is one API key and the role it holds.
type apiKey struct {
	Role engine.Role
	Key  string
}

// Channel target kinds.
const (
	targetLog     = "log"
	targetWebhook = "webhook"
	targetSMTP    = "smtp"
)

// A channelTarget says where a channel's messages go.
type channelTarget struct {
	Kind string // targetLog, targetWebhook or targetSMTP
	URL  string // the webhook or smtp URL; empty for targetLog
}

// Defaults of the settings that have one.
const (
	defaultAddr       = ":8080"
	defaultDataDir    = "./heed-data"
	defaultMaxBody    = 1 << 20
	defaultTrainEvery = time.Hour
	defaultWorkers    = 8
)

// rawFlags holds the flag values before they are checked.
type rawFlags struct {
	addr, data, redis, keys, policies, logLevel, maxBody, debugAddr, trainEvery, publicURL, sendLease, workers string
	channels, changeWebhooks                                                                                   listFlag
}

// A listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func newFlagSet(f *rawFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("heed serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned; run prints them once
	fs.StringVar(&f.addr, "addr", "", "listen address, HEED_ADDR (default "+defaultAddr+")")
	fs.StringVar(&f.data, "data", "", "data directory, HEED_DATA (default "+defaultDataDir+")")
	fs.StringVar(&f.redis, "redis", "", "Redis URL redis://host:port/db, HEED_REDIS (default: a private redis-server)")
	fs.StringVar(&f.keys, "keys", "", "API keys role=key,..., HEED_API_KEYS (default: generated, stored in the data directory)")
	fs.Var(&f.channels, "channel", "channel target name=target (repeatable), HEED_CHANNELS (default: every channel is log)")
	fs.Var(&f.changeWebhooks, "change-webhook", "URL to push changes to (repeatable), HEED_CHANGE_WEBHOOKS")
	fs.StringVar(&f.policies, "policies", "", "directory of Rego policies overriding the embedded ones, HEED_POLICIES")
	fs.StringVar(&f.logLevel, "log-level", "", "debug, info, warn or error, HEED_LOG_LEVEL (default info)")
	fs.StringVar(&f.debugAddr, "debug-addr", "", "address serving Go's /debug/pprof profiles, HEED_DEBUG_ADDR (default: none; keep it on loopback)")
	fs.StringVar(&f.trainEvery, "train-every", "", "how often the recommender retrains, e.g. 30m; 0: only on demand, HEED_TRAIN_EVERY (default 1h)")
	fs.StringVar(&f.maxBody, "max-body", "", "largest request body, in bytes or with KiB/MiB/GiB, HEED_MAX_BODY (default 1MiB)")
	fs.StringVar(&f.workers, "workers", "", "campaign tasks worked at once in this process; 0: none, heed worker processes work them, HEED_WORKERS (default 8)")
	fs.StringVar(&f.sendLease, "send-lease", "", "how long a worker owns a message it is sending; a crashed worker's are sent again (same idempotency key) after it, HEED_SEND_LEASE (default 2m)")
	fs.StringVar(&f.publicURL, "public-url", "", "where shoppers reach heed, for unsubscribe links, HEED_PUBLIC_URL (default http://localhost:<port>)")
	return fs
}

// printFlags writes the flags' help to w.
func printFlags(w io.Writer) {
	fs := newFlagSet(&rawFlags{})
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// parseConfig parses heed serve's flags (args, without the program and
// command names), falling back to getenv for each setting not given as a
// flag; an empty variable counts as unset. It returns flag.ErrHelp for -h.
// Errors name the flag or variable at fault and never echo a secret.
func parseConfig(args []string, getenv func(string) string) (config, error) {
	var f rawFlags
	fs := newFlagSet(&f)
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	given := make(map[string]bool)
	fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })

	// setting returns the flag's value if given, else the variable's, and
	// the name to blame in errors.
	setting := func(name, value, env string) (string, string) {
		if given[name] {
			return value, "--" + name
		}
		return getenv(env), env
	}
	list := func(name string, values []string, env string) ([]string, string) {
		if given[name] {
			return values, "--" + name
		}
		if v := getenv(env); v != "" {
			return []string{v}, env
		}
		return nil, env
	}

	cfg := config{Addr: defaultAddr, DataDir: defaultDataDir, MaxBody: defaultMaxBody, TrainEvery: defaultTrainEvery, Workers: defaultWorkers}
	var errs []error
	check := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}

	if v, src := setting("addr", f.addr, "HEED_ADDR"); v != "" || given["addr"] {
		cfg.Addr = v
		check(checkAddr(src, v))
	}
	if v, src := setting("data", f.data, "HEED_DATA"); v != "" || given["data"] {
		cfg.DataDir = v
		if strings.TrimSpace(v) == "" {
			check(fmt.Errorf("%s: empty data directory", src))
		}
	}
	if v, src := setting("redis", f.redis, "HEED_REDIS"); v != "" {
		cfg.RedisURL = v
		check(checkRedisURL(src, v))
	}
	if v, src := setting("keys", f.keys, "HEED_API_KEYS"); v != "" || given["keys"] {
		keys, err := parseKeys(src, v)
		cfg.Keys = keys
		check(err)
	}
	vals, src := list("channel", f.channels, "HEED_CHANNELS")
	chans, err := parseChannels(src, vals)
	cfg.Channels = chans
	check(err)
	if v := getenv("HEED_WEBHOOK_SECRET"); v != "" {
		cfg.WebhookSecret = v
		if len(v) < minSecretLen {
			check(fmt.Errorf("HEED_WEBHOOK_SECRET: shorter than %d characters", minSecretLen))
		}
	}
	vals, src = list("change-webhook", f.changeWebhooks, "HEED_CHANGE_WEBHOOKS")
	hooks, err := parseChangeWebhooks(src, vals)
	cfg.ChangeWebhooks = hooks
	check(err)
	if v, src := setting("policies", f.policies, "HEED_POLICIES"); v != "" {
		cfg.PoliciesDir = v
		if fi, err := os.Stat(v); err != nil || !fi.IsDir() {
			check(fmt.Errorf("%s: %q is not a directory", src, v))
		}
	}
	if v, src := setting("log-level", f.logLevel, "HEED_LOG_LEVEL"); v != "" {
		if err := cfg.LogLevel.UnmarshalText([]byte(v)); err != nil {
			check(fmt.Errorf("%s: unknown level %q (want debug, info, warn or error)", src, v))
		}
	}
	if v, src := setting("max-body", f.maxBody, "HEED_MAX_BODY"); v != "" {
		n, err := parseSize(v)
		if err != nil {
			check(fmt.Errorf("%s: %v", src, err))
		}
		cfg.MaxBody = n
	}
	if v, src := setting("train-every", f.trainEvery, "HEED_TRAIN_EVERY"); v != "" {
		d, err := time.ParseDuration(v)
		switch {
		case v == "0":
			cfg.TrainEvery = 0
		case err != nil || d < time.Minute:
			check(fmt.Errorf("%s: %q is not a duration of at least 1m such as 30m or 6h (or 0)", src, v))
		default:
			cfg.TrainEvery = d
		}
	}
	if v, src := setting("debug-addr", f.debugAddr, "HEED_DEBUG_ADDR"); v != "" {
		cfg.DebugAddr = v
		check(checkAddr(src, v))
	}
	if v, src := setting("workers", f.workers, "HEED_WORKERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 1024 {
			check(fmt.Errorf("%s: %q is not a number of workers from 0 to 1024", src, v))
		}
		cfg.Workers = n
	}
	if v, src := setting("send-lease", f.sendLease, "HEED_SEND_LEASE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 5*time.Second || d > time.Hour {
			check(fmt.Errorf("%s: %q is not a duration between 5s and 1h such as 2m", src, v))
		}
		cfg.SendLease = d
	}
	if v, src := setting("public-url", f.publicURL, "HEED_PUBLIC_URL"); v != "" {
		u, err := url.Parse(v)
		if err == nil {
			err = checkHTTPURL(u)
		}
		if err != nil {
			check(fmt.Errorf("%s: %q is not an http(s) URL", src, v))
		}
		cfg.PublicURL = strings.TrimRight(v, "/")
	}
	if len(errs) > 0 {
		return config{}, errors.Join(errs...)
	}
	return cfg, nil
}

// publicURL returns where shoppers reach heed: PublicURL, else the listen
// address on localhost.
func (c config) publicURL(listening string) string {
	if c.PublicURL != "" {
		return c.PublicURL
	}
	_, port, _ := net.SplitHostPort(listening)
	return "http://localhost:" + port
}

func checkAddr(src, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s: %q is not host:port", src, addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%s: bad port %q", src, port)
	}
	return nil
}

func checkRedisURL(src, raw string) error {
	u, err := url.Parse(raw)
	if err != nil { // url.Parse's error quotes the URL, password and all
		return fmt.Errorf("%s: not a URL (want redis://host:port/db)", src)
	}
	if _, err := redis.ParseURL(raw); err != nil {
		return fmt.Errorf("%s: %s: %v", src, u.Redacted(), err)
	}
	return nil
}

// parseKeys parses "role=key,role=key". Errors name the entry and role, not
// the key.
func parseKeys(src, s string) ([]apiKey, error) {
	var keys []apiKey
	seen := make(map[string]bool)
	for i, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue // a trailing comma
		}
		n := i + 1
		role, key, ok := strings.Cut(entry, "=")
		if !ok {
			return nil, fmt.Errorf("%s: entry %d: want role=key", src, n)
		}
		r := engine.Role(strings.TrimSpace(role))
		key = strings.TrimSpace(key)
		switch {
		case !r.Valid():
			return nil, fmt.Errorf("%s: entry %d: unknown role %q (want %s)", src, n, r, roleList())
		case key == "":
			return nil, fmt.Errorf("%s: entry %d: empty key for role %s", src, n, r)
		case len(key) < minSecretLen:
			return nil, fmt.Errorf("%s: entry %d: key for role %s is shorter than %d characters", src, n, r, minSecretLen)
		case strings.ContainsFunc(key, unicode.IsSpace):
			return nil, fmt.Errorf("%s: entry %d: key for role %s contains a space", src, n, r)
		case strings.HasPrefix(key, engine.TokenPrefix):
			return nil, fmt.Errorf("%s: entry %d: key for role %s starts with %q, which marks shopper tokens", src, n, r, engine.TokenPrefix)
		case seen[key]:
			return nil, fmt.Errorf("%s: entry %d: key for role %s is given twice", src, n, r)
		}
		seen[key] = true
		keys = append(keys, apiKey{Role: r, Key: key})
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: no keys given", src)
	}
	return keys, nil
}

func roleList() string {
	names := make([]string, len(engine.KeyRoles))
	for i, r := range engine.KeyRoles {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}

// parseChannels parses "name=target" pairs; each value may hold several,
// comma-separated. Every channel not named is "log".
func parseChannels(src string, values []string) (map[engine.Channel]channelTarget, error) {
	chans := make(map[engine.Channel]channelTarget, len(engine.Channels))
	set := make(map[engine.Channel]bool)
	n := 0
	for _, v := range values {
		for entry := range strings.SplitSeq(v, ",") {
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue
			}
			n++
			name, target, ok := strings.Cut(entry, "=")
			ch := engine.Channel(strings.TrimSpace(name))
			if !ok { // not echoed: it may be a URL with a password
				return nil, fmt.Errorf("%s: entry %d: want name=target", src, n)
			}
			if !ch.Valid() {
				return nil, fmt.Errorf("%s: unknown channel %q (want push, email, sms or inapp)", src, ch)
			}
			if set[ch] {
				return nil, fmt.Errorf("%s: channel %s is given twice", src, ch)
			}
			t, err := parseTarget(strings.TrimSpace(target))
			if err != nil {
				return nil, fmt.Errorf("%s: channel %s: %v", src, ch, err)
			}
			set[ch] = true
			chans[ch] = t
		}
	}
	for _, ch := range engine.Channels {
		if !set[ch] {
			chans[ch] = channelTarget{Kind: targetLog}
		}
	}
	return chans, nil
}

func parseTarget(s string) (channelTarget, error) {
	if s == targetLog {
		return channelTarget{Kind: targetLog}, nil
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return channelTarget{}, errors.New("target is not log, an http(s):// URL or smtp://host:port")
	}
	switch u.Scheme {
	case "http", "https":
		if err := checkHTTPURL(u); err != nil {
			return channelTarget{}, err
		}
		return channelTarget{Kind: targetWebhook, URL: s}, nil
	case "smtp":
		port, perr := strconv.Atoi(u.Port())
		switch {
		case u.Hostname() == "" || perr != nil || port < 1 || port > 65535:
			return channelTarget{}, fmt.Errorf("%s: want smtp://host:port", u.Redacted())
		case u.Path != "" && u.Path != "/", u.Fragment != "":
			return channelTarget{}, fmt.Errorf("%s: want smtp://host:port, with no path", u.Redacted())
		}
		return channelTarget{Kind: targetSMTP, URL: s}, nil
	}
	return channelTarget{}, fmt.Errorf("unsupported target scheme %q (want log, http, https or smtp)", u.Scheme)
}

func checkHTTPURL(u *url.URL) error {
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("%s: want an http:// or https:// URL with a host", u.Redacted())
	}
	if u.Fragment != "" {
		return fmt.Errorf("%s: a webhook URL has no #fragment", u.Redacted())
	}
	return nil
}

// parseChangeWebhooks parses comma-separated http(s) URLs.
func parseChangeWebhooks(src string, values []string) ([]string, error) {
	var hooks []string
	for _, v := range values {
		for raw := range strings.SplitSeq(v, ",") {
			raw = strings.TrimSpace(raw)
			if raw == "" {
				continue
			}
			u, err := url.Parse(raw)
			if err != nil {
				return nil, fmt.Errorf("%s: an entry is not a URL", src)
			}
			if err := checkHTTPURL(u); err != nil {
				return nil, fmt.Errorf("%s: %v", src, err)
			}
			if slices.Contains(hooks, raw) {
				return nil, fmt.Errorf("%s: %s is given twice", src, u.Redacted())
			}
			hooks = append(hooks, raw)
		}
	}
	return hooks, nil
}

// parseSize parses a byte count: a whole number, optionally followed by
// KiB, MiB or GiB; from 1 byte to 1 GiB.
func parseSize(s string) (int64, error) {
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"B", 1}} {
		if n, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 1 || n > (1<<30)/mult {
		return 0, fmt.Errorf("%q is not a size from 1 to 1GiB (bytes, or with KiB, MiB or GiB)", s)
	}
	return n * mult, nil
}
