package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/anxin-care/anxin/alerting"
)

// The live stream (GET /api/v1/stream) is Server-Sent Events: every alarm
// change as it happens, as
//
//	id: <alarm version>
//	event: alarm
//	data: {"alarm": {...}, "entry": {...}}
//
// and a ": ping <time>" comment every streamPing, so that a console can show
// a "data stale" banner when pings stop. A subscriber that cannot keep up is
// disconnected rather than allowed to slow the engine; it reconnects and
// reloads the open alarms, so it never silently misses a change.
const (
	streamPing   = 10 * time.Second
	streamBuffer = 256
)

// StreamMessage is the data of one "alarm" event on the stream.
type StreamMessage struct {
	Alarm *alerting.Alarm `json:"alarm"`
	Entry alerting.Entry  `json:"entry"`
}

type hub struct {
	mu     sync.Mutex
	subs   map[*subscriber]struct{}
	closed bool
}

type subscriber struct {
	ch   chan []byte
	test bool // sees walk-test alarms, which operators do not
}

func newHub() *hub { return &hub{subs: map[*subscriber]struct{}{}} }

func (h *hub) subscribe(test bool) *subscriber {
	s := &subscriber{ch: make(chan []byte, streamBuffer), test: test}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(s.ch)
		return s
	}
	h.subs[s] = struct{}{}
	return s
}

func (h *hub) unsubscribe(s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		close(s.ch)
	}
}

// publishChange is an engine subscriber: it must not block.
func (h *hub) publishChange(c alerting.Change) {
	b, err := json.Marshal(StreamMessage{Alarm: c.Alarm, Entry: c.Entry})
	if err != nil {
		return
	}
	frame := fmt.Appendf(nil, "id: %d\nevent: alarm\ndata: %s\n\n", c.Alarm.Version, b)
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		if c.Alarm.Test && !s.test {
			continue
		}
		select {
		case s.ch <- frame:
		default:
			delete(h.subs, s)
			close(s.ch)
		}
	}
}

func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.subs {
		delete(h.subs, s)
		close(s.ch)
	}
}

func (g *Gateway) handleStream(w http.ResponseWriter, r *http.Request, sess Session) {
	sub := g.hub.subscribe(sess.Role != RoleOperator)
	defer g.hub.unsubscribe(sub)
	g.serveSSE(w, r, sub.ch)
}

// serveSSE writes the frames of ch to the client as Server-Sent Events,
// with a ping comment every streamPing, until the client goes or ch closes.
func (g *Gateway) serveSSE(w http.ResponseWriter, r *http.Request, ch <-chan []byte) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "streaming unsupported")
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "retry: 2000\n: connected %s\n\n", g.now().UTC().Format(time.RFC3339))
	flusher.Flush()
	ping := time.NewTicker(streamPing)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case frame, ok := <-ch:
			if !ok {
				return // too slow, or shutting down: the client reconnects and reloads
			}
			if _, err := w.Write(frame); err != nil {
				return
			}
			flusher.Flush()
		case t := <-ping.C:
			if _, err := fmt.Fprintf(w, ": ping %s\n\n", t.UTC().Format(time.RFC3339)); err != nil {
				return
			}
			flusher.Flush()
		}
	}
}
