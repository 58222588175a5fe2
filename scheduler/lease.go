package scheduler

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// A lease is a Redis key (the planner's: one planner at a time for a
// store, however many processes work it) held with a random token and a time to live: the
// holder renews it, and another process takes it only once it lapsed.
// Renewing and releasing compare the token, so a holder that stalled past
// the TTL cannot renew or release what another process now holds.
type lease struct {
	rdb   redis.UniversalClient
	key   string
	token string
	ttl   time.Duration
}

func newLease(rdb redis.UniversalClient, key string, ttl time.Duration) *lease {
	var b [16]byte
	rand.Read(b[:])
	return &lease{rdb: rdb, key: key, token: hex.EncodeToString(b[:]), ttl: ttl}
}

var renewScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0`)

var releaseScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("DEL", KEYS[1])
end
return 0`)

// hold takes the lease if it is free and renews it if held: it reports
// whether this process holds it now.
func (l *lease) hold(ctx context.Context) (bool, error) {
	ok, err := l.rdb.SetNX(ctx, l.key, l.token, l.ttl).Result()
	if err != nil || ok {
		return ok, err
	}
	n, err := renewScript.Run(ctx, l.rdb, []string{l.key}, l.token, l.ttl.Milliseconds()).Int()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	return n == 1, err
}

// release gives the lease up, if this process holds it.
func (l *lease) release(ctx context.Context) {
	releaseScript.Run(ctx, l.rdb, []string{l.key}, l.token)
}
