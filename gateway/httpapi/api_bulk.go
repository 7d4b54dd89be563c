package httpapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/gateway/state"
)

// maxBulk bounds the alarms one bulk resolve names.
const maxBulk = 1000

// BulkResolve is the body of POST /api/v1/alarms/resolve: many technical
// (P3) alarms closed with one outcome, e.g. the offline alarms of a
// village whose power came back. Admins may, and operators whose profile
// marks them supervisor, for the alarms at the sites of their profile and
// below; P1 and P2 alarms are refused here and must be resolved one by one.
type BulkResolve struct {
	IDs     []string `json:"ids"`
	Outcome string   `json:"outcome"`
	Note    string   `json:"note"`
}

// BulkResult is what became of one alarm of a bulk resolve: State when it
// was resolved, else Status (the HTTP status it would have had alone) and
// Error.
type BulkResult struct {
	ID     string `json:"id"`
	State  string `json:"state,omitempty"`
	Status int    `json:"status,omitempty"`
	Error  string `json:"error,omitempty"`
}

// BulkAnswer is the answer to a bulk resolve: 200 whatever became of each
// alarm; Failed counts the alarms not resolved.
type BulkAnswer struct {
	Resolved int          `json:"resolved"`
	Failed   int          `json:"failed"`
	Results  []BulkResult `json:"results"`
}

// resolveAlarms serves POST /api/v1/alarms/resolve. Each alarm is resolved
// on its own, with its own timeline entry; one that cannot be resolved is
// reported by id and does not stop the others.
func (srv *server) resolveAlarms(w http.ResponseWriter, r *http.Request, s state.Session) {
	scope, ok := srv.bulkScope(w, s)
	if !ok {
		return
	}
	var req BulkResolve
	if !readJSON(w, r, &req) {
		return
	}
	switch {
	case len(req.IDs) == 0:
		writeRegistryError(w, state.FieldErrorf("ids", "name at least one alarm"))
		return
	case len(req.IDs) > maxBulk:
		writeRegistryError(w, state.FieldErrorf("ids", "at most %d alarms at once", maxBulk))
		return
	case req.Outcome == "":
		writeError(w, http.StatusBadRequest, fmt.Sprintf(`"outcome" is required, one of %v`, alerting.Outcomes))
		return
	}
	ans := BulkAnswer{Results: make([]BulkResult, 0, len(req.IDs))}
	seen := map[string]bool{}
	for _, id := range req.IDs {
		if seen[id] {
			continue
		}
		seen[id] = true
		res := srv.resolveOne(id, s.User, req, scope)
		if res.Error == "" {
			ans.Resolved++
		} else {
			ans.Failed++
		}
		ans.Results = append(ans.Results, res)
	}
	srv.log.Info("alarms resolved in bulk", "by", s.User, "outcome", req.Outcome, "resolved", ans.Resolved, "failed", ans.Failed)
	writeJSON(w, http.StatusOK, ans)
}

// bulkScope answers who may resolve in bulk: an admin anywhere (nil
// scope), a supervisor at the sites of their profile and below (the set
// of those sites); anyone else is answered 403 and ok is false.
func (srv *server) bulkScope(w http.ResponseWriter, s state.Session) (scope map[string]bool, ok bool) {
	if s.Role == state.RoleAdmin {
		return nil, true
	}
	u, found, err := srv.db.User(s.User)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return nil, false
	}
	if !found || s.Role != state.RoleOperator || !u.Supervisor {
		writeError(w, http.StatusForbidden, fmt.Sprintf("%s may not resolve alarms in bulk: only admins and supervisors may", s.User))
		return nil, false
	}
	scope = map[string]bool{}
	for _, site := range u.Sites {
		scope[site] = true
	}
	return scope, true
}

// inScope reports whether site is at or below one of scope's sites; a nil
// scope (an admin's) holds every site.
func (srv *server) inScope(scope map[string]bool, site string) bool {
	if scope == nil {
		return true
	}
	for _, s := range srv.reg.Sites().Path(site) {
		if scope[s.ID] {
			return true
		}
	}
	return false
}

func (srv *server) resolveOne(id, user string, req BulkResolve, scope map[string]bool) BulkResult {
	a, err := srv.eng.Get(id)
	if err == nil && !srv.inScope(scope, a.Site) {
		where := "has no site"
		if a.Site != "" {
			where = "is at " + a.Site
		}
		return BulkResult{ID: id, Status: http.StatusForbidden,
			Error: fmt.Sprintf("alarm %s %s, not at or below one of %s's sites", id, where, user)}
	}
	if err == nil && a.Priority != alerting.P3 {
		err = fmt.Errorf("%w: alarm %s is %s; only P3 alarms are resolved in bulk", alerting.ErrTransition, id, a.Priority)
	}
	if err == nil {
		a, err = srv.eng.Resolve(id, user, req.Outcome, req.Note)
	}
	if err != nil {
		return BulkResult{ID: id, Status: alarmErrorStatus(err), Error: err.Error()}
	}
	return BulkResult{ID: id, State: string(a.State)}
}

// alarmErrorStatus is the HTTP status writeAlarmError answers err with.
func alarmErrorStatus(err error) int {
	switch {
	case errors.Is(err, alerting.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, alerting.ErrTransition):
		return http.StatusConflict
	case errors.Is(err, alerting.ErrOutcome), errors.Is(err, alerting.ErrEmptyNote):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}
