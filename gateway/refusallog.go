package gateway

import (
	"log/slog"
	"sync"
	"time"
)

// Refusals (a refused CONNECT, a publish outside the ACL, a payload that
// does not decode) are logged as one short line each, without the payload,
// and at most refusalLogBurst lines at once and then one every
// refusalLogEvery per client: a misbehaving or hostile device must not be
// able to fill the disk through the log. Every refusal is still counted in
// the metrics; the next line that gets through says how many were not
// logged ("suppressed").
const (
	refusalLogBurst = 5
	refusalLogEvery = 10 * time.Second
	// refusalLogKeys bounds the clients remembered; past it they start afresh.
	refusalLogKeys = 10000
)

// refusalLog rate-limits refusal lines per client (a device or bridge
// account, or the remote host of a login that named none). Safe for
// concurrent use.
type refusalLog struct {
	log *slog.Logger

	mu      sync.Mutex
	clients map[string]*refusalBucket
}

type refusalBucket struct {
	tb         *tokenBucket
	suppressed int
}

func newRefusalLog(log *slog.Logger) *refusalLog {
	return &refusalLog{log: log, clients: map[string]*refusalBucket{}}
}

// Warn logs msg with args for client unless client is over its rate.
func (r *refusalLog) Warn(client, msg string, args ...any) {
	if n, ok := r.allow(client, time.Now()); !ok {
		return
	} else if n > 0 {
		args = append(args, "suppressed", n)
	}
	r.log.Warn(msg, args...)
}

// allow takes a token for client; it returns how many lines were
// suppressed since its last one, and whether this one may be logged.
func (r *refusalLog) allow(client string, now time.Time) (int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.clients[client]
	if b == nil {
		if len(r.clients) >= refusalLogKeys {
			clear(r.clients)
		}
		b = &refusalBucket{tb: newTokenBucket(1/refusalLogEvery.Seconds(), refusalLogBurst, now)}
		r.clients[client] = b
	}
	if b.tb.reserve(now, false) < 0 {
		b.suppressed++
		return 0, false
	}
	n := b.suppressed
	b.suppressed = 0
	return n, true
}
