package httpapi

import (
	"crypto/subtle"
	"net/http"
	"strings"
	"time"

	"github.com/anxin-care/anxin/gateway/state"
)

// Browser sessions. The console logs in with {"cookie": true}: the session
// token then goes into the HttpOnly cookie anxin_session, never to the
// page, and the page gets a CSRF token instead, which every request
// authenticated by the cookie that changes state (anything but GET, HEAD,
// OPTIONS) must repeat in X-CSRF-Token. The cookie is SameSite=Strict as
// well; the header is what stops a cross-site form or fetch, since another
// site can neither read the CSRF token nor set that header on a request
// the browser sends with the cookie. Both live with the session in the
// state store (state.NewCookieSession), so a gateway restart ends neither.
//
// Scripts keep their bearer tokens: a request with an Authorization header
// is authenticated by it alone and needs no CSRF token, since a browser
// never adds that header to another site's request by itself.

// SessionCookie names the console's session cookie.
const SessionCookie = "anxin_session"

// CSRFHeader is the header that carries a cookie session's CSRF token.
const CSRFHeader = "X-CSRF-Token"

// errCSRF answers a cookie-authenticated change without the right token.
const errCSRF = "csrf token missing or wrong"

// credentials returns the request's token and whether it came from the
// session cookie: the Authorization header (or, where query is set, the
// access_token parameter) first, else the cookie.
func credentials(r *http.Request, query bool) (token string, cookie bool) {
	if t := bearer(r, query); t != "" {
		return t, false
	}
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
		return c.Value, true
	}
	return "", false
}

// csrfOK reports whether a cookie-authenticated request may go on: it
// changes nothing, or it carries the session's CSRF token.
func csrfOK(r *http.Request, s state.Session) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	got := r.Header.Get(CSRFHeader)
	return s.CSRF != "" && got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.CSRF)) == 1
}

// setSessionCookie hands the browser its session token. Secure when the
// request came over TLS, or through a proxy that says it did: marking the
// cookie Secure only ever narrows where it is sent.
func setSessionCookie(w http.ResponseWriter, r *http.Request, token string, ttl time.Duration) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: token, Path: "/", MaxAge: int(ttl / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: overTLS(r)})
}

// clearSessionCookie tells the browser to forget its session.
func clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: overTLS(r)})
}

func overTLS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// Me is the answer of GET /api/v1/me: who the caller is, where they
// serve, and for a cookie session its CSRF token, so that a reloaded
// page recovers it.
type Me struct {
	Name        string     `json:"name"`
	User        string     `json:"user"` // = Name, as before the console
	DisplayName string     `json:"display_name,omitempty"`
	Role        state.Role `json:"role"`
	Supervisor  bool       `json:"supervisor"`
	Sites       []string   `json:"sites"`
	Expires     time.Time  `json:"expires"`
	CSRF        string     `json:"csrf,omitempty"`
	// TimeZone is the zone the console shows times in (the config's
	// time_zone).
	TimeZone string `json:"time_zone,omitempty"`
}

func (srv *server) me(w http.ResponseWriter, _ *http.Request, s state.Session) {
	u, _, err := srv.db.User(s.User)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	sites := u.Sites
	if sites == nil {
		sites = []string{}
	}
	writeJSON(w, http.StatusOK, Me{Name: s.User, User: s.User, DisplayName: u.DisplayName, Role: s.Role,
		Supervisor: u.Supervisor, Sites: sites, Expires: s.Expires, CSRF: s.CSRF, TimeZone: srv.TimeZone})
}

// logout ends the session the request came with, however it came (a token
// seen in a URL is the first to want ending), with its open event streams,
// and clears the cookie.
func (srv *server) logout(w http.ResponseWriter, r *http.Request, _ state.Session) {
	token, _ := credentials(r, true)
	if err := srv.db.Logout(token); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	srv.live.endToken(token) // and its open streams, at once
	clearSessionCookie(w, r)
	w.WriteHeader(http.StatusNoContent)
}
