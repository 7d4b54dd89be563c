package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/anxin-care/anxin/internal/jsonerr"

	"github.com/anxin-care/anxin/gateway/state"
)

// maxBody bounds a JSON request body.
const maxBody = 64 << 10

// routes is the HTTP API, under /api/v1, plus health and metrics.
func (srv *server) routes() http.Handler {
	mux := http.NewServeMux()
	for _, h := range srv.routeTable() {
		var handler http.Handler = srv.authed(h.roles, queryToken[h.pattern], h.fn)
		if h.pattern == backupRoute {
			handler = srv.orBackupToken(handler)
		}
		mux.Handle(h.pattern, handler)
	}
	mux.HandleFunc("POST /api/v1/login", srv.login)
	mux.HandleFunc("GET /api/v1/openapi.json", serveOpenAPI)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", srv.readyz)
	if srv.Ingest != nil {
		mux.Handle("/ingest/v1/", srv.Ingest)
	}
	mux.Handle("GET /metrics", srv.Metrics)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	if srv.UI != nil {
		mux.Handle("/", srv.UI)
	}
	return mux
}

// route is one authenticated endpoint: who may use it and its handler.
type route struct {
	pattern string
	roles   []state.Role // nil: any logged-in person (not a wall: mayUse)
	fn      func(http.ResponseWriter, *http.Request, state.Session)
}

// routeTable lists the authenticated endpoints.
func (srv *server) routeTable() []route {
	return []route{
		{"GET /api/v1/alarms", handlerRoles, srv.listAlarms},
		{"GET /api/v1/alarms/{id}", handlerRoles, srv.getAlarm},
		{"POST /api/v1/alarms/resolve", handlerRoles, srv.resolveAlarms}, // admins and supervisors: resolveAlarms checks
		{"POST /api/v1/alarms/{id}/ack", handlerRoles, srv.alarmAction},
		{"POST /api/v1/alarms/{id}/dispatch", handlerRoles, srv.alarmAction},
		{"POST /api/v1/alarms/{id}/resolve", handlerRoles, srv.alarmAction},
		{"POST /api/v1/alarms/{id}/notes", handlerRoles, srv.alarmAction},
		{"GET /api/v1/reports/sla", handlerRoles, srv.slaReport},
		{"GET /api/v1/stream", streamRoles, srv.closedOnRevoke(srv.handleStream)},
		{"GET /api/v1/devices", nil, srv.listDevices},
		{"GET /api/v1/devices/{id}", nil, srv.getDevice},
		{"POST /api/v1/devices", provisionRoles, srv.addDevice},
		{"DELETE /api/v1/devices/{id}", provisionRoles, srv.removeDevice},
		{"PATCH /api/v1/devices/{id}", provisionRoles, srv.patchDevice},
		{"POST /api/v1/devices/{id}/replace", provisionRoles, srv.replaceDevice},
		{"POST /api/v1/devices/{id}/test", provisionRoles, srv.setDeviceTest},
		{"GET /api/v1/devices/{id}/alarms", nil, srv.deviceAlarms},
		{"GET /api/v1/edge-boxes", nil, srv.listEdgeBoxes},
		{"POST /api/v1/devices/import", provisionRoles, srv.importDevices},
		{"GET /api/v1/sites", nil, srv.listSites},
		{"POST /api/v1/sites", provisionRoles, srv.addSite},
		{"GET /api/v1/sites/{id}", nil, srv.getSite},
		{"PATCH /api/v1/sites/{id}", provisionRoles, srv.patchSite},
		{"DELETE /api/v1/sites/{id}", provisionRoles, srv.removeSite},
		{"GET /api/v1/sites/{id}/tree", nil, srv.siteTree},
		{"GET /api/v1/residents", nil, srv.listResidents},
		{"POST /api/v1/residents", provisionRoles, srv.addResident},
		{"GET /api/v1/residents/{id}", nil, srv.getResident},
		{"PATCH /api/v1/residents/{id}", provisionRoles, srv.patchResident},
		{"DELETE /api/v1/residents/{id}", provisionRoles, srv.removeResident},
		{"PUT /api/v1/residents/{id}/plan", handlerRoles, srv.putPlan}, // admins and supervisors: putPlan checks
		{"GET /api/v1/audit", auditRoles, srv.listAudit},
		{"GET /api/v1/devices/{id}/watch", provisionRoles, srv.handleWatch},
		{"GET /api/v1/users", adminRoles, srv.listUsers},
		{"POST /api/v1/users", adminRoles, srv.createUser},
		{"PATCH /api/v1/users/{name}", adminRoles, srv.patchUser},
		{"DELETE /api/v1/users/{name}", adminRoles, srv.removeUser},
		{"POST /api/v1/users/{name}/disable", adminRoles, srv.disableUser(true)},
		{"POST /api/v1/users/{name}/enable", adminRoles, srv.disableUser(false)},
		{"PUT /api/v1/users/{name}/password", adminRoles, srv.resetPassword},
		{"PUT /api/v1/me/password", nil, srv.changeOwnPassword},
		{"GET /api/v1/duty", nil, srv.listDuty},
		{"GET /api/v1/duty/coverage", nil, srv.dutyCoverage},
		{"POST /api/v1/duty/checkin", handlerRoles, srv.dutyCheckIn},
		{"POST /api/v1/duty/checkout", handlerRoles, srv.dutyCheckOut},
		{"GET /api/v1/me", nil, srv.me},
		{"POST /api/v1/logout", nil, srv.logout},
		{backupRoute, adminRoles, srv.backup},
		{"GET /api/v1/wall/summary", wallRoles, srv.wallSummary},
		{"GET /api/v1/series", wallRoles, srv.series},
		{"GET /api/v1/wall-tokens", adminRoles, srv.listWallTokens},
		{"POST /api/v1/wall-tokens", adminRoles, srv.createWallToken},
		{"DELETE /api/v1/wall-tokens/{id}", adminRoles, srv.revokeWallToken},
	}
}

// Routes lists the patterns of the authenticated endpoints ("POST
// /api/v1/alarms/{id}/ack" …), so that tests can walk every one.
func Routes() []string {
	var out []string
	for _, r := range (&server{}).routeTable() {
		out = append(out, r.pattern)
	}
	return out
}

// httpReadTimeout bounds reading a request's body (an 8 MiB CSV import
// over a slow uplink fits).
const httpReadTimeout = time.Minute

// withDeadlines gives every request a read deadline and a write deadline
// (http_write_timeout) of its own, so that a client that stops reading or
// sending cannot hold a connection and a goroutine for ever. The event
// streams replace them with a write deadline per event (serveSSE).
// Deadlines are on the wall clock, never the injected one.
func (srv *server) withDeadlines(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		now := time.Now()
		rc.SetReadDeadline(now.Add(httpReadTimeout))
		rc.SetWriteDeadline(now.Add(srv.HTTPWriteTimeout))
		h.ServeHTTP(w, r)
	})
}

// queryToken are the endpoints that take the token as ?access_token=: the
// event streams, which EventSource opens without headers, and logout,
// which must end such a session too.
var queryToken = map[string]bool{
	"GET /api/v1/stream":             true,
	"GET /api/v1/devices/{id}/watch": true,
	"POST /api/v1/logout":            true,
}

// Who may do what.
var (
	handlerRoles   = []state.Role{state.RoleAdmin, state.RoleOperator}  // handle alarms
	provisionRoles = []state.Role{state.RoleAdmin, state.RoleInstaller} // add and remove devices
	adminRoles     = []state.Role{state.RoleAdmin}
	// The alarm stream: every person, and wall screens (forWall).
	streamRoles = []state.Role{state.RoleAdmin, state.RoleOperator, state.RoleInstaller, state.RoleWall}
)

// authed checks the token and the role. The token comes in the
// Authorization header; where query is set (the event streams, which
// EventSource opens without headers, and logout) also as the access_token
// query parameter; or in the console's session cookie, and then a change
// must carry the session's CSRF token (api_session.go). Anywhere else a
// token in a URL, which ends up in proxy logs and browser history, is
// refused.
func (srv *server) authed(roles []state.Role, query bool, fn func(http.ResponseWriter, *http.Request, state.Session)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, cookie := credentials(r, query)
		sess, err := srv.db.Session(token, srv.now())
		if err != nil {
			if !query && r.URL.Query().Has("access_token") {
				err = fmt.Errorf("%w: access_token in the URL is accepted only by the event streams; send Authorization: Bearer", err)
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="anxin"`)
			writeError(w, http.StatusUnauthorized, "log in first: "+err.Error())
			return
		}
		if cookie && !csrfOK(r, sess) {
			writeError(w, http.StatusForbidden, errCSRF)
			return
		}
		if !mayUse(roles, sess.Role) {
			writeError(w, http.StatusForbidden, fmt.Sprintf("role %s may not %s %s", sess.Role, r.Method, r.URL.Path))
			return
		}
		sc, err := srv.scopeFor(sess)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		if query { // an event stream lasts: it ends when its session does
			ctx, end := srv.live.add(r.Context(), sess.User, token)
			defer end()
			// Expiry ends it too (on the gateway's clock: the session has
			// this long left).
			ctx, expire := context.WithTimeout(ctx, sess.Expires.Sub(srv.now()))
			defer expire()
			r = r.WithContext(ctx)
		}
		fn(w, withScope(r, sc), sess)
	})
}

// bearer is the request's token: from the Authorization header, or when
// query is set and the header has none, the access_token query parameter.
func bearer(r *http.Request, query bool) string {
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if token == "" && query {
		token = r.URL.Query().Get("access_token")
	}
	return token
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// APIError is the body of every error response.
type APIError struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, APIError{Error: ClipMessage(msg)})
}

// maxErrorMessage bounds an error message: it names what was wrong (and
// quotes the id it was about), but does not echo a 100 kB id back.
const maxErrorMessage = 400

// ClipMessage shortens msg past maxErrorMessage bytes to its head and
// tail, where the id and the reason are, around an ellipsis that says how
// much was left out; always at rune boundaries.
func ClipMessage(msg string) string {
	if len(msg) <= maxErrorMessage {
		return msg
	}
	head, tail := maxErrorMessage*2/3, maxErrorMessage/3
	for head > 0 && !utf8.RuneStart(msg[head]) {
		head--
	}
	from := len(msg) - tail
	for from < len(msg) && !utf8.RuneStart(msg[from]) {
		from++
	}
	return fmt.Sprintf("%s… (%d bytes left out) …%s", msg[:head], from-head, msg[from:])
}

// readJSON decodes a request body strictly into v, naming what was wrong.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over %d bytes", maxBody))
		return false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "invalid JSON body: "+jsonerr.Describe(err))
		return false
	}
	return true
}

func (srv *server) readyz(w http.ResponseWriter, _ *http.Request) {
	checks := map[string]string{}
	status := http.StatusOK
	// Reading is not enough: with its disk full the store still reads
	// while every alarm write fails. Healthy probes a write after a
	// failed commit.
	if _, err := srv.db.Users(); err != nil {
		checks["state_store"] = err.Error()
		status = http.StatusServiceUnavailable
	} else if err := srv.db.Healthy(); err != nil {
		checks["state_store"] = "cannot commit: " + err.Error()
		status = http.StatusServiceUnavailable
	} else {
		checks["state_store"] = "ok"
	}
	checks["mqtt"] = "ok"
	if err := srv.Devices.Ready(); err != nil {
		checks["mqtt"] = err.Error()
		status = http.StatusServiceUnavailable
	}
	// The time-series store is named among the checks but does not make
	// the gateway unready: alarms work without it, and a load balancer
	// that took the gateway out for it would stop the alarms too.
	ts := srv.TimeSeries.Status()
	checks["time_series"] = "ok"
	if !ts.Healthy {
		checks["time_series"] = fmt.Sprintf("failing, %d of %d points queued, %d dropped (alarms unaffected)", ts.Depth, ts.Capacity, ts.Dropped)
		if ts.LastError != "" {
			checks["time_series"] += ": " + ts.LastError
		}
	}
	writeJSON(w, status, map[string]any{"ready": status == http.StatusOK, "checks": checks, "time_series": ts})
}

// nonNil makes an empty list [] in JSON, not null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func timeParam(v string, def time.Time) (time.Time, error) {
	if v == "" {
		return def, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return def, fmt.Errorf("%q is not an RFC 3339 time like 2026-11-23T08:00:00+08:00", v)
	}
	return t, nil
}
