package httpapi

import (
	"context"
	"errors"
	"net/http"
	"sync"

	"github.com/anxin-care/anxin/gateway/state"
)

// User administration beyond adding and profiles: an admin disables,
// enables and removes people and resets their passwords; anyone changes
// their own. Disabling, removing or a reset ends the person's sessions at
// once; each change is in the audit trail (a password never is).

// PasswordRequest is the body of PUT /api/v1/users/{name}/password (an
// admin's reset: only password) and PUT /api/v1/me/password (current too).
type PasswordRequest struct {
	Current  string `json:"current,omitempty"`
	Password string `json:"password"`
}

// disableUser serves POST /api/v1/users/{name}/disable and …/enable.
func (srv *server) disableUser(disabled bool) func(http.ResponseWriter, *http.Request, state.Session) {
	return func(w http.ResponseWriter, r *http.Request, s state.Session) {
		name := r.PathValue("name")
		u, err := srv.db.SetDisabled(name, disabled, s.User, srv.now())
		if err != nil {
			writeUserError(w, err)
			return
		}
		if disabled {
			srv.live.end(name, "")
		}
		srv.log.Info("user disabled or enabled", "user", name, "disabled", disabled, "by", s.User)
		srv.dutyChanged()
		writeJSON(w, http.StatusOK, u)
	}
}

// removeUser serves DELETE /api/v1/users/{name}.
func (srv *server) removeUser(w http.ResponseWriter, r *http.Request, s state.Session) {
	name := r.PathValue("name")
	if err := srv.db.RemoveUser(name, s.User, srv.now()); err != nil {
		writeUserError(w, err)
		return
	}
	srv.live.end(name, "")
	srv.log.Info("user removed", "user", name, "by", s.User)
	srv.dutyChanged()
	w.WriteHeader(http.StatusNoContent)
}

// resetPassword serves PUT /api/v1/users/{name}/password: an admin sets
// someone's password; all of their sessions end.
func (srv *server) resetPassword(w http.ResponseWriter, r *http.Request, s state.Session) {
	var req PasswordRequest
	if !readJSON(w, r, &req) {
		return
	}
	name := r.PathValue("name")
	keep := ""
	if name == s.User {
		keep = bearer(r, false)
	}
	if err := srv.db.SetPassword(name, req.Password, s.User, keep, srv.now()); err != nil {
		writeUserError(w, err)
		return
	}
	srv.live.end(name, keep)
	srv.log.Info("password reset", "user", name, "by", s.User)
	w.WriteHeader(http.StatusNoContent)
}

// changeOwnPassword serves PUT /api/v1/me/password: the current password
// and the new one; the user's other sessions end, this one stays.
func (srv *server) changeOwnPassword(w http.ResponseWriter, r *http.Request, s state.Session) {
	var req PasswordRequest
	if !readJSON(w, r, &req) {
		return
	}
	var err error
	if herr := srv.logins.hash.do(r.Context(), func() { _, err = srv.db.CheckPassword(s.User, req.Current) }); herr != nil {
		writeError(w, http.StatusServiceUnavailable, herr.Error())
		return
	}
	if err != nil {
		if errors.Is(err, state.ErrBadLogin) {
			writeJSON(w, http.StatusForbidden, FieldErrorBody{Error: "current: the current password is wrong", Field: "current"})
			return
		}
		writeUserError(w, err)
		return
	}
	if err := srv.db.SetPassword(s.User, req.Password, s.User, bearer(r, false), srv.now()); err != nil {
		writeUserError(w, err)
		return
	}
	srv.live.end(s.User, bearer(r, false))
	srv.log.Info("password changed", "user", s.User)
	w.WriteHeader(http.StatusNoContent)
}

// writeUserError answers an error of the user administration.
func writeUserError(w http.ResponseWriter, err error) {
	var fe *state.FieldError
	switch {
	case errors.Is(err, state.ErrUserUnknown):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, state.ErrLastAdmin), errors.Is(err, state.ErrSelf):
		writeError(w, http.StatusConflict, err.Error())
	case errors.As(err, &fe):
		writeJSON(w, http.StatusBadRequest, FieldErrorBody{Error: err.Error(), Field: fe.Field})
	default:
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}

// liveSessions are the requests that last (the event streams) by user and
// token (bearer, query or cookie), so that a session ended by logout,
// disabling, removing or a password reset also ends its open streams at
// once, not at their next request.
type liveSessions struct {
	mu   sync.Mutex
	open map[*liveRequest]struct{}
}

type liveRequest struct {
	user, token string
	cancel      context.CancelFunc
}

// add registers a lasting request; end unregisters it.
func (l *liveSessions) add(parent context.Context, user, token string) (ctx context.Context, end func()) {
	ctx, cancel := context.WithCancel(parent)
	lr := &liveRequest{user: user, token: token, cancel: cancel}
	l.mu.Lock()
	if l.open == nil {
		l.open = map[*liveRequest]struct{}{}
	}
	l.open[lr] = struct{}{}
	l.mu.Unlock()
	return ctx, func() {
		l.mu.Lock()
		delete(l.open, lr)
		l.mu.Unlock()
		cancel()
	}
}

// endToken cancels the lasting requests of one session.
func (l *liveSessions) endToken(token string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for lr := range l.open {
		if lr.token == token {
			lr.cancel()
		}
	}
}

// end cancels the lasting requests of user, except those of keepToken.
func (l *liveSessions) end(user, keepToken string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for lr := range l.open {
		if lr.user == user && (keepToken == "" || lr.token != keepToken) {
			lr.cancel()
		}
	}
}
