package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/gateway/state"
)

// The live stream (GET /api/v1/stream) is Server-Sent Events: every alarm
// change the reader's role may see (audienceOf) as it happens, as
//
//	id: <alarm version>
//	event: alarm
//	data: {"alarm": {...}, "entry": {...}}
//
// and a ": ping <time>" comment every streamPing, so that a console can show
// a "data stale" banner when pings stop. A subscriber that cannot keep up is
// disconnected rather than allowed to slow the engine; it reconnects and
// reloads the open alarms, so it never silently misses a change. Each
// event and ping must be written within stream_write_timeout, so a client
// that stops reading is dropped too, once the kernel's buffers are full.
const (
	streamPing   = 10 * time.Second
	streamBuffer = 256
)

// StreamMessage is the data of one "alarm" event on the stream.
type StreamMessage struct {
	Alarm *alerting.Alarm `json:"alarm"`
	Entry alerting.Entry  `json:"entry"`
}

// Hub fans Server-Sent Events frames out by topic: allAlarms is the alarm
// stream, a device id is that device's watch (watch.go). Sending never
// blocks: a subscriber whose buffer is full is dropped. Safe for concurrent
// use.
type Hub struct {
	mu     sync.Mutex
	subs   map[string]map[*subscriber]struct{}
	closed bool
}

// allAlarms is the topic of the alarm stream; device ids are never empty.
const allAlarms = ""

type subscriber struct {
	ch chan []byte
	audience
}

// audience is what a subscriber may read besides device health: walk-test
// alarms (installers and admins), residents' alarms (operators and admins).
type audience struct{ test, real bool }

// audienceOf is what role reads: installers see their walk tests and
// nothing of residents' alarms, operators never see walk tests.
func audienceOf(role state.Role) audience {
	return audience{test: role != state.RoleOperator, real: role != state.RoleInstaller}
}

// frameAbout says who may read a frame: anyone, or only those who see
// walk-test alarms, or only those who see residents' alarms.
type frameAbout int

const (
	aboutAnyone frameAbout = iota
	aboutTest
	aboutReal
)

// about is what a frame about an alarm, or an event of a device, in test
// mode or not, is about.
func about(test bool) frameAbout {
	if test {
		return aboutTest
	}
	return aboutReal
}

func (a audience) reads(f frameAbout) bool {
	return f == aboutAnyone || f == aboutTest && a.test || f == aboutReal && a.real
}

// NewHub returns an empty hub.
func NewHub() *Hub { return &Hub{subs: map[string]map[*subscriber]struct{}{}} }

func (h *Hub) subscribe(topic string, a audience) *subscriber {
	s := &subscriber{ch: make(chan []byte, streamBuffer), audience: a}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed { // shutting down: the stream ends at once
		close(s.ch)
		return s
	}
	if h.subs[topic] == nil {
		h.subs[topic] = map[*subscriber]struct{}{}
	}
	h.subs[topic][s] = struct{}{}
	return s
}

func (h *Hub) unsubscribe(topic string, s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[topic][s]; ok {
		delete(h.subs[topic], s)
		close(s.ch)
	}
	if len(h.subs[topic]) == 0 {
		delete(h.subs, topic)
	}
}

// Watched reports whether anyone follows topic, so that callers encode
// nothing when nobody does, which for a device watch is nearly always.
func (h *Hub) Watched(topic string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs[topic]) > 0
}

// send hands frame to topic's subscribers that may read what it is about.
func (h *Hub) send(topic string, frame []byte, f frameAbout) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs[topic] {
		if !s.reads(f) {
			continue
		}
		select {
		case s.ch <- frame:
		default:
			delete(h.subs[topic], s)
			close(s.ch)
		}
	}
}

// PublishChange is an engine subscriber, on the alarm stream and on the
// watch of the alarm's device; it must not block.
func (h *Hub) PublishChange(c alerting.Change) {
	b, err := json.Marshal(StreamMessage{Alarm: c.Alarm, Entry: c.Entry})
	if err != nil {
		return
	}
	h.send(allAlarms, fmt.Appendf(nil, "id: %d\nevent: alarm\ndata: %s\n\n", c.Alarm.Version, b), about(c.Alarm.Test))
	if !c.Alarm.IsSite() { // a site alarm is on no device's watch
		h.send(c.Alarm.Device, fmt.Appendf(nil, "event: alarm\ndata: %s\n\n", b), about(c.Alarm.Test))
	}
}

// Close ends every stream; later subscribers end at once.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for topic, subs := range h.subs {
		for s := range subs {
			close(s.ch)
		}
		delete(h.subs, topic)
	}
}

func (srv *server) handleStream(w http.ResponseWriter, r *http.Request, sess state.Session) {
	sub := srv.hub.subscribe(allAlarms, audienceOf(sess.Role))
	defer srv.hub.unsubscribe(allAlarms, sub)
	srv.serveSSE(w, r, sub.ch)
}

// streamMetrics count the event streams' clients (stream and watches).
type streamMetrics struct {
	clients       prometheus.Gauge
	writeTimeouts prometheus.Counter
}

func newStreamMetrics(reg prometheus.Registerer) *streamMetrics {
	m := &streamMetrics{
		clients: prometheus.NewGauge(prometheus.GaugeOpts{Name: "anxin_stream_clients",
			Help: "Clients connected to the alarm stream or a device watch."}),
		writeTimeouts: prometheus.NewCounter(prometheus.CounterOpts{Name: "anxin_stream_write_timeouts_total",
			Help: "Stream clients dropped because an event could not be written within stream_write_timeout."}),
	}
	reg.MustRegister(m.clients, m.writeTimeouts)
	return m
}

// serveSSE writes the frames of ch to the client as Server-Sent Events,
// with a ping comment every streamPing, until the client goes, stops
// reading, or ch closes.
func (srv *server) serveSSE(w http.ResponseWriter, r *http.Request, ch <-chan []byte) {
	rc := http.NewResponseController(w)
	// The stream outlives the per-request deadlines (withDeadlines): no read
	// deadline, and a write deadline per event instead.
	if err := rc.SetReadDeadline(time.Time{}); err != nil {
		writeError(w, http.StatusInternalServerError, "streaming unsupported: "+err.Error())
		return
	}
	srv.streams.clients.Inc()
	defer srv.streams.clients.Dec()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	write := func(frame []byte) bool {
		rc.SetWriteDeadline(time.Now().Add(srv.StreamWriteTimeout))
		_, err := w.Write(frame)
		if err == nil {
			err = rc.Flush()
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			srv.streams.writeTimeouts.Inc()
			srv.log.Info("stream client dropped: not reading", "remote", r.RemoteAddr, "path", r.URL.Path)
		}
		return err == nil
	}
	if !write(fmt.Appendf(nil, "retry: 2000\n: connected %s\n\n", srv.now().UTC().Format(time.RFC3339))) {
		return
	}
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
			if !write(frame) {
				return
			}
		case t := <-ping.C:
			if !write(fmt.Appendf(nil, ": ping %s\n\n", t.UTC().Format(time.RFC3339))) {
				return
			}
		}
	}
}
