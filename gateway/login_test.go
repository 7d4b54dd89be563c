package gateway_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting/alertingtest"
	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/gateway/state"
)

// tryLogin posts a login and returns the status, the Retry-After header and
// how long the answer took.
func tryLogin(t testing.TB, base, user, password string) (int, string, time.Duration) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"user": user, "password": password})
	start := time.Now()
	resp, err := http.Post(base+"/api/v1/login", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Retry-After"), time.Since(start)
}

// TestLoginBackoff: an account's wrong passwords are answered 401 a few
// times, then 429 with a Retry-After that doubles, on the gateway's clock;
// while it runs even the right password waits; after it, the right
// password logs in and clears the count.
func TestLoginBackoff(t *testing.T) {
	clock := alertingtest.NewClock(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	g := gatewaytest.Start(t, gateway.Config{}, gatewaytest.WithClock(clock.Now))
	g.AddUser("zhang", state.RoleOperator)
	for i := range 6 {
		if code, _, _ := tryLogin(t, g.BaseURL, "zhang", "wrong-password"); code != 401 {
			t.Fatalf("wrong password %d: HTTP %d, want 401", i+1, code)
		}
	}
	for _, wait := range []string{"1", "2", "4"} {
		code, after, _ := tryLogin(t, g.BaseURL, "zhang", "wrong-password")
		if code != 429 || after != wait {
			t.Fatalf("after the free failures: HTTP %d Retry-After %q, want 429 and %s", code, after, wait)
		}
		if code, _, _ := tryLogin(t, g.BaseURL, "zhang", "zhang-long-password"); code != 429 {
			t.Fatalf("right password while throttled: HTTP %d, want 429", code)
		}
		n, _ := strconv.Atoi(wait)
		clock.Advance(time.Duration(n) * time.Second)
		if code, _, _ := tryLogin(t, g.BaseURL, "zhang", "wrong-password"); code != 401 {
			t.Fatalf("after waiting %s s: HTTP %d, want 401", wait, code)
		}
	}
	clock.Advance(8 * time.Second)
	if code, _, _ := tryLogin(t, g.BaseURL, "zhang", "zhang-long-password"); code != 200 {
		t.Fatalf("right password after the wait: HTTP %d", code)
	}
	if code, _, _ := tryLogin(t, g.BaseURL, "zhang", "wrong-password"); code != 401 {
		t.Fatalf("a login clears the account's count: HTTP %d, want 401", code)
	}
	if got := g.Metric(`anxin_logins_total{result="throttled"}`); got != 6 {
		t.Fatalf("anxin_logins_total{result=throttled} = %v, want 6", got)
	}
}

// TestLoginBackoffPerSource: one address guessing many names, known or
// not, is throttled as a whole, so spreading guesses over accounts buys
// nothing; every answer before that is the same 401.
func TestLoginBackoffPerSource(t *testing.T) {
	clock := alertingtest.NewClock(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	g := gatewaytest.Start(t, gateway.Config{}, gatewaytest.WithClock(clock.Now))
	for i := range 20 {
		if code, _, _ := tryLogin(t, g.BaseURL, fmt.Sprintf("user%d", i), "guess-password"); code != 401 {
			t.Fatalf("guess %d: HTTP %d, want 401", i, code)
		}
	}
	if code, _, _ := tryLogin(t, g.BaseURL, "nobody", "guess-password"); code != 401 {
		t.Fatalf("21st guess: HTTP %d, want 401", code)
	}
	code, after, _ := tryLogin(t, g.BaseURL, "admin", gatewaytest.AdminPassword)
	if code != 429 || after != "1" {
		t.Fatalf("after 21 failures from one address: HTTP %d Retry-After %q, want 429 and 1", code, after)
	}
}

// TestLoginUnknownUserTakesAsLong: an unknown user name is answered in
// about the time a known one is, because its password is hashed against a
// dummy. Before, 0.5 ms against 42 ms told which accounts exist. The
// bound is loose (a quarter) and the figures are printed.
func TestLoginUnknownUserTakesAsLong(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	g.AddUser("zhang", state.RoleOperator)
	var known, unknown []time.Duration
	for i := range 4 {
		code, _, d := tryLogin(t, g.BaseURL, "zhang", "wrong-password")
		if code != 401 {
			t.Fatalf("known user: HTTP %d", code)
		}
		known = append(known, d)
		code, _, d = tryLogin(t, g.BaseURL, fmt.Sprintf("ghost%d", i), "wrong-password")
		if code != 401 {
			t.Fatalf("unknown user: HTTP %d", code)
		}
		unknown = append(unknown, d)
	}
	slices.Sort(known)
	slices.Sort(unknown)
	k, u := known[len(known)/2], unknown[len(unknown)/2]
	t.Logf("median wrong-password answer: known user %v, unknown user %v", k, u)
	if u < k/4 {
		t.Fatalf("an unknown user is answered in %v, a known one in %v: that tells which accounts exist", u, k)
	}
}

// TestLogoutEndsQueryTokenSession: a session whose token came as
// ?access_token= ends on logout however the token came, and such a token
// is taken only by the event streams and logout.
func TestLogoutEndsQueryTokenSession(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	c := g.AddUser("zhang", state.RoleOperator)
	anon := g.Anonymous()
	if code := anon.Do("GET", "/api/v1/me?access_token="+c.Token, nil, nil); code != 401 {
		t.Fatalf("GET /me with the token in the URL: HTTP %d, want 401", code)
	}
	req, _ := http.NewRequest("GET", g.BaseURL+"/api/v1/stream?access_token="+c.Token, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("stream with the token in the URL: HTTP %d, want 200", resp.StatusCode)
	}
	if code := anon.Do("POST", "/api/v1/logout?access_token="+c.Token, nil, nil); code != 204 {
		t.Fatalf("logout: HTTP %d, want 204", code)
	}
	if code := c.Do("GET", "/api/v1/me", nil, nil); code != 401 {
		t.Fatalf("the token after logout: HTTP %d, want 401", code)
	}
}

// TestPressRoundTripUnderPasswordGuessing measures a well-behaved device's
// press round trip (MQTT press → "received" on cmd), first quiet, then
// while 12 clients guess passwords in parallel for 20 s
// (ANXIN_GUESS_SECONDS shortens it; -short makes it 3 s). The figures are
// printed side by side, not asserted: before throttling and the hashing
// gate, p95 went from a few ms to 422 ms. What is asserted is that few
// guesses were hashed at all.
func TestPressRoundTripUnderPasswordGuessing(t *testing.T) {
	guessFor := 20 * time.Second
	if testing.Short() {
		guessFor = 3 * time.Second
	}
	if v := os.Getenv("ANXIN_GUESS_SECONDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("ANXIN_GUESS_SECONDS=%q: %v", v, err)
		}
		guessFor = time.Duration(n) * time.Second
	}
	g := gatewaytest.Start(t, gateway.Config{})
	g.AddUser("zhang", state.RoleOperator)
	dev := g.ConnectDevice("btn-101", g.Provision("btn-101", "call_button"))
	press := func() time.Duration {
		start := time.Now()
		dev.Expect(dev.Press("call.press"), "received")
		return time.Since(start)
	}
	measure := func(until func() bool) []time.Duration {
		var out []time.Duration
		for !until() {
			out = append(out, press())
			time.Sleep(50 * time.Millisecond) // a steady trickle well under the device's event rate
		}
		return out
	}
	quietEnd := time.Now().Add(3 * time.Second)
	quiet := measure(func() bool { return time.Now().After(quietEnd) })

	var stop atomic.Bool
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := []string{"zhang", "admin", fmt.Sprintf("ghost%d", i)}[i%3]
			for n := 0; !stop.Load(); n++ {
				code, _, _ := tryLogin(t, g.BaseURL, user, fmt.Sprintf("guess-%d-%d", i, n))
				mu.Lock()
				codes[code]++
				mu.Unlock()
			}
		}()
	}
	guessEnd := time.Now().Add(guessFor)
	loaded := measure(func() bool { return time.Now().After(guessEnd) })
	stop.Store(true)
	wg.Wait()

	q50, q95 := percentile(quiet, 50), percentile(quiet, 95)
	l50, l95 := percentile(loaded, 50), percentile(loaded, 95)
	t.Logf("press round trip quiet:     n=%d p50=%v p95=%v", len(quiet), q50, q95)
	t.Logf("press round trip guessing:  n=%d p50=%v p95=%v (%.1f× quiet p95; the issue asks within 2×)", len(loaded), l50, l95, float64(l95)/float64(q95))
	t.Logf("12 guessers for %v: answers by status %v", guessFor, codes)
	// Every address gets 20 free failures, then waits 1 s, 2 s, 4 s …: in
	// 20 s about 25 guesses are hashed, where before there were 562.
	if codes[401] > 30 {
		t.Fatalf("%d guesses were hashed and refused: the source was not throttled (%v)", codes[401], codes)
	}
	if codes[200] != 0 {
		t.Fatalf("a guess logged in: %v", codes)
	}
}

func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)*p/100, len(s)-1)]
}
