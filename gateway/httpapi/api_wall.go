package httpapi

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"

	"github.com/anxin-care/anxin/gateway/state"
)

// Wall screens (the 24-hour dashboard at /wall) read the API with a wall
// token: role wall, made by an admin, long-lived, revocable. A wall reads
// only the routes that name state.RoleWall (mayUse): the summary, the
// series and the alarm stream; every other route, and every route that
// changes anything, answers it 403. Nothing it reads names a resident
// beyond what the wall shows: the summary lists alarms by type and place,
// and a wall's stream carries each frame's id and event with the data left
// out ("data: {}", forWall), as a signal to read the summary again. The
// alarms themselves (residents' names, notes) stay with the people who
// handle them. Revoking a token ends its session and closes the streams it
// has open (wallStreams), so the screen learns at once that it is logged
// out.

// wallRoles may read what the wall shows: admins, and walls.
var wallRoles = []state.Role{state.RoleAdmin, state.RoleWall}

// mayUse reports whether role may use a route open to roles (nil: any
// logged-in person). A wall uses only the routes that name it.
func mayUse(roles []state.Role, role state.Role) bool {
	if roles == nil {
		return role != state.RoleWall
	}
	return slices.Contains(roles, role)
}

// wallStreams are the open streams of each wall token, so that revoking
// it closes them. Its lock is a leaf.
type wallStreams struct {
	mu   sync.Mutex
	open map[string]map[*context.CancelFunc]struct{}
}

// track returns r with a context that revoke(wall) cancels, and the
// function that forgets it when the stream ends.
func (ws *wallStreams) track(wall string, r *http.Request) (*http.Request, func()) {
	ctx, cancel := context.WithCancel(r.Context())
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.open == nil {
		ws.open = map[string]map[*context.CancelFunc]struct{}{}
	}
	if ws.open[wall] == nil {
		ws.open[wall] = map[*context.CancelFunc]struct{}{}
	}
	ws.open[wall][&cancel] = struct{}{}
	return r.WithContext(ctx), func() {
		cancel()
		ws.mu.Lock()
		defer ws.mu.Unlock()
		delete(ws.open[wall], &cancel)
		if len(ws.open[wall]) == 0 {
			delete(ws.open, wall)
		}
	}
}

// revoke closes every open stream of wall.
func (ws *wallStreams) revoke(wall string) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	for cancel := range ws.open[wall] {
		(*cancel)()
	}
}

// closedOnRevoke wraps a stream handler so that a wall's stream ends when
// its token is revoked.
func (srv *server) closedOnRevoke(fn func(http.ResponseWriter, *http.Request, state.Session)) func(http.ResponseWriter, *http.Request, state.Session) {
	return func(w http.ResponseWriter, r *http.Request, s state.Session) {
		if s.Wall == "" {
			fn(w, r, s)
			return
		}
		r, done := srv.walls.track(s.Wall, r)
		defer done()
		fn(w, r, s)
	}
}

// forWall is a frame of the alarm stream as a wall gets it: its id and
// event lines, its data replaced by {}.
func forWall(fr frame) frame {
	var b []byte
	for _, line := range bytes.SplitAfter(fr.b, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("data: ")) {
			line = []byte("data: {}\n")
		}
		b = append(b, line...)
	}
	fr.b = b
	return fr
}

// wallFeed relays the frames of ch stripped for a wall (forWall). The
// channel it returns closes when ch does (the subscriber was dropped or
// unsubscribed) or once done is closed.
func wallFeed(ch <-chan frame, done <-chan struct{}) <-chan frame {
	out := make(chan frame, streamBuffer)
	go func() {
		defer close(out)
		for fr := range ch {
			select {
			case out <- forWall(fr):
			case <-done:
				return
			}
		}
	}()
	return out
}

// NewWallToken is the body of POST /api/v1/wall-tokens.
type NewWallToken struct {
	Name string `json:"name"`
}

// WallTokenCreated answers POST /api/v1/wall-tokens: the token is shown
// only this once.
type WallTokenCreated struct {
	state.WallToken
	Token string `json:"token"`
}

func (srv *server) createWallToken(w http.ResponseWriter, r *http.Request, s state.Session) {
	var req NewWallToken
	if !readJSON(w, r, &req) {
		return
	}
	wt, token, err := srv.db.NewWallToken(req.Name, s.User, srv.now())
	if err != nil {
		writeRegistryError(w, err)
		return
	}
	srv.log.Info("wall token made", "wall", wt.ID, "name", wt.Name, "by", s.User)
	writeJSON(w, http.StatusCreated, WallTokenCreated{WallToken: wt, Token: token})
}

func (srv *server) listWallTokens(w http.ResponseWriter, _ *http.Request, _ state.Session) {
	list, err := srv.db.WallTokens()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"wall_tokens": list})
}

func (srv *server) revokeWallToken(w http.ResponseWriter, r *http.Request, s state.Session) {
	id := r.PathValue("id")
	if err := srv.db.RevokeWallToken(id, s.User, srv.now()); err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, state.ErrWallTokenUnknown) {
			status = http.StatusNotFound
		}
		writeError(w, status, err.Error())
		return
	}
	srv.walls.revoke(id)
	srv.log.Info("wall token revoked", "wall", id, "by", s.User)
	w.WriteHeader(http.StatusNoContent)
}
