package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Resuming the alarm stream. Every frame the hub sends on it has the id
// "<boot>-<position>": boot is random, new with every process, and position
// counts the stream's frames from 1 (one sequence for all readers, before
// the audience filter). The hub keeps the last StreamWindow frames. A
// client that reconnects with the last id it saw, in the Last-Event-ID
// header as EventSource sends it or as ?last_event_id=, gets
//
//   - the frames since that position that its role may read, in order,
//     then the live ones: subscribing and reading the window happen under
//     the hub's lock, and serveSSE skips any position it already wrote, so
//     there is no gap and no duplicate;
//   - or, when the id is of another boot (the gateway restarted), not an id
//     at all, or older than the window, one frame
//
//     id: <boot>-<position now>
//     event: reload
//     data: {"reason": "unknown" | "expired"}
//
//     telling it to reload its state (GET /api/v1/alarms?state=open) before
//     it goes on with the live frames that follow.
//
// A client starting afresh gets "id: <boot>-<position now>" with no data,
// which sets its last id without an event, so that a blip before the
// first alarm loses nothing either. The device watches are live only and
// carry no ids: an installer in the room sees what happens from now on.

// StreamWindow is how many of the alarm stream's last frames the hub keeps
// for clients that resume: at one to a few kilobytes a frame (the alarm
// with its timeline), a few megabytes at most, and far more changes than a
// busy county's console sees during a network blip.
const StreamWindow = 1000

// Reasons a resuming client is told to reload.
const (
	reloadUnknown = "unknown" // another boot's id, or no id of ours
	reloadExpired = "expired" // older than the window
)

// HubOption changes a hub from its defaults.
type HubOption func(*Hub)

// WithWindow keeps n frames (at least 1) instead of StreamWindow; tests use
// it to overrun the window quickly.
func WithWindow(n int) HubOption {
	return func(h *Hub) { h.window = make([]frame, max(n, 1)) }
}

func newBoot() string {
	b := make([]byte, 6)
	rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// id is the stream id of position pos.
func (h *Hub) id(pos uint64) string { return h.boot + "-" + strconv.FormatUint(pos, 10) }

// lastEventID is where a client resumes: the Last-Event-ID header, or the
// last_event_id query parameter for clients that cannot set headers.
func lastEventID(r *http.Request) string {
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		return id
	}
	return r.URL.Query().Get("last_event_id")
}

// follow subscribes a reader of audience a to the alarm stream and returns
// what to write before the live frames: the missed frames after lastID, or
// a reload frame and why (reload), or for a fresh start ("") the current
// position.
func (h *Hub) follow(a audience, sc scope, lastID string) (s *subscriber, first []frame, reload string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s = h.subscribeLocked(allAlarms, a, sc)
	if lastID == "" {
		return s, []frame{{pos: h.pos, b: fmt.Appendf(nil, "id: %s\n\n", h.id(h.pos))}}, ""
	}
	boot, n, _ := strings.Cut(lastID, "-")
	p, err := strconv.ParseUint(n, 10, 64)
	switch {
	case boot != h.boot || err != nil || p > h.pos:
		reload = reloadUnknown
	case h.pos-p > uint64(len(h.window)):
		reload = reloadExpired
	}
	if reload != "" {
		return s, []frame{{pos: h.pos, b: fmt.Appendf(nil, "id: %s\nevent: reload\ndata: {\"reason\":%q}\n\n", h.id(h.pos), reload)}}, reload
	}
	for q := p + 1; q <= h.pos; q++ {
		if fr := h.window[q%uint64(len(h.window))]; fr.readBy(s) {
			first = append(first, fr)
		}
	}
	return s, first, ""
}
