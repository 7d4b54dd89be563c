package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/gateway/httpapi"
	"github.com/anxin-care/anxin/gateway/state"
)

// The HTTP access table: every authenticated route of httpapi.Routes(),
// by every kind of caller, on the caller's own site and on another, for
// reads and writes, against one real gateway (the scope world of
// console_scope_test.go: two villages under one township).
//
// The callers:
//
//	admin       an admin (everything)
//	supervisor  zhou, an operator and supervisor of qs-village
//	operator    li, an operator of qs-village
//	installer   wu (provisions everywhere, reads no resident's alarm)
//	wall        a wall token
//	cookie      li's console session (cookie) sending no CSRF token
//	backup      the backup token from the data directory
//	anonymous   no credentials
//
// "own" is qs-village's side of the world, "other" ls-village's. What a
// caller may do follows from the route's entry in accessRules (who may,
// how another site's object is answered) by accessRule.want, the same
// rules as httpapi's route table and scope.go, written again here so that
// a change of either shows up as a failing case. A route without an entry
// fails the test.

// accessCaller is one kind of caller.
type accessCaller struct {
	name       string
	role       state.Role // "" for the backup token and anonymous
	user       string
	supervisor bool
	narrow     bool // an operator with sites: sees qs-village's side only
	cookie     bool // authenticates by the console's cookie, without CSRF
	backup     bool
	token      string
}

// sees reports whether side ("qs", "ls", or "" for a route with no side)
// is in the caller's scope.
func (c accessCaller) sees(side string) bool { return !c.narrow || side != "ls" }

// A route's scope rule: how an object of a site out of the caller's scope
// is answered.
const (
	unscoped  = 0
	hidden404 = 404 // as if it did not exist
	param400  = 400 // a site query parameter out of scope: as an unknown site
	refuse403 = 403 // an action at a site that is not the caller's (duty)
	listed    = 1   // a list: 200, the object left out
)

// accessRule is a route's entry in the access table.
type accessRule struct {
	may   []state.Role // who may by role; nil: every person (not a wall)
	scope int          // unscoped, hidden404, param400, refuse403, listed
	// supervisor: an operator must also be a supervisor (403 otherwise),
	// checked before the scope when supervisorFirst.
	supervisor, supervisorFirst bool
	ok                          int // the status of success
	// sided: the target differs by side; else the case runs once.
	sided bool
	// path is the URL path (and query) on side; fresh asks for a new
	// object, for a case expected to change it.
	path func(w *accessWorld, side string, fresh bool) string
	body func(w *accessWorld, c accessCaller, side string, fresh bool) any
	// marker is what a list shows of side's objects (listed routes).
	marker func(side string) string
	// effective maps a 200 answer that reports per item (bulk resolve) to
	// the status of the one item.
	effective func(body []byte) int
	// self: the caller ends or changes its own session or password, so
	// the case runs on a throwaway user of the caller's kind.
	self bool
}

// want is the status the rule gives caller c on side for method.
func (r accessRule) want(c accessCaller, method, pattern, side string) int {
	switch {
	case c.backup:
		if pattern == "GET /api/v1/backup" {
			return 200
		}
		return 401
	case c.role == "":
		return 401
	case c.cookie && method != "GET":
		return 403 // no CSRF token
	}
	may := r.may
	if may == nil {
		may = []state.Role{state.RoleAdmin, state.RoleOperator, state.RoleInstaller}
	}
	if !slices.Contains(may, c.role) {
		return 403
	}
	notSupervisor := r.supervisor && c.role == state.RoleOperator && !c.supervisor
	if notSupervisor && r.supervisorFirst {
		return 403
	}
	if r.scope != unscoped && r.scope != listed && !c.sees(side) {
		return r.scope
	}
	if notSupervisor {
		return 403
	}
	return r.ok
}

// csvBody is a request body sent as text/csv.
type csvBody string

// accessWorld is the scope world with what the access table needs.
type accessWorld struct {
	*scopeWorld
	t      *testing.T
	act    map[string]*gatewaytest.Device // side → a button whose alarms cases may change
	last   map[string]string              // side + type → act's open alarm
	n      int
	backup string
}

var (
	accVillage  = map[string]string{"qs": "qs-village", "ls": "ls-village"}
	accHome     = map[string]string{"qs": "home-12", "ls": "home-7"}
	accRoom     = map[string]string{"qs": "home-12-bedroom", "ls": "home-7-room"}
	accResident = map[string]string{"qs": "wang-xy", "ls": "zhao-lf"}
)

// next is a new unique name with prefix.
func (w *accessWorld) next(prefix string) string {
	w.n++
	return fmt.Sprintf("%s-%d", prefix, w.n)
}

// admin sends a request as admin and fails the test unless it answers want.
func (w *accessWorld) admin(method, path string, body any, want int, out any) {
	w.t.Helper()
	var e struct{ Error string }
	b, code := w.send(accessCaller{role: state.RoleAdmin, token: w.g.Admin.Token}, method, path, body, false)
	if code != want {
		json.Unmarshal(b, &e)
		w.t.Fatalf("set-up %s %s: HTTP %d (%s), want %d", method, path, code, e.Error, want)
	}
	if out != nil {
		json.Unmarshal(b, out)
	}
}

func (w *accessWorld) freshDevice(side string) string {
	id := w.next("tmp-dev-" + side)
	w.admin("POST", "/api/v1/devices", map[string]any{"id": id, "kind": "call_button", "site": accRoom[side]}, 201, nil)
	return id
}

func (w *accessWorld) freshSite(side string) string {
	id := w.next("tmp-site-" + side)
	w.admin("POST", "/api/v1/sites", map[string]any{"id": id, "name": "房间", "level": "room", "parent": accHome[side]}, 201, nil)
	return id
}

func (w *accessWorld) freshResident(side string) string {
	id := w.next("tmp-res-" + side)
	w.admin("POST", "/api/v1/residents", map[string]any{"id": id, "name": "测试", "birth_year": 1940, "home": accHome[side],
		"contacts": []map[string]string{{"name": "李娜", "phone": "13800000001", "relation": "女儿"}}}, 201, nil)
	return id
}

// freshUser adds an operator straight into the store (the API would
// hash its password twice more) and returns its name.
func (w *accessWorld) freshUser() string {
	name := w.next("tmp-user")
	if err := w.g.DB().AddUser(name, state.RoleOperator, name+"-long-password", time.Now()); err != nil {
		w.t.Fatal(err)
	}
	return name
}

func (w *accessWorld) freshWallToken() string {
	var made httpapi.WallTokenCreated
	w.admin("POST", "/api/v1/wall-tokens", httpapi.NewWallToken{Name: w.next("tmp-wall")}, 201, &made)
	return made.ID
}

// freshAlarm raises a new alarm of typ on side's act button: the last one
// of that type, if still open, is resolved first so that the press is a
// new alarm, not a repeat.
func (w *accessWorld) freshAlarm(side, typ string) string {
	w.t.Helper()
	if id := w.last[side+typ]; id != "" {
		b, code := w.send(accessCaller{role: state.RoleAdmin, token: w.g.Admin.Token}, "POST", "/api/v1/alarms/"+id+"/resolve",
			map[string]string{"outcome": "test"}, false)
		if code != 200 && code != 409 {
			w.t.Fatalf("resolve %s: HTTP %d %s", id, code, b)
		}
	}
	d := w.act[side]
	id := d.Expect(d.Press(typ), "received").Alarm
	w.last[side+typ] = id
	return id
}

// session starts a session of user straight in the store (no password
// hash): a cookie session when cookie is set.
func (w *accessWorld) session(user string, cookie bool) string {
	w.t.Helper()
	u, ok, err := w.g.DB().User(user)
	if err != nil || !ok {
		w.t.Fatalf("user %s: %v %v", user, ok, err)
	}
	start := w.g.DB().NewSession
	if cookie {
		start = w.g.DB().NewCookieSession
	}
	token, _, err := start(u, time.Now(), time.Hour)
	if err != nil {
		w.t.Fatal(err)
	}
	return token
}

// send makes one request as c and returns the body and status. A stream
// is closed once its status is known.
func (w *accessWorld) send(c accessCaller, method, path string, body any, stream bool) ([]byte, int) {
	w.t.Helper()
	var rd io.Reader
	ctype := "application/json"
	switch b := body.(type) {
	case nil:
	case csvBody:
		rd, ctype = strings.NewReader(string(b)), "text/csv"
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // password hashing under -race on a loaded machine
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, w.g.BaseURL+path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", ctype)
	}
	switch {
	case c.cookie:
		req.AddCookie(&http.Cookie{Name: httpapi.SessionCookie, Value: c.token})
	case c.token != "":
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if stream && resp.StatusCode == 200 {
		return nil, 200
	}
	b, _ := io.ReadAll(resp.Body)
	return b, resp.StatusCode
}

// accessRules is the expected-access table: one entry per route of
// httpapi.Routes().
func accessRules() map[string]accessRule {
	handlers := []state.Role{state.RoleAdmin, state.RoleOperator}
	provision := []state.Role{state.RoleAdmin, state.RoleInstaller}
	admins := []state.Role{state.RoleAdmin}
	walls := []state.Role{state.RoleAdmin, state.RoleWall}
	fixed := func(p string) func(*accessWorld, string, bool) string {
		return func(*accessWorld, string, bool) string { return p }
	}
	alarmAction := func(action string, body any) accessRule {
		return accessRule{may: handlers, scope: hidden404, ok: 200, sided: true,
			path: func(w *accessWorld, side string, fresh bool) string {
				id := w.alarm[side]
				if fresh {
					id = w.freshAlarm(side, "call.press")
				}
				return "/api/v1/alarms/" + id + "/" + action
			},
			body: func(*accessWorld, accessCaller, string, bool) any { return body }}
	}
	device := func(ok int, body any, suffix string) accessRule {
		return accessRule{may: provision, ok: ok, sided: true,
			path: func(w *accessWorld, side string, fresh bool) string {
				id := "btn-" + side
				if fresh {
					id = w.freshDevice(side)
				}
				return "/api/v1/devices/" + id + suffix
			},
			body: func(*accessWorld, accessCaller, string, bool) any { return body }}
	}
	site := func(ok int, body any) accessRule {
		return accessRule{may: provision, ok: ok, sided: true,
			path: func(w *accessWorld, side string, fresh bool) string {
				id := accRoom[side]
				if fresh {
					id = w.freshSite(side)
				}
				return "/api/v1/sites/" + id
			},
			body: func(*accessWorld, accessCaller, string, bool) any { return body }}
	}
	res := func(ok int, body any) accessRule {
		return accessRule{may: provision, ok: ok, sided: true,
			path: func(w *accessWorld, side string, fresh bool) string {
				id := accResident[side]
				if fresh {
					id = w.freshResident(side)
				}
				return "/api/v1/residents/" + id
			},
			body: func(*accessWorld, accessCaller, string, bool) any { return body }}
	}
	user := func(ok int, suffix string, body any) accessRule {
		return accessRule{may: admins, ok: ok,
			path: func(w *accessWorld, _ string, fresh bool) string {
				name := "sun"
				if fresh {
					name = w.freshUser()
				}
				return "/api/v1/users/" + name + suffix
			},
			body: func(*accessWorld, accessCaller, string, bool) any { return body }}
	}
	read := func(may []state.Role, scope int, path func(side string) string) accessRule {
		return accessRule{may: may, scope: scope, ok: 200, sided: true,
			path: func(_ *accessWorld, side string, _ bool) string { return path(side) }}
	}
	list := func(may []state.Role, path string, marker func(side string) string) accessRule {
		return accessRule{may: may, scope: listed, ok: 200, sided: true, path: fixed(path), marker: marker}
	}
	duty := func(action string) accessRule {
		return accessRule{may: handlers, scope: refuse403, ok: 200, sided: true, path: fixed("/api/v1/duty/" + action),
			body: func(_ *accessWorld, c accessCaller, side string, _ bool) any {
				if c.role == state.RoleAdmin { // not on the roster: checks its operator in
					return map[string]string{"site": accVillage[side], "operator": map[string]string{"qs": "li", "ls": "sun"}[side]}
				}
				return map[string]string{"site": accVillage[side]}
			}}
	}
	btn := func(side string) string { return "btn-" + side }

	return map[string]accessRule{
		"GET /api/v1/alarms": list(handlers, "/api/v1/alarms", btn),
		"GET /api/v1/alarms/{id}": read(handlers, hidden404, func(side string) string {
			return "/api/v1/alarms/{alarm-" + side + "}"
		}),
		"POST /api/v1/alarms/resolve": {may: handlers, scope: refuse403, supervisor: true, supervisorFirst: true, ok: 200, sided: true,
			path: fixed("/api/v1/alarms/resolve"),
			body: func(w *accessWorld, _ accessCaller, side string, fresh bool) any {
				// A P3 alarm: only those are resolved in bulk.
				id := w.last[side+"device.tamper"]
				if id == "" || fresh {
					id = w.freshAlarm(side, "device.tamper")
				}
				return httpapi.BulkResolve{IDs: []string{id}, Outcome: "test"}
			},
			effective: func(b []byte) int {
				var a httpapi.BulkAnswer
				if json.Unmarshal(b, &a) != nil || len(a.Results) != 1 {
					return -1
				}
				if a.Results[0].Error != "" {
					return a.Results[0].Status
				}
				return 200
			}},
		"POST /api/v1/alarms/{id}/ack":      alarmAction("ack", nil),
		"POST /api/v1/alarms/{id}/dispatch": alarmAction("dispatch", map[string]string{"responder": "村医"}),
		"POST /api/v1/alarms/{id}/resolve":  alarmAction("resolve", map[string]string{"outcome": "test"}),
		"POST /api/v1/alarms/{id}/notes":    alarmAction("notes", map[string]string{"note": "看过"}),
		"GET /api/v1/reports/sla": read(handlers, param400, func(side string) string {
			return "/api/v1/reports/sla?site=" + accVillage[side]
		}),
		"GET /api/v1/stream":  {may: []state.Role{state.RoleAdmin, state.RoleOperator, state.RoleInstaller, state.RoleWall}, ok: 200, path: fixed("/api/v1/stream")},
		"GET /api/v1/devices": list(nil, "/api/v1/devices", btn),
		"GET /api/v1/devices/{id}": read(nil, hidden404, func(side string) string {
			return "/api/v1/devices/btn-" + side
		}),
		"POST /api/v1/devices": {may: provision, ok: 201, sided: true, path: fixed("/api/v1/devices"),
			body: func(w *accessWorld, _ accessCaller, side string, _ bool) any {
				return map[string]any{"id": w.next("new-dev-" + side), "kind": "call_button", "site": accRoom[side]}
			}},
		"DELETE /api/v1/devices/{id}":       device(204, nil, ""),
		"PATCH /api/v1/devices/{id}":        device(200, map[string]string{"location": "床头"}, ""),
		"POST /api/v1/devices/{id}/replace": device(201, httpapi.ReplaceRequest{Model: "CB-300"}, "/replace"),
		"POST /api/v1/devices/{id}/test":    device(200, map[string]bool{"on": true}, "/test"),
		"GET /api/v1/devices/{id}/alarms": read(nil, hidden404, func(side string) string {
			return "/api/v1/devices/btn-" + side + "/alarms"
		}),
		"GET /api/v1/edge-boxes": list(nil, "/api/v1/edge-boxes", func(side string) string { return "box-" + side }),
		"POST /api/v1/devices/import": {may: provision, ok: 201, sided: true, path: fixed("/api/v1/devices/import"),
			body: func(w *accessWorld, _ accessCaller, side string, _ bool) any {
				return csvBody("id,kind,site\n" + w.next("imp-dev-"+side) + ",call_button," + accRoom[side] + "\n")
			}},
		"GET /api/v1/sites": list(nil, "/api/v1/sites", func(side string) string { return accHome[side] }),
		"POST /api/v1/sites": {may: provision, ok: 201, sided: true, path: fixed("/api/v1/sites"),
			body: func(w *accessWorld, _ accessCaller, side string, _ bool) any {
				return map[string]any{"id": w.next("new-site-" + side), "name": "房间", "level": "room", "parent": accHome[side]}
			}},
		"GET /api/v1/sites/{id}":    read(nil, hidden404, func(side string) string { return "/api/v1/sites/" + accVillage[side] }),
		"PATCH /api/v1/sites/{id}":  site(200, map[string]string{"name": "新房间"}),
		"DELETE /api/v1/sites/{id}": site(204, nil),
		"GET /api/v1/sites/{id}/tree": read(nil, hidden404, func(side string) string {
			return "/api/v1/sites/" + accVillage[side] + "/tree"
		}),
		"GET /api/v1/residents": list(nil, "/api/v1/residents", func(side string) string { return accResident[side] }),
		"POST /api/v1/residents": {may: provision, ok: 201, sided: true, path: fixed("/api/v1/residents"),
			body: func(w *accessWorld, _ accessCaller, side string, _ bool) any {
				return map[string]any{"id": w.next("new-res-" + side), "name": "测试", "birth_year": 1940, "home": accHome[side],
					"contacts": []map[string]string{{"name": "李娜", "phone": "13800000001", "relation": "女儿"}}}
			}},
		"GET /api/v1/residents/{id}": read(nil, hidden404, func(side string) string {
			return "/api/v1/residents/" + accResident[side]
		}),
		"PATCH /api/v1/residents/{id}":  res(200, map[string]any{"birth_year": 1939}),
		"DELETE /api/v1/residents/{id}": res(204, nil),
		"PUT /api/v1/residents/{id}/plan": {may: handlers, scope: hidden404, supervisor: true, ok: 200, sided: true,
			path: func(w *accessWorld, side string, fresh bool) string {
				id := accResident[side]
				if fresh {
					id = w.freshResident(side)
				}
				return "/api/v1/residents/" + id + "/plan"
			},
			body: func(*accessWorld, accessCaller, string, bool) any {
				return map[string]any{"call": []map[string]string{{"do": "打电话给女儿", "phone": "13800000001"}}}
			}},
		"GET /api/v1/audit": {may: provision, ok: 200, path: fixed("/api/v1/audit")},
		"GET /api/v1/devices/{id}/watch": {may: provision, ok: 200, sided: true,
			path: func(_ *accessWorld, side string, _ bool) string { return "/api/v1/devices/btn-" + side + "/watch" }},
		"GET /api/v1/users": {may: admins, ok: 200, path: fixed("/api/v1/users")},
		"POST /api/v1/users": {may: admins, ok: 201, path: fixed("/api/v1/users"),
			body: func(w *accessWorld, _ accessCaller, _ string, _ bool) any {
				return map[string]any{"name": w.next("new-user"), "role": "operator", "password": "0123456789ab"}
			}},
		"PATCH /api/v1/users/{name}":        user(200, "", map[string]string{"display_name": "孙"}),
		"DELETE /api/v1/users/{name}":       user(204, "", nil),
		"POST /api/v1/users/{name}/disable": user(200, "/disable", nil),
		"POST /api/v1/users/{name}/enable":  user(200, "/enable", nil),
		"PUT /api/v1/users/{name}/password": user(204, "/password", httpapi.PasswordRequest{Password: "another-long-password"}),
		"PUT /api/v1/me/password":           {ok: 204, self: true, path: fixed("/api/v1/me/password")},
		"GET /api/v1/duty":                  read(nil, param400, func(side string) string { return "/api/v1/duty?site=" + accVillage[side] }),
		"GET /api/v1/duty/coverage":         list(nil, "/api/v1/duty/coverage", func(side string) string { return accVillage[side] }),
		"POST /api/v1/duty/checkin":         duty("checkin"),
		"POST /api/v1/duty/checkout":        duty("checkout"),
		"GET /api/v1/me":                    {ok: 200, path: fixed("/api/v1/me")},
		"POST /api/v1/logout":               {ok: 204, self: true, path: fixed("/api/v1/logout")},
		"GET /api/v1/backup":                {may: admins, ok: 200, path: fixed("/api/v1/backup")},
		"GET /api/v1/wall/summary":          {may: walls, ok: 200, path: fixed("/api/v1/wall/summary")},
		"GET /api/v1/series":                {may: walls, ok: 200, path: fixed("/api/v1/series?measurement=telemetry&field=hr")},
		"GET /api/v1/wall-tokens":           {may: admins, ok: 200, path: fixed("/api/v1/wall-tokens")},
		"POST /api/v1/wall-tokens": {may: admins, ok: 201, path: fixed("/api/v1/wall-tokens"), body: func(w *accessWorld, _ accessCaller, _ string, _ bool) any {
			return httpapi.NewWallToken{Name: w.next("wall")}
		}},
		"DELETE /api/v1/wall-tokens/{id}": {may: admins, ok: 204,
			path: func(w *accessWorld, _ string, fresh bool) string {
				id := "W-none"
				if fresh {
					id = w.freshWallToken()
				}
				return "/api/v1/wall-tokens/" + id
			}},
	}
}

// newAccessWorld is the scope world plus a supervisor of qs-village
// (zhou), an act button and an edge box in each village, a wall token and
// the backup token, and the callers.
func newAccessWorld(t *testing.T) (*accessWorld, []accessCaller) {
	t.Helper()
	sw := newScopeWorld(t, gateway.Config{})
	sw.raise()
	w := &accessWorld{scopeWorld: sw, t: t, act: map[string]*gatewaytest.Device{}, last: map[string]string{}}
	g := sw.g
	if err := g.DB().AddUserProfile("zhou", state.RoleOperator, "zhou-long-password",
		state.Profile{Supervisor: true, Sites: []string{"qs-village"}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, side := range []string{"qs", "ls"} {
		id := "act-" + side
		w.act[side] = g.ConnectDevice(id, g.ProvisionWith(map[string]any{"id": id, "kind": "call_button", "site": accRoom[side]}))
		g.ProvisionWith(map[string]any{"id": "box-" + side, "kind": "edge_box", "site": accHome[side]})
	}
	tok, err := os.ReadFile(filepath.Join(g.Dir, gateway.BackupTokenFile))
	if err != nil {
		t.Fatalf("backup token: %v", err)
	}
	w.backup = strings.TrimSpace(string(tok))
	var made httpapi.WallTokenCreated
	w.admin("POST", "/api/v1/wall-tokens", httpapi.NewWallToken{Name: "duty room"}, 201, &made)
	callers := []accessCaller{
		{name: "admin", role: state.RoleAdmin, user: "admin", token: g.Admin.Token},
		{name: "supervisor", role: state.RoleOperator, user: "zhou", supervisor: true, narrow: true, token: w.session("zhou", false)},
		{name: "operator", role: state.RoleOperator, user: "li", narrow: true, token: w.session("li", false)},
		{name: "installer", role: state.RoleInstaller, user: "wu", token: w.session("wu", false)},
		{name: "wall", role: state.RoleWall, token: made.Token},
		{name: "cookie", role: state.RoleOperator, user: "li", narrow: true, cookie: true, token: w.session("li", true)},
		{name: "backup", backup: true, token: w.backup},
		{name: "anonymous"},
	}
	return w, callers
}

// selfCaller is a throwaway person like c (a new user of c's role and
// profile, or a new wall token) for a case that ends or changes its own
// session, and the body that case sends.
func (w *accessWorld) selfCaller(c accessCaller, pattern string, want int) (accessCaller, any) {
	w.t.Helper()
	switch {
	case want >= 300 && c.user != "": // refused: a session of its own is enough, no password hashed
		c.token = w.session(c.user, c.cookie)
		if pattern == "PUT /api/v1/me/password" {
			return c, httpapi.PasswordRequest{Current: c.user + "-long-password", Password: "a-new-long-password"}
		}
		return c, nil
	case c.role == state.RoleWall:
		var made httpapi.WallTokenCreated
		w.admin("POST", "/api/v1/wall-tokens", httpapi.NewWallToken{Name: w.next("self-wall")}, 201, &made)
		c.token = made.Token
		return c, nil
	case c.role == "":
		return c, nil
	}
	if pattern == "POST /api/v1/logout" { // a second session of the same person
		c.token = w.session(c.user, c.cookie)
		return c, nil
	}
	name, pw := w.next("self"), "self-long-password"
	var p state.Profile
	if c.narrow {
		p = state.Profile{Supervisor: c.supervisor, Sites: []string{"qs-village"}}
	}
	if err := w.g.DB().AddUserProfile(name, c.role, pw, p, time.Now()); err != nil {
		w.t.Fatal(err)
	}
	c.user, c.token = name, w.session(name, c.cookie)
	return c, httpapi.PasswordRequest{Current: pw, Password: "a-new-long-password"}
}

// TestAccessTable walks the access table: every route × every caller ×
// own and other site.
func TestAccessTable(t *testing.T) {
	w, callers := newAccessWorld(t)
	parent := t
	rules := accessRules()
	routes := httpapi.Routes()
	for pattern := range rules {
		if !slices.Contains(routes, pattern) {
			t.Errorf("the access table has %q, which httpapi.Routes() does not", pattern)
		}
	}
	cases := 0
	for _, pattern := range routes {
		rule, ok := rules[pattern]
		if !ok {
			t.Errorf("route %q has no entry in the access table (accessRules): say who may use it", pattern)
			continue
		}
		method, _, _ := strings.Cut(pattern, " ")
		stream := strings.HasSuffix(pattern, "/stream") || strings.HasSuffix(pattern, "/watch")
		sides := []string{""}
		if rule.sided {
			sides = []string{"qs", "ls"}
		}
		for _, c := range callers {
			for _, side := range sides {
				name := pattern + "/" + c.name
				if side != "" {
					name += "/" + map[string]string{"qs": "own", "ls": "other"}[side]
				}
				cases++
				t.Run(name, func(t *testing.T) {
					w.t = t
					defer func() { w.t = parent }()
					want := rule.want(c, method, pattern, side)
					caller, body := c, any(nil)
					if rule.self {
						caller, body = w.selfCaller(c, pattern, want)
					}
					path := rule.path(w, side, want < 300)
					path = strings.NewReplacer("{alarm-qs}", w.alarm["qs"], "{alarm-ls}", w.alarm["ls"]).Replace(path)
					if rule.body != nil {
						body = rule.body(w, c, side, want < 300)
					}
					b, code := w.send(caller, method, path, body, stream)
					if code == 200 && rule.effective != nil {
						code = rule.effective(b)
					}
					if code != want {
						t.Fatalf("%s %s as %s: HTTP %d, want %d: %.300s", method, path, c.name, code, want, b)
					}
					if rule.scope == listed && code == 200 {
						marker := `"` + rule.marker(side) + `"`
						if got := bytes.Contains(b, []byte(marker)); got != c.sees(side) {
							t.Fatalf("%s as %s: lists %s: %v, want %v: %.300s", path, c.name, marker, got, c.sees(side), b)
						}
					}
				})
			}
		}
	}
	t.Run("refused attempts changed nothing", func(t *testing.T) { w.t = t; w.unchanged() })
	t.Logf("%d routes, %d HTTP access cases", len(routes), cases)
	if len(routes) < 50 {
		t.Fatalf("only %d routes: is httpapi.Routes complete?", len(routes))
	}
}

// unchanged checks that the objects the refused cases aimed at are as
// they were: every case expected to succeed had a fresh object of its own.
func (w *accessWorld) unchanged() {
	w.t.Helper()
	for _, side := range []string{"qs", "ls"} {
		var a httpapi.AlarmView
		w.admin("GET", "/api/v1/alarms/"+w.alarm[side], nil, 200, &a)
		if a.State != "raised" {
			w.t.Errorf("%s's alarm is %s, want still raised", side, a.State)
		}
		for _, e := range a.Timeline { // the system's escalations go on; people did nothing
			switch e.Action {
			case alerting.ActAcknowledged, alerting.ActDispatched, alerting.ActResolved, alerting.ActCancelled, alerting.ActNote:
				w.t.Errorf("%s's alarm has a %s by %s", side, e.Action, e.Actor)
			}
		}
		var d httpapi.DeviceView
		w.admin("GET", "/api/v1/devices/btn-"+side, nil, 200, &d)
		if d.Site != accRoom[side] || d.Location != "" || d.Test {
			w.t.Errorf("btn-%s changed: %+v", side, d)
		}
		w.admin("GET", "/api/v1/sites/"+accRoom[side], nil, 200, nil)
		w.admin("GET", "/api/v1/residents/"+accResident[side], nil, 200, nil)
	}
	for _, id := range accResident {
		var p httpapi.ResidentView
		w.admin("GET", "/api/v1/residents/"+id, nil, 200, &p)
		if len(p.Plan) != 0 {
			w.t.Errorf("%s's plan was set by a refused case: %v", id, p.Plan)
		}
	}
	if u, _, _ := w.g.DB().User("sun"); u.Disabled || u.DisplayName != "" {
		w.t.Errorf("sun changed: %+v", u)
	}
}

// TestAccessOutsideTheRouteTable: what answers without a session (health,
// readiness, metrics, the API's description, login, the console's
// assets), what does not (an integration push without its secret, an
// unknown API path), and path tricks that must not reach a route the
// caller may not use: a cleaned path is judged as the route it becomes.
func TestAccessOutsideTheRouteTable(t *testing.T) {
	w, callers := newAccessWorld(t)
	anon, operator := callers[len(callers)-1], callers[2]
	if anon.name != "anonymous" || operator.name != "operator" {
		t.Fatal("the callers' order changed")
	}
	cases := []struct {
		who          accessCaller
		method, path string
		body         any
		want         int
	}{
		{anon, "GET", "/healthz", nil, 200},
		{anon, "GET", "/readyz", nil, 200},
		{anon, "GET", "/metrics", nil, 200},
		{anon, "GET", "/api/v1/openapi.json", nil, 200},
		{anon, "GET", "/", nil, 200},
		{anon, "POST", "/api/v1/login", map[string]string{"user": "li", "password": "not-her-password"}, 401},
		{anon, "POST", "/ingest/v1/nb-iot", map[string]any{"device": "btn-qs"}, 404},
		{anon, "GET", "/api/v1/nothing", nil, 404},
		{anon, "GET", "/api/v1/alarms/", nil, 404},
		{operator, "GET", "/api/v1/alarms/../users", nil, 403},
		{operator, "GET", "/api/v1/devices/%2e%2e/users", nil, 404},
		{operator, "GET", "/api/v1/sites/ls-village%2ftree", nil, 404},
		{operator, "GET", "/api/v1//users", nil, 403},
		{operator, "GET", "/API/v1/users", nil, 404}, // not the API: the console has no such page
		{operator, "DELETE", "/api/v1/wall-tokens/../users/sun", nil, 403},
		{operator, "GET", "/api/v1/alarms/" + w.alarm["ls"] + "%2F..%2F" + w.alarm["qs"], nil, 404},
	}
	for _, c := range cases {
		t.Run(c.who.name+"/"+c.method+" "+c.path, func(t *testing.T) {
			w.t = t
			b, code := w.send(c.who, c.method, c.path, c.body, false)
			if code != c.want {
				t.Fatalf("HTTP %d, want %d: %.200s", code, c.want, b)
			}
			if c.who.name == "operator" && code == 200 && bytes.Contains(b, []byte(`"users"`)) {
				t.Fatalf("an operator read the users: %.200s", b)
			}
		})
	}
}
