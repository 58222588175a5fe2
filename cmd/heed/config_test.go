package main

import (
	"errors"
	"flag"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"heed/engine"
)

// env returns a getenv over m, so tests never touch the real environment.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// allLog is the channel map when no channel is configured.
func allLog() map[engine.Channel]channelTarget {
	m := make(map[engine.Channel]channelTarget)
	for _, ch := range engine.Channels {
		m[ch] = channelTarget{Kind: targetLog}
	}
	return m
}

func withChannels(m map[engine.Channel]channelTarget) map[engine.Channel]channelTarget {
	all := allLog()
	for k, v := range m {
		all[k] = v
	}
	return all
}

const (
	key1 = "0123456789abcdef"
	key2 = "fedcba9876543210-x"
)

func TestParseConfig(t *testing.T) {
	policies := t.TempDir()
	base := config{Addr: ":8080", DataDir: "./heed-data", MaxBody: 1 << 20, Channels: allLog(), TrainEvery: time.Hour, Workers: 8}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want func(c *config)
	}{
		{name: "Defaults", want: func(c *config) {}},
		{
			name: "Env",
			env: map[string]string{
				"HEED_ADDR": "127.0.0.1:9000", "HEED_DATA": "/var/lib/heed", "HEED_REDIS": "redis://localhost:6379/2",
				"HEED_API_KEYS":        "admin=" + key1 + ", storefront=" + key2 + ",",
				"HEED_CHANNELS":        "email=smtp://mail.example:25,push=https://push.example/hook,sms=log",
				"HEED_WEBHOOK_SECRET":  "a-long-webhook-secret",
				"HEED_CHANGE_WEBHOOKS": "https://crm.example/heed, http://pos.example:8081/changes",
				"HEED_POLICIES":        policies, "HEED_LOG_LEVEL": "debug", "HEED_MAX_BODY": "2MiB",
				"HEED_TRAIN_EVERY": "30m", "HEED_WORKERS": "0", "HEED_SEND_LEASE": "30s", "HEED_PUBLIC_URL": "https://shop.example/heed/",
			},
			want: func(c *config) {
				c.Addr, c.DataDir, c.RedisURL = "127.0.0.1:9000", "/var/lib/heed", "redis://localhost:6379/2"
				c.Keys = []apiKey{{engine.RoleAdmin, key1}, {engine.RoleStorefront, key2}}
				c.Channels = withChannels(map[engine.Channel]channelTarget{
					engine.ChannelEmail: {targetSMTP, "smtp://mail.example:25"},
					engine.ChannelPush:  {targetWebhook, "https://push.example/hook"},
				})
				c.WebhookSecret = "a-long-webhook-secret"
				c.ChangeWebhooks = []string{"https://crm.example/heed", "http://pos.example:8081/changes"}
				c.PoliciesDir, c.LogLevel, c.MaxBody = policies, slog.LevelDebug, 2<<20
				c.TrainEvery = 30 * time.Minute
				c.Workers, c.SendLease, c.PublicURL = 0, 30*time.Second, "https://shop.example/heed"
			},
		},
		{
			name: "FlagsWinOverEnv",
			args: []string{"--addr=:9090", "-data", "/tmp/d", "--redis", "unix:///run/redis.sock",
				"--keys", "marketing=" + key1 + ",marketing=" + key2,
				"--channel", "inapp=http://inapp.example", "--channel=email=log,sms=https://sms.example/send",
				"--change-webhook", "https://a.example", "--change-webhook=https://b.example",
				"--log-level", "WARN", "--max-body", "4096", "--train-every", "0", "--workers", "32", "--send-lease", "5m"},
			env: map[string]string{
				"HEED_ADDR": ":1", "HEED_DATA": "/elsewhere", "HEED_REDIS": "redis://other:6379",
				"HEED_API_KEYS": "admin=" + key1, "HEED_CHANNELS": "push=https://ignored.example",
				"HEED_CHANGE_WEBHOOKS": "https://ignored.example", "HEED_LOG_LEVEL": "error", "HEED_MAX_BODY": "1",
			},
			want: func(c *config) {
				c.Addr, c.DataDir, c.RedisURL = ":9090", "/tmp/d", "unix:///run/redis.sock"
				c.Keys = []apiKey{{engine.RoleMarketing, key1}, {engine.RoleMarketing, key2}}
				c.Channels = withChannels(map[engine.Channel]channelTarget{
					engine.ChannelInApp: {targetWebhook, "http://inapp.example"},
					engine.ChannelSMS:   {targetWebhook, "https://sms.example/send"},
				})
				c.ChangeWebhooks = []string{"https://a.example", "https://b.example"}
				c.LogLevel, c.MaxBody = slog.LevelWarn, 4096
				c.TrainEvery = 0
				c.Workers, c.SendLease = 32, 5*time.Minute
			},
		},
		{
			name: "EmptyFlagOverridesEnvRedis",
			args: []string{"--redis="},
			env:  map[string]string{"HEED_REDIS": "redis://other:6379"},
			want: func(c *config) {},
		},
		{
			name: "SizesAndLevels",
			args: []string{"--max-body=512KiB", "--log-level=error"},
			want: func(c *config) { c.MaxBody, c.LogLevel = 512<<10, slog.LevelError },
		},
		{
			name: "SMTPWithAuth",
			env:  map[string]string{"HEED_CHANNELS": "email=smtp://user:pw@mail.example:587"},
			want: func(c *config) {
				c.Channels = withChannels(map[engine.Channel]channelTarget{
					engine.ChannelEmail: {targetSMTP, "smtp://user:pw@mail.example:587"},
				})
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseConfig(tt.args, env(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			want := base
			want.Channels = allLog()
			tt.want(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("parseConfig (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string // in the error
	}{
		{"UnknownFlag", []string{"--nope"}, nil, "flag provided but not defined: -nope"},
		{"ExtraArgument", []string{"extra"}, nil, `unexpected argument "extra"`},
		{"BadAddr", []string{"--addr", "8080"}, nil, `--addr: "8080" is not host:port`},
		{"BadPort", nil, map[string]string{"HEED_ADDR": ":99999"}, `HEED_ADDR: bad port "99999"`},
		{"EmptyData", []string{"--data="}, nil, "--data: empty data directory"},
		{"BadRedisScheme", []string{"--redis", "http://x"}, nil, "--redis: http://x: redis: invalid URL scheme"},
		{"RedisURLNotEchoed", nil, map[string]string{"HEED_REDIS": "redis://:sekrit@host:6379/x"}, "HEED_REDIS: redis://:xxxxx@host:6379/x"},
		{"KeyUnknownRole", nil, map[string]string{"HEED_API_KEYS": "root=" + key1}, `HEED_API_KEYS: entry 1: unknown role "root" (want admin, storefront, merchandiser, marketing)`},
		{"KeyEmpty", []string{"--keys", "admin=" + key1 + ",storefront="}, nil, "--keys: entry 2: empty key for role storefront"},
		{"KeyShort", nil, map[string]string{"HEED_API_KEYS": "merchandiser=short"}, "HEED_API_KEYS: entry 1: key for role merchandiser is shorter than 16 characters"},
		{"KeyNoRole", nil, map[string]string{"HEED_API_KEYS": key1}, "HEED_API_KEYS: entry 1: want role=key"},
		{"KeyTwice", nil, map[string]string{"HEED_API_KEYS": "admin=" + key1 + ",marketing=" + key1}, "entry 2: key for role marketing is given twice"},
		{"KeyLooksLikeToken", nil, map[string]string{"HEED_API_KEYS": "admin=hst_0123456789abcdef"}, `starts with "hst_"`},
		{"KeysEmptyFlag", []string{"--keys="}, nil, "--keys: no keys given"},
		{"ChannelUnknown", nil, map[string]string{"HEED_CHANNELS": "fax=log"}, `HEED_CHANNELS: unknown channel "fax"`},
		{"ChannelNoTarget", []string{"--channel", "email"}, nil, "--channel: entry 1: want name=target"},
		{"ChannelTwice", []string{"--channel", "email=log", "--channel", "email=log"}, nil, "--channel: channel email is given twice"},
		{"ChannelBadScheme", nil, map[string]string{"HEED_CHANNELS": "sms=ftp://x"}, `HEED_CHANNELS: channel sms: unsupported target scheme "ftp"`},
		{"ChannelNotURL", nil, map[string]string{"HEED_CHANNELS": "sms=nonsense"}, "HEED_CHANNELS: channel sms: target is not log, an http(s):// URL or smtp://host:port"},
		{"ChannelHTTPNoHost", nil, map[string]string{"HEED_CHANNELS": "push=https:///path"}, "HEED_CHANNELS: channel push: https:///path: want an http:// or https:// URL with a host"},
		{"ChannelSMTPNoPort", nil, map[string]string{"HEED_CHANNELS": "email=smtp://mail.example"}, "channel email: smtp://mail.example: want smtp://host:port"},
		{"ChannelSMTPPath", nil, map[string]string{"HEED_CHANNELS": "email=smtp://u:pw@mail.example:25/x"}, "channel email: smtp://u:xxxxx@mail.example:25/x: want smtp://host:port, with no path"},
		{"WebhookSecretShort", nil, map[string]string{"HEED_WEBHOOK_SECRET": "short"}, "HEED_WEBHOOK_SECRET: shorter than 16 characters"},
		{"ChangeWebhookScheme", nil, map[string]string{"HEED_CHANGE_WEBHOOKS": "https://ok.example,ftp://crm.example"}, "HEED_CHANGE_WEBHOOKS: ftp://crm.example: want an http:// or https:// URL with a host"},
		{"ChangeWebhookTwice", []string{"--change-webhook", "https://a.example,https://a.example"}, nil, "--change-webhook: https://a.example is given twice"},
		{"PoliciesMissing", []string{"--policies", "/no/such/dir"}, nil, `--policies: "/no/such/dir" is not a directory`},
		{"LogLevel", nil, map[string]string{"HEED_LOG_LEVEL": "loud"}, `HEED_LOG_LEVEL: unknown level "loud"`},
		{"MaxBodyZero", []string{"--max-body", "0"}, nil, `--max-body: "0" is not a size from 1 to 1GiB`},
		{"MaxBodyHuge", nil, map[string]string{"HEED_MAX_BODY": "2GiB"}, `HEED_MAX_BODY: "2GiB" is not a size`},
		{"MaxBodyUnit", nil, map[string]string{"HEED_MAX_BODY": "1MB"}, `HEED_MAX_BODY: "1MB" is not a size`},
		{"TrainEveryShort", []string{"--train-every", "5s"}, nil, `--train-every: "5s" is not a duration of at least 1m`},
		{"TrainEveryNonsense", nil, map[string]string{"HEED_TRAIN_EVERY": "daily"}, `HEED_TRAIN_EVERY: "daily" is not a duration`},
		{"WorkersNegative", []string{"--workers", "-1"}, nil, `--workers: "-1" is not a number of workers`},
		{"SendLeaseShort", nil, map[string]string{"HEED_SEND_LEASE": "1s"}, `HEED_SEND_LEASE: "1s" is not a duration between 5s and 1h`},
		{"PublicURLScheme", []string{"--public-url", "ftp://shop.example"}, nil, `--public-url: "ftp://shop.example" is not an http(s) URL`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseConfig(tt.args, env(tt.env))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("parseConfig error = %v, want it to contain %q", err, tt.want)
			}
			for _, secret := range []string{key1, "sekrit", ":pw@"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q reveals a secret", err)
				}
			}
		})
	}
}

func TestParseConfigReportsEveryError(t *testing.T) {
	_, err := parseConfig([]string{"--addr=x", "--log-level=loud"}, env(nil))
	for _, want := range []string{"--addr", "--log-level"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %s", err, want)
		}
	}
}

func TestParseConfigHelp(t *testing.T) {
	if _, err := parseConfig([]string{"-h"}, env(nil)); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("parseConfig(-h) = %v, want flag.ErrHelp", err)
	}
}
