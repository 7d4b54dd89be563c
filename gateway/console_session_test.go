package gateway_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/gateway/httpapi"
	"github.com/anxin-care/anxin/gateway/state"
)

// TestConsoleLoginCookie: a login with {"cookie": true} sets anxin_session
// HttpOnly, SameSite=Strict, Path=/, with the session's lifetime, Secure
// only when the request came over TLS (here: through a proxy that says
// so); the answer carries the CSRF token and not the session token.
func TestConsoleLoginCookie(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	for _, tc := range []struct {
		name   string
		proto  string
		secure bool
	}{
		{"plain http", "", false},
		{"behind a TLS proxy", "https", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", g.BaseURL+"/api/v1/login",
				strings.NewReader(`{"user":"admin","password":"`+gatewaytest.AdminPassword+`","cookie":true}`))
			if tc.proto != "" {
				req.Header.Set("X-Forwarded-Proto", tc.proto)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != 200 || body["csrf"] == "" || body["csrf"] == nil || body["token"] != nil {
				t.Fatalf("login: HTTP %d %v, want 200 with csrf and no token", resp.StatusCode, body)
			}
			var ck *http.Cookie
			for _, c := range resp.Cookies() {
				if c.Name == httpapi.SessionCookie {
					ck = c
				}
			}
			ttl := int(state.DefaultSessionTTL / time.Second)
			if ck == nil || ck.Value == "" || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" ||
				ck.MaxAge < ttl-5 || ck.MaxAge > ttl || ck.Secure != tc.secure {
				t.Fatalf("cookie %+v: want HttpOnly, SameSite=Strict, Path=/, Max-Age %d, Secure %v", ck, ttl, tc.secure)
			}
		})
	}
}

// TestConsoleCSRF: a change made with the session cookie is refused 403
// without the session's CSRF token or with a wrong one, and changes
// nothing; with the right one it is made. Reads need no token. A bearer
// token needs none either, exactly as before.
func TestConsoleCSRF(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	g.SeedSites()
	console := g.LoginCookie("admin", gatewaytest.AdminPassword)
	plan := map[string]any{"smoke": []map[string]string{{"do": "call 119", "phone": "119"}}}
	planOf := func() int {
		var r struct{ Plan map[string]any }
		if code := g.Admin.Do("GET", "/api/v1/residents/wang-xy", nil, &r); code != 200 {
			t.Fatalf("resident: HTTP %d", code)
		}
		return len(r.Plan)
	}
	for _, tc := range []struct {
		name string
		csrf string
	}{
		{"without a token", ""},
		{"with a wrong token", console.CSRF + "x"},
		{"with another session's token", g.LoginCookie("admin", gatewaytest.AdminPassword).CSRF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := *console
			c.CSRF = tc.csrf
			var e httpapi.APIError
			if code := c.Do("PUT", "/api/v1/residents/wang-xy/plan", plan, &e); code != 403 || e.Error != "csrf token missing or wrong" {
				t.Fatalf("PUT plan: HTTP %d %q, want 403 csrf token missing or wrong", code, e.Error)
			}
			if code := c.Do("POST", "/api/v1/logout", nil, nil); code != 403 {
				t.Fatalf("logout: HTTP %d, want 403", code)
			}
			if n := planOf(); n != 0 {
				t.Fatalf("the refused PUT changed the plan: %d alarm types", n)
			}
			if code := c.Do("GET", "/api/v1/residents/wang-xy", nil, nil); code != 200 {
				t.Fatalf("a read with the cookie and %s: HTTP %d, want 200", tc.name, code)
			}
		})
	}
	var pe httpapi.APIError
	if code := console.Do("PUT", "/api/v1/residents/wang-xy/plan", plan, &pe); code != 200 || planOf() != 1 {
		t.Logf("%s", pe.Error)
		t.Fatalf("PUT plan with the right token: HTTP %d, plan of %d types", code, planOf())
	}
	// A script's bearer token: no CSRF token, as before the console.
	if code := g.Admin.Do("PUT", "/api/v1/residents/wang-xy/plan", map[string]any{}, nil); code != 200 || planOf() != 0 {
		t.Fatalf("PUT plan with a bearer token: HTTP %d, plan of %d types", code, planOf())
	}
}

// TestConsoleSessionSurvivesRestart: the cookie and its CSRF token keep
// working after the gateway restarts on the same data directory; /me
// gives a reloaded page its token back; the live stream accepts the
// cookie; logout ends the session and clears the cookie.
func TestConsoleSessionSurvivesRestart(t *testing.T) {
	for _, b := range gatewaytest.Backends {
		t.Run(b, func(t *testing.T) { testConsoleSessionSurvivesRestart(t, b) })
	}
}

func testConsoleSessionSurvivesRestart(t *testing.T, backend string) {
	g := gatewaytest.Start(t, gateway.Config{State: gatewaytest.State(t, backend)})
	g.SeedSites()
	console := g.LoginCookie("admin", gatewaytest.AdminPassword)
	g = g.Restart()
	console = console.On(g)

	var me httpapi.Me
	if code := console.Do("GET", "/api/v1/me", nil, &me); code != 200 || me.CSRF != console.CSRF || me.Name != "admin" || me.Role != state.RoleAdmin {
		t.Fatalf("me after a restart: HTTP %d %+v, want admin with the same csrf", code, me)
	}
	var bearerMe map[string]any
	if g.Admin.Do("GET", "/api/v1/me", nil, &bearerMe); bearerMe["csrf"] != nil {
		t.Fatalf("a bearer session's me carries a csrf token: %v", bearerMe)
	}
	plan := map[string]any{"call": []map[string]string{{"do": "call the daughter", "phone": "13800000001"}}}
	if code := console.Do("PUT", "/api/v1/residents/wang-xy/plan", plan, nil); code != 200 {
		t.Fatalf("PUT plan with the cookie after a restart: HTTP %d", code)
	}

	// The stream with the cookie, as EventSource sends it.
	stream := console.Stream()
	btn := g.ConnectDevice("btn-1", g.Provision("btn-1", "call_button"))
	a := btn.Expect(btn.Press("call.press"), "received").Alarm
	if f := stream.Next(t, "raised"); f.Alarm.ID != a {
		t.Fatalf("stream with the cookie: alarm %s, want %s", f.Alarm.ID, a)
	}
	stream.Close()

	req, _ := http.NewRequest("POST", g.BaseURL+"/api/v1/logout", bytes.NewReader(nil))
	req.AddCookie(&http.Cookie{Name: httpapi.SessionCookie, Value: console.Cookie})
	req.Header.Set(httpapi.CSRFHeader, console.CSRF)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cleared := false
	for _, c := range resp.Cookies() {
		cleared = cleared || c.Name == httpapi.SessionCookie && c.Value == "" && c.MaxAge < 0
	}
	if resp.StatusCode != 204 || !cleared {
		t.Fatalf("logout: HTTP %d, cookies %v: want 204 and the cookie cleared", resp.StatusCode, resp.Cookies())
	}
	if code := console.Do("GET", "/api/v1/me", nil, nil); code != 401 {
		t.Fatalf("me after logout: HTTP %d, want 401", code)
	}
}
