package gateway

import (
	"log/slog"
	"sync"
	"time"
	"unicode/utf8"
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
// String values (names, client ids, topics, reasons a client caused) are
// clipped (clip), so a line stays short whatever the client sent.
func (r *refusalLog) Warn(client, msg string, args ...any) {
	if n, ok := r.allow(client, time.Now()); !ok {
		return
	} else if n > 0 {
		args = append(args, "suppressed", n)
	}
	for i, a := range args {
		if s, ok := a.(string); ok && i%2 == 1 {
			n := maxLoggedValue
			if args[i-1] == "detail" {
				n = maxLoggedDetail
			}
			args[i] = clip(s, n)
		}
	}
	r.log.Warn(msg, args...)
}

// maxLoggedValue bounds one string a client controls in a log line;
// maxLoggedDetail, the sentence that says what was wrong.
const (
	maxLoggedValue  = 48
	maxLoggedDetail = 120
)

// clip returns s cut to at most n bytes at a character boundary, with "…"
// for what was cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
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
