package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/gateway/state"
)

// maxBody bounds a JSON request body.
const maxBody = 64 << 10

// routes is the HTTP API, under /api/v1, plus health and metrics.
func (srv *server) routes() http.Handler {
	mux := http.NewServeMux()
	handlers := []struct {
		pattern string
		roles   []state.Role // nil: any logged-in user
		fn      func(http.ResponseWriter, *http.Request, state.Session)
	}{
		{"GET /api/v1/alarms", handlerRoles, srv.listAlarms},
		{"GET /api/v1/alarms/{id}", handlerRoles, srv.getAlarm},
		{"POST /api/v1/alarms/resolve", handlerRoles, srv.resolveAlarms}, // admins and supervisors: resolveAlarms checks
		{"POST /api/v1/alarms/{id}/ack", handlerRoles, srv.alarmAction},
		{"POST /api/v1/alarms/{id}/dispatch", handlerRoles, srv.alarmAction},
		{"POST /api/v1/alarms/{id}/resolve", handlerRoles, srv.alarmAction},
		{"POST /api/v1/alarms/{id}/notes", handlerRoles, srv.alarmAction},
		{"GET /api/v1/reports/sla", handlerRoles, srv.slaReport},
		{"GET /api/v1/stream", nil, srv.handleStream},
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
		{"GET /api/v1/audit", auditRoles, srv.listAudit},
		{"GET /api/v1/devices/{id}/watch", provisionRoles, srv.handleWatch},
		{"GET /api/v1/users", adminRoles, srv.listUsers},
		{"POST /api/v1/users", adminRoles, srv.createUser},
		{"PATCH /api/v1/users/{name}", adminRoles, srv.patchUser},
		{"GET /api/v1/duty", nil, srv.listDuty},
		{"POST /api/v1/duty/checkin", handlerRoles, srv.dutyCheckIn},
		{"POST /api/v1/duty/checkout", handlerRoles, srv.dutyCheckOut},
		{"GET /api/v1/me", nil, srv.me},
		{"POST /api/v1/logout", nil, srv.logout},
	}
	for _, h := range handlers {
		mux.Handle(h.pattern, srv.authed(h.roles, queryToken[h.pattern], h.fn))
	}
	mux.HandleFunc("POST /api/v1/login", srv.login)
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
	return mux
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
)

// authed checks the bearer token and the role. The token comes in the
// Authorization header; where query is set (the event streams, which
// EventSource opens without headers, and logout) also as the access_token
// query parameter. Anywhere else a token in a URL, which ends up in proxy
// logs and browser history, is refused.
func (srv *server) authed(roles []state.Role, query bool, fn func(http.ResponseWriter, *http.Request, state.Session)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, err := srv.db.Session(bearer(r, query), srv.now())
		if err != nil {
			if !query && r.URL.Query().Has("access_token") {
				err = fmt.Errorf("%w: access_token in the URL is accepted only by the event streams; send Authorization: Bearer", err)
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="anxin"`)
			writeError(w, http.StatusUnauthorized, "log in first: "+err.Error())
			return
		}
		if roles != nil && !slices.Contains(roles, sess.Role) {
			writeError(w, http.StatusForbidden, fmt.Sprintf("role %s may not %s %s", sess.Role, r.Method, r.URL.Path))
			return
		}
		fn(w, r, sess)
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
	writeJSON(w, status, APIError{Error: msg})
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
		writeError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return false
	}
	return true
}

func (srv *server) me(w http.ResponseWriter, _ *http.Request, s state.Session) {
	writeJSON(w, http.StatusOK, s)
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
	// The time-series store is detail, not readiness: alarms work without it.
	writeJSON(w, status, map[string]any{"ready": status == http.StatusOK, "checks": checks,
		"time_series": srv.TimeSeries.Status()})
}

// listAlarms serves GET /api/v1/alarms?state=open|raised|…|all&from=&to=&limit=.
// Open alarms come from memory, P1 first; the others from the store, newest first.
func (srv *server) listAlarms(w http.ResponseWriter, r *http.Request, s state.Session) {
	q := r.URL.Query()
	want := q.Get("state")
	if want == "" {
		want = "open"
	}
	if want != "open" && want != "all" && !alerting.State(want).Valid() {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("state %q: want open, all, raised, acknowledged, dispatched, resolved or cancelled", want))
		return
	}
	limit := 500
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			writeError(w, http.StatusBadRequest, "limit must be a number from 1 to 10000")
			return
		}
		limit = n
	}
	var alarms []*alerting.Alarm
	if want == "open" {
		alarms = srv.eng.Open()
	} else {
		to := srv.now().Add(time.Minute)
		from := to.Add(-7 * 24 * time.Hour)
		var err error
		if from, err = timeParam(q.Get("from"), from); err != nil {
			writeError(w, http.StatusBadRequest, "from: "+err.Error())
			return
		}
		if to, err = timeParam(q.Get("to"), to); err != nil {
			writeError(w, http.StatusBadRequest, "to: "+err.Error())
			return
		}
		if alarms, err = srv.db.Alarms(from, to, 0); err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		if want != "all" {
			alarms = slices.DeleteFunc(alarms, func(a *alerting.Alarm) bool { return string(a.State) != want })
		}
	}
	// Walk-test alarms are the installer's, never an operator's.
	if s.Role == state.RoleOperator || q.Get("test") != "true" {
		alarms = slices.DeleteFunc(alarms, func(a *alerting.Alarm) bool { return a.Test })
	}
	if len(alarms) > limit {
		alarms = alarms[:limit]
	}
	writeJSON(w, http.StatusOK, map[string]any{"alarms": alarms, "count": len(alarms)})
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

func (srv *server) getAlarm(w http.ResponseWriter, r *http.Request, _ state.Session) {
	a, err := srv.eng.Get(r.PathValue("id"))
	if err != nil {
		writeAlarmError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

type actionRequest struct {
	Note    string `json:"note"`
	Outcome string `json:"outcome"`
}

// alarmAction serves ack, dispatch, resolve and notes.
func (srv *server) alarmAction(w http.ResponseWriter, r *http.Request, s state.Session) {
	var req actionRequest
	if !readJSON(w, r, &req) {
		return
	}
	id := r.PathValue("id")
	var a *alerting.Alarm
	var err error
	switch action := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]; action {
	case "ack":
		a, err = srv.eng.Ack(id, s.User, req.Note)
	case "dispatch":
		a, err = srv.eng.Dispatch(id, s.User, req.Note)
	case "resolve":
		if req.Outcome == "" {
			writeError(w, http.StatusBadRequest, fmt.Sprintf(`"outcome" is required, one of %v`, alerting.Outcomes))
			return
		}
		a, err = srv.eng.Resolve(id, s.User, req.Outcome, req.Note)
	case "notes":
		a, err = srv.eng.Note(id, s.User, req.Note)
	}
	if err != nil {
		writeAlarmError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func writeAlarmError(w http.ResponseWriter, err error) {
	writeError(w, alarmErrorStatus(err), err.Error())
}
