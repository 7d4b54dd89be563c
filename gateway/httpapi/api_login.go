package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/anxin-care/anxin/gateway/state"
	"github.com/prometheus/client_golang/prometheus"
)

// Logging in is the one place where a stranger chooses how much work the
// gateway does: every guess costs a PBKDF2 hash, about 40 ms of a core,
// and the alarm path shares those cores. So:
//
//   - Failed logins are counted per account and per source address; past a
//     few free failures each further attempt must wait twice as long as the
//     last (1 s, 2 s, 4 s … up to 15 min), and is answered 429 with
//     Retry-After without hashing anything. That answer is held back for
//     up to loginTarpit (while fewer than loginTarpitMax are held), so a
//     client that ignores Retry-After cannot spin the server answering it
//     either. A success clears the account's
//     count, never the source's (one valid account must not launder a
//     guesser's address). Unknown accounts are counted like known ones.
//   - An unknown user's password is hashed against a dummy hash, so that
//     the answer takes as long as a known user's and does not tell which
//     accounts exist.
//   - At most loginHashers passwords are hashed at once; up to loginQueue
//     logins wait their turn, for at most loginQueueWait, and the rest are
//     answered 503 with Retry-After.
//
// The price of the per-account limit: someone guessing at an account also
// delays its owner's next login, by at most loginBackoffMax. Sessions
// already open (a duty shift's login lasts 14 h) are not touched, and a
// restart forgets every count.
//
// The source is the TCP peer's address: behind a reverse proxy every login
// shares the proxy's address and only the per-account limit tells people
// apart, so the proxy should rate-limit too.
const (
	loginFreeAccountFailures = 5
	loginFreeSourceFailures  = 20
	loginBackoffBase         = time.Second
	loginBackoffMax          = 15 * time.Minute
	loginForget              = time.Hour // a failure count idle this long is forgotten
	loginTracked             = 10_000    // counts kept per table; beyond, an arbitrary one is forgotten
	loginHashers             = 1
	loginQueue               = 16
	loginQueueWait           = 5 * time.Second
	loginTarpit              = time.Second
	loginTarpitMax           = 256
)

// errLoginBusy answers a login that found the hashing queue full.
var errLoginBusy = errors.New("too many logins at once")

// logins is the login handler's defence: throttles and the hashing gate.
type logins struct {
	accounts, sources *backoff
	hash              *hashGate
	held              atomic.Int64 // throttled answers being held back
	results           *prometheus.CounterVec
}

// holdBack delays a throttled answer by at most d and loginTarpit, unless
// too many are held already or the client goes.
func (l *logins) holdBack(ctx context.Context, d time.Duration) {
	defer l.held.Add(-1)
	if l.held.Add(1) > loginTarpitMax {
		return
	}
	t := time.NewTimer(min(d, loginTarpit))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func newLogins(reg prometheus.Registerer) *logins {
	l := &logins{
		accounts: newBackoff(loginFreeAccountFailures),
		sources:  newBackoff(loginFreeSourceFailures),
		hash:     newHashGate(loginHashers, loginQueue, loginQueueWait),
		results: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "anxin_logins_total",
			Help: "API login attempts by result: ok, refused (wrong user or password), throttled, busy."}, []string{"result"}),
	}
	reg.MustRegister(l.results)
	return l
}

// backoff counts failures per key and says how long a key must wait. Safe
// for concurrent use.
type backoff struct {
	mu   sync.Mutex
	free int
	m    map[string]*failures
}

type failures struct {
	n     int
	last  time.Time
	until time.Time
}

func newBackoff(free int) *backoff { return &backoff{free: free, m: map[string]*failures{}} }

// wait is how long key must still wait before its next attempt.
func (b *backoff) wait(key string, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	f := b.m[key]
	if f == nil {
		return 0
	}
	if now.Sub(f.last) > loginForget && !now.Before(f.until) {
		delete(b.m, key)
		return 0
	}
	return max(f.until.Sub(now), 0)
}

// fail counts a failure of key and starts its next wait.
func (b *backoff) fail(key string, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f := b.m[key]
	if f == nil {
		if len(b.m) >= loginTracked {
			b.sweep(now)
		}
		f = &failures{}
		b.m[key] = f
	}
	f.n++
	f.last = now
	if over := f.n - b.free; over > 0 {
		d := loginBackoffMax
		if over <= 20 {
			d = min(loginBackoffBase<<(over-1), loginBackoffMax)
		}
		f.until = now.Add(d)
	}
}

// sweep forgets idle counts, and one arbitrary count if none is idle, so
// that the table stays bounded however many names or addresses are tried.
func (b *backoff) sweep(now time.Time) {
	for k, f := range b.m {
		if now.Sub(f.last) > loginForget && !now.Before(f.until) {
			delete(b.m, k)
		}
	}
	for k := range b.m {
		if len(b.m) < loginTracked {
			break
		}
		delete(b.m, k)
	}
}

// reset forgets key's failures.
func (b *backoff) reset(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.m, key)
}

// hashGate bounds how many password hashes run at once and how many wait.
type hashGate struct {
	sem     chan struct{}
	waiting atomic.Int64
	queue   int64
	maxWait time.Duration
}

func newHashGate(n, queue int, maxWait time.Duration) *hashGate {
	return &hashGate{sem: make(chan struct{}, n), queue: int64(queue), maxWait: maxWait}
}

// do runs fn when a hashing slot is free, or returns errLoginBusy when too
// many wait already or the wait is too long.
func (h *hashGate) do(ctx context.Context, fn func()) error {
	if h.waiting.Add(1) > h.queue {
		h.waiting.Add(-1)
		return errLoginBusy
	}
	t := time.NewTimer(h.maxWait)
	defer t.Stop()
	select {
	case h.sem <- struct{}{}:
		h.waiting.Add(-1)
	case <-t.C:
		h.waiting.Add(-1)
		return errLoginBusy
	case <-ctx.Done():
		h.waiting.Add(-1)
		return fmt.Errorf("login: %w", ctx.Err())
	}
	defer func() { <-h.sem }()
	fn()
	return nil
}

// sourceOf is the address a request came from, without its port.
func sourceOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// retryAfter sets Retry-After to d in whole seconds, at least one.
func retryAfter(w http.ResponseWriter, d time.Duration) int {
	s := max(int((d+time.Second-1)/time.Second), 1)
	w.Header().Set("Retry-After", strconv.Itoa(s))
	return s
}

type loginRequest struct {
	User     string `json:"user"`
	Password string `json:"password"`
	// Cookie asks for a browser session (api_session.go): the token goes
	// into the session cookie, the answer carries a CSRF token instead.
	Cookie bool `json:"cookie"`
}

type loginResponse struct {
	Token   string     `json:"token,omitempty"` // absent for a cookie session: the page never holds it
	User    string     `json:"user"`
	Role    state.Role `json:"role"`
	Expires time.Time  `json:"expires"`
	CSRF    string     `json:"csrf,omitempty"`
}

func (srv *server) login(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if !readJSON(w, r, &req) {
		return
	}
	if req.User == "" || req.Password == "" {
		writeError(w, http.StatusBadRequest, `"user" and "password" are required`)
		return
	}
	l, src, now := srv.logins, sourceOf(r), srv.now()
	if len(req.User) > 4*state.MaxUserNameLen { // no account has such a name; keep the tables small
		l.sources.fail(src, now)
		l.results.WithLabelValues("refused").Inc()
		writeError(w, http.StatusUnauthorized, state.ErrBadLogin.Error())
		return
	}
	if d := max(l.accounts.wait(req.User, now), l.sources.wait(src, now)); d > 0 {
		l.results.WithLabelValues("throttled").Inc()
		l.holdBack(r.Context(), d)
		s := retryAfter(w, d)
		writeError(w, http.StatusTooManyRequests, fmt.Sprintf("too many failed logins for this user or from this address: try again in %d s", s))
		return
	}
	var u state.User
	var err error
	if herr := l.hash.do(r.Context(), func() { u, err = srv.db.CheckPassword(req.User, req.Password) }); herr != nil {
		l.results.WithLabelValues("busy").Inc()
		retryAfter(w, time.Second)
		writeError(w, http.StatusServiceUnavailable, herr.Error()+": try again shortly")
		return
	}
	if errors.Is(err, state.ErrBadLogin) {
		now := srv.now()
		l.accounts.fail(req.User, now)
		l.sources.fail(src, now)
		l.results.WithLabelValues("refused").Inc()
		srv.log.Warn("login refused", "user", clipName(req.User), "remote", src)
		writeError(w, http.StatusUnauthorized, err.Error())
		return
	}
	if errors.Is(err, state.ErrUserDisabled) {
		l.results.WithLabelValues("refused").Inc()
		srv.log.Warn("login of a disabled user refused", "user", req.User, "remote", src)
		writeError(w, http.StatusForbidden, err.Error())
		return
	}
	var token string
	var sess state.Session
	if err == nil && req.Cookie {
		token, sess, err = srv.db.NewCookieSession(u, srv.now(), srv.SessionTTL)
	} else if err == nil {
		token, sess, err = srv.db.NewSession(u, srv.now(), srv.SessionTTL)
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	l.accounts.reset(req.User)
	l.results.WithLabelValues("ok").Inc()
	srv.log.Info("login", "user", sess.User, "role", sess.Role, "cookie", req.Cookie)
	resp := loginResponse{Token: token, User: sess.User, Role: sess.Role, Expires: sess.Expires, CSRF: sess.CSRF}
	if req.Cookie {
		setSessionCookie(w, r, token, sess.Expires.Sub(srv.now()))
		resp.Token = ""
	}
	writeJSON(w, http.StatusOK, resp)
}

// clipName bounds a name a stranger typed to what a log line should carry:
// 48 bytes at a character boundary, "…" for the rest.
func clipName(s string) string {
	const n = 48
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
