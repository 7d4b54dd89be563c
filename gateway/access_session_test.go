package gateway_test

import (
	"bufio"
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/gateway/httpapi"
	"github.com/anxin-care/anxin/gateway/state"
)

// fakeClock is a clock a test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// liveStream is an open event stream: ended is closed when the gateway
// ends it.
type liveStream struct{ ended chan struct{} }

// openLive opens path (the alarm stream or a device watch) as c, by its
// bearer token or, for a console client, its cookie, and fails the test
// unless the gateway answers 200.
func openLive(t *testing.T, base string, c *gatewaytest.Client, path string) *liveStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", base+path, nil)
	if c.Cookie != "" {
		req.AddCookie(&http.Cookie{Name: httpapi.SessionCookie, Value: c.Cookie})
	} else {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		resp.Body.Close()
		t.Fatalf("open %s: HTTP %d", path, resp.StatusCode)
	}
	s := &liveStream{ended: make(chan struct{})}
	go func() {
		defer close(s.ended)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
		}
	}()
	return s
}

// waitEnded fails the test unless the gateway ends s within 5 s.
func (s *liveStream) waitEnded(t *testing.T, what string) {
	t.Helper()
	select {
	case <-s.ended:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: the open stream is still open 5 s later", what)
	}
}

// stillOpen fails the test if s has ended. It is asked after a stream
// that was ended by the same action has been seen to end, so that the
// action is known to be done.
func (s *liveStream) stillOpen(t *testing.T, what string) {
	t.Helper()
	select {
	case <-s.ended:
		t.Fatalf("%s: a stream that should stay open was ended", what)
	default:
	}
}

// code is the status of GET /api/v1/me as c.
func code(c *gatewaytest.Client) int { return c.Do("GET", "/api/v1/me", nil, nil) }

// statusOf is the status of GET path as c.
func statusOf(c *gatewaytest.Client, path string) int { return c.Do("GET", path, nil, nil) }

// TestSessionsEnd: a session ends when it expires (session_ttl on the
// gateway's clock), at logout, and when its person is disabled; then its
// bearer token and its cookie are refused and its open streams closed at
// once, while the person's other sessions (logout) and other people stay.
func TestSessionsEnd(t *testing.T) {
	start := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	clock := &fakeClock{now: start}
	g := gatewaytest.Start(t, gateway.Config{SessionTTL: alerting.Duration(time.Hour)}, gatewaytest.WithClock(clock.Now))
	g.SeedSites()
	g.Provision("btn-1", "call_button")
	li := g.AddUser("li", state.RoleOperator)
	wu := g.AddUser("wu", state.RoleInstaller)

	t.Run("expiry", func(t *testing.T) {
		bearer, cookie := g.Login("li", "li-long-password"), g.LoginCookie("li", "li-long-password")
		clock.Set(start.Add(59 * time.Minute))
		for name, c := range map[string]*gatewaytest.Client{"bearer": bearer, "cookie": cookie} {
			if got := code(c); got != 200 {
				t.Fatalf("%s a minute before expiry: HTTP %d, want 200", name, got)
			}
		}
		// With a second left, a stream opens, and ends when the session does.
		clock.Set(start.Add(time.Hour - time.Second))
		s := openLive(t, g.BaseURL, bearer, "/api/v1/stream")
		s.waitEnded(t, "session expired")
		clock.Set(start.Add(time.Hour + time.Second))
		for name, c := range map[string]*gatewaytest.Client{"bearer": bearer, "cookie": cookie} {
			if got := code(c); got != 401 {
				t.Fatalf("%s a second after expiry: HTTP %d, want 401", name, got)
			}
		}
		clock.Set(start)
	})

	t.Run("wall token expiry", func(t *testing.T) {
		wall, _ := newWall(t, g, "expiring wall")
		clock.Set(start.Add(state.WallTokenTTL - time.Minute))
		if got := statusOf(wall, "/api/v1/wall/summary"); got != 200 {
			t.Fatalf("a wall token a minute before expiry: HTTP %d, want 200", got)
		}
		clock.Set(start.Add(state.WallTokenTTL + time.Second))
		if got := statusOf(wall, "/api/v1/wall/summary"); got != 401 {
			t.Fatalf("a wall token after expiry: HTTP %d, want 401", got)
		}
		clock.Set(start)
	})

	t.Run("logout", func(t *testing.T) {
		first, second := g.Login("li", "li-long-password"), g.Login("li", "li-long-password")
		cookie := g.LoginCookie("li", "li-long-password")
		firstStream := openLive(t, g.BaseURL, first, "/api/v1/stream")
		secondStream := openLive(t, g.BaseURL, second, "/api/v1/stream")
		cookieStream := openLive(t, g.BaseURL, cookie, "/api/v1/stream")
		if got := first.Do("POST", "/api/v1/logout", nil, nil); got != 204 {
			t.Fatalf("logout: HTTP %d", got)
		}
		firstStream.waitEnded(t, "logout")
		if got := code(first); got != 401 {
			t.Fatalf("the token after logout: HTTP %d, want 401", got)
		}
		secondStream.stillOpen(t, "another session of the same person")
		cookieStream.stillOpen(t, "the same person's console")
		if code(second) != 200 || code(cookie) != 200 {
			t.Fatal("logout ended the person's other sessions")
		}
		if got := cookie.Do("POST", "/api/v1/logout", nil, nil); got != 204 {
			t.Fatalf("console logout: HTTP %d", got)
		}
		cookieStream.waitEnded(t, "console logout")
		if got := code(cookie); got != 401 {
			t.Fatalf("the cookie after logout: HTTP %d, want 401", got)
		}
		secondStream.stillOpen(t, "another session of the same person")
	})

	t.Run("sites changed", func(t *testing.T) {
		// li serves everywhere (no sites); given one village, her open
		// stream ends, to reconnect with the narrower scope, and her
		// session goes on.
		s := openLive(t, g.BaseURL, li, "/api/v1/stream")
		other := openLive(t, g.BaseURL, wu, "/api/v1/stream")
		if got := g.Admin.Do("PATCH", "/api/v1/users/li", map[string]any{"sites": []string{"qs-village"}}, nil); got != 200 {
			t.Fatalf("PATCH li's sites: HTTP %d", got)
		}
		s.waitEnded(t, "sites narrowed")
		other.stillOpen(t, "another person's stream")
		if got := code(li); got != 200 {
			t.Fatalf("li after her sites changed: HTTP %d, want 200", got)
		}
		openLive(t, g.BaseURL, li, "/api/v1/stream") // reconnects
		if got := g.Admin.Do("PATCH", "/api/v1/users/li", map[string]any{"display_name": "李"}, nil); got != 200 {
			t.Fatalf("PATCH li's name: HTTP %d", got)
		}
	})

	t.Run("disabled", func(t *testing.T) {
		cookie := g.LoginCookie("li", "li-long-password")
		streams := []*liveStream{
			openLive(t, g.BaseURL, li, "/api/v1/stream"),
			openLive(t, g.BaseURL, cookie, "/api/v1/stream"),
		}
		watch := openLive(t, g.BaseURL, wu, "/api/v1/devices/btn-1/watch")
		other := openLive(t, g.BaseURL, g.Admin, "/api/v1/stream")
		for _, who := range []string{"li", "wu"} {
			if got := g.Admin.Do("POST", "/api/v1/users/"+who+"/disable", nil, nil); got != 200 {
				t.Fatalf("disable %s: HTTP %d", who, got)
			}
		}
		for _, s := range append(streams, watch) {
			s.waitEnded(t, "disabled")
		}
		other.stillOpen(t, "the admin's stream")
		for name, c := range map[string]*gatewaytest.Client{"li bearer": li, "li cookie": cookie, "wu bearer": wu} {
			if got := code(c); got != 401 {
				t.Fatalf("%s after disabling: HTTP %d, want 401", name, got)
			}
		}
		var e httpapi.APIError
		if got := g.Anonymous().Do("POST", "/api/v1/login", map[string]string{"user": "li", "password": "li-long-password"}, &e); got != 403 {
			t.Fatalf("a disabled user's login: HTTP %d (%s), want 403", got, e.Error)
		}
		if got := g.Admin.Do("POST", "/api/v1/users/li/enable", nil, nil); got != 200 {
			t.Fatalf("enable: HTTP %d", got)
		}
		if code(li) != 401 {
			t.Fatal("enabling brought an ended session back")
		}
		if code(g.Login("li", "li-long-password")) != 200 {
			t.Fatal("an enabled user cannot log in")
		}
	})
}
