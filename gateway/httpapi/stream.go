package httpapi

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/gateway/state"
)

// The live stream (GET /api/v1/stream) is Server-Sent Events: every alarm
// change the reader's role may see (audienceOf) as it happens, as
//
//	id: <boot>-<position>
//	event: alarm
//	data: {"alarm": {...}, "entry": {...}}
//
// and a ": ping <time>" comment every streamPing, so that a console can show
// a "data stale" banner when pings stop. The id is the frame's position on
// the stream, for resuming (resume.go): a client that reconnects with the
// last id it saw gets what it missed, or an "event: reload". A subscriber
// that cannot keep up is disconnected rather than allowed to slow the
// engine; it reconnects and resumes, so it never silently misses a change.
// Each event and ping must be written within stream_write_timeout, so a
// client that stops reading is dropped too, once the kernel's buffers are
// full. So a client costs at most streamBuffer frames (shared with every
// other reader, not copied) and the kernel's socket buffers, and the hub
// never waits for one: a reader that falls streamBuffer frames behind is
// dropped at once (anxin_stream_overflows_total), one whose socket takes
// nothing for stream_write_timeout at its next write
// (anxin_stream_write_timeouts_total).
const (
	streamPing   = 10 * time.Second
	streamBuffer = 256
	// streamSendBuffer is a stream connection's socket send buffer. Left
	// to the kernel, it grows to tcp_wmem's maximum (4 MiB on Linux)
	// while a client reads nothing, so that such a client is not found
	// out for megabytes of frames and a few hundred of them put all TCP,
	// device connections included, under memory pressure. Linux doubles
	// the value for its bookkeeping.
	streamSendBuffer = 64 << 10
	// streamRetry is the reconnection delay the stream advises ("retry:").
	streamRetry = 2 * time.Second
)

// StreamMessage is the data of one "alarm" event on the stream.
type StreamMessage struct {
	Alarm *AlarmView     `json:"alarm"`
	Entry alerting.Entry `json:"entry"`
}

// NobodyReachedMessage is the data of a "nobody_reached" event: a P1
// escalation step or an unattended notice of the alarm reached no one
// (alerting.NobodyReached). It follows the "alarm" event of the same
// change, for every reader who may see the alarm.
type NobodyReachedMessage struct {
	Alarm  *AlarmView `json:"alarm"`
	Reason string     `json:"reason"`
}

// AlarmViewer turns an alarm into what the stream sends (AlarmView) and
// names the sites it is at, root first, for the readers' scope.
type AlarmViewer func(*alerting.Alarm) (view AlarmView, ancestry []string)

// Hub fans Server-Sent Events frames out by topic: allAlarms is the alarm
// stream, a device id is that device's watch (watch.go). The alarm
// stream's frames are numbered and the last ones kept for resuming
// (resume.go). Sending never blocks: a subscriber whose buffer is full is
// dropped. Safe for concurrent use.
type Hub struct {
	boot string // this process's part of every id: an id of another boot is unknown
	// viewer is set by New; before, alarms go out bare and unscoped
	// readers (admins) alone see them.
	viewer atomic.Pointer[AlarmViewer]

	mu     sync.Mutex
	subs   map[string]map[*subscriber]struct{}
	closed bool
	// watched holds the topics with a subscriber (topic → true), kept with
	// subs under mu and read without it: Watched is asked for every
	// device message, telemetry included, and must not make an elder's
	// press wait for the lock behind them (issue 16).
	watched sync.Map
	pos     uint64  // the position of the alarm stream's last frame; 0 before any
	window  []frame // its last len(window) frames, position p at p % len(window)
}

// allAlarms is the topic of the alarm stream; device ids are never empty.
const allAlarms = ""

type subscriber struct {
	ch chan frame
	// overflowed is set when the hub dropped it for falling behind, before
	// ch is closed.
	overflowed atomic.Bool
	audience
	scope scope
}

// frame is one Server-Sent Events message as written, with its position
// on the alarm stream (0 on a watch) and who may read it: by what it is
// about, and, for an alarm, by the sites it is at (ancestry).
type frame struct {
	pos      uint64
	b        []byte
	about    frameAbout
	alarm    bool
	ancestry []string
}

// readBy reports whether s may read fr.
func (fr frame) readBy(s *subscriber) bool {
	return s.reads(fr.about) && (!fr.alarm || s.scope.covers(fr.ancestry))
}

// audience is what a subscriber may read besides device health: walk-test
// alarms (installers and admins), residents' alarms (operators and admins).
type audience struct{ test, real bool }

// audienceOf is what role reads: installers see their walk tests and
// nothing of residents' alarms, operators and walls never see walk tests.
func audienceOf(role state.Role) audience {
	return audience{test: role != state.RoleOperator && role != state.RoleWall, real: role != state.RoleInstaller}
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

// NewHub returns an empty hub with a new boot id, keeping StreamWindow
// frames of the alarm stream unless an option says otherwise.
func NewHub(opts ...HubOption) *Hub {
	h := &Hub{boot: newBoot(), subs: map[string]map[*subscriber]struct{}{}, window: make([]frame, StreamWindow)}
	for _, o := range opts {
		o(h)
	}
	return h
}

func (h *Hub) subscribe(topic string, a audience, sc scope) *subscriber {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.subscribeLocked(topic, a, sc)
}

// subscribeLocked is subscribe with h.mu held.
func (h *Hub) subscribeLocked(topic string, a audience, sc scope) *subscriber {
	s := &subscriber{ch: make(chan frame, streamBuffer), audience: a, scope: sc}
	if h.closed { // shutting down: the stream ends at once
		close(s.ch)
		return s
	}
	if h.subs[topic] == nil {
		h.subs[topic] = map[*subscriber]struct{}{}
	}
	h.subs[topic][s] = struct{}{}
	h.watched.Store(topic, true)
	return s
}

// forgetIfEmpty drops topic once nobody follows it; h.mu is held.
func (h *Hub) forgetIfEmpty(topic string) {
	if len(h.subs[topic]) == 0 {
		delete(h.subs, topic)
		h.watched.Delete(topic)
	}
}

func (h *Hub) unsubscribe(topic string, s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[topic][s]; ok {
		delete(h.subs[topic], s)
		close(s.ch)
	}
	h.forgetIfEmpty(topic)
}

// Watched reports whether anyone follows topic, so that callers encode
// nothing when nobody does, which for a device watch is nearly always.
func (h *Hub) Watched(topic string) bool {
	_, ok := h.watched.Load(topic)
	return ok
}

// send hands a watch's frame to topic's subscribers that may read what it
// is about.
func (h *Hub) send(topic string, b []byte, f frameAbout) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fanOut(topic, frame{b: b, about: f})
}

// publish numbers one frame of the alarm stream, keeps it in the window and
// sends it: numbering and sending under one lock, a subscriber that
// follow()s gets every position either from the window or live.
func (h *Hub) publish(event string, data []byte, f frameAbout, ancestry []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pos++
	fr := frame{pos: h.pos, about: f, alarm: true, ancestry: ancestry,
		b: fmt.Appendf(nil, "id: %s\nevent: %s\ndata: %s\n\n", h.id(h.pos), event, data)}
	h.window[h.pos%uint64(len(h.window))] = fr
	h.fanOut(allAlarms, fr)
}

// fanOut hands fr to topic's subscribers that may read it; h.mu is held.
func (h *Hub) fanOut(topic string, fr frame) {
	for s := range h.subs[topic] {
		if !fr.readBy(s) {
			continue
		}
		select {
		case s.ch <- fr:
		default:
			h.drop(topic, s)
		}
	}
	h.forgetIfEmpty(topic)
}

// drop disconnects a subscriber that fell streamBuffer frames behind; h.mu
// is held. What it had not read is let go, so that its stream ends at the
// frame it is writing rather than after writing the backlog slowly; it
// resumes after the last frame it received.
func (h *Hub) drop(topic string, s *subscriber) {
	delete(h.subs[topic], s)
	s.overflowed.Store(true)
	for len(s.ch) > 0 {
		select {
		case <-s.ch:
		default: // its reader took the last one meanwhile
		}
	}
	close(s.ch)
}

// PublishChange is an engine subscriber, on the alarm stream and on the
// watch of the alarm's device; it must not block. A change whose entry
// reached nobody is followed by a "nobody_reached" event.
func (h *Hub) PublishChange(c alerting.Change) {
	view, ancestry := AlarmView{Alarm: c.Alarm}, []string(nil)
	if v := h.viewer.Load(); v != nil {
		view, ancestry = (*v)(c.Alarm)
	}
	b, err := json.Marshal(StreamMessage{Alarm: &view, Entry: c.Entry})
	if err != nil {
		return
	}
	h.publish("alarm", b, about(c.Alarm.Test), ancestry)
	if c.Entry.NobodyReached && c.Alarm.NobodyReached != nil {
		if nb, err := json.Marshal(NobodyReachedMessage{Alarm: &view, Reason: c.Alarm.NobodyReached.Reason}); err == nil {
			h.publish("nobody_reached", nb, about(c.Alarm.Test), ancestry)
		}
	}
	if !c.Alarm.IsSite() { // a site alarm is on no device's watch
		h.send(c.Alarm.Device, fmt.Appendf(nil, "event: alarm\ndata: %s\n\n", b), about(c.Alarm.Test))
	}
}

// setViewer makes the hub send alarms as v shows them.
func (h *Hub) setViewer(v AlarmViewer) { h.viewer.Store(&v) }

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
		h.watched.Delete(topic)
	}
}

func (srv *server) handleStream(w http.ResponseWriter, r *http.Request, sess state.Session) {
	last := lastEventID(r)
	sub, first, reload := srv.hub.follow(audienceOf(sess.Role), scopeOf(r), last)
	defer srv.hub.unsubscribe(allAlarms, sub)
	if reload != "" {
		if len(last) > 64 { // the client's words: bound what reaches the log
			last = last[:64]
		}
		srv.log.Info("stream client told to reload: cannot resume", "last_event_id", last, "reason", reload,
			"user", sess.User, "remote", r.RemoteAddr)
	}
	var ch <-chan frame = sub.ch
	if sess.Role == state.RoleWall {
		for i := range first {
			first[i] = forWall(first[i])
		}
		ch = wallFeed(sub.ch, r.Context().Done())
	}
	srv.serveSSE(w, r, first, ch, sub)
}

// connKey is the context key of a request's connection (ConnContext).
type connKey struct{}

// ConnContext is the http.Server's ConnContext: it keeps each request's
// connection in its context, so that an event stream can bound the
// connection's send buffer.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// boundSendBuffer sets the send buffer of the request's TCP connection to
// streamSendBuffer; without ConnContext, or over another transport, it
// does nothing.
func boundSendBuffer(ctx context.Context) {
	c, _ := ctx.Value(connKey{}).(net.Conn)
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if tcp, ok := c.(*net.TCPConn); ok {
		_ = tcp.SetWriteBuffer(streamSendBuffer) // a default buffer still works: the write deadline bounds it
	}
}

// streamMetrics count the event streams' clients (stream and watches).
type streamMetrics struct {
	clients       prometheus.Gauge
	writeTimeouts prometheus.Counter
	overflows     prometheus.Counter
}

func newStreamMetrics(reg prometheus.Registerer) *streamMetrics {
	m := &streamMetrics{
		clients: prometheus.NewGauge(prometheus.GaugeOpts{Name: "anxin_stream_clients",
			Help: "Clients connected to the alarm stream or a device watch."}),
		writeTimeouts: prometheus.NewCounter(prometheus.CounterOpts{Name: "anxin_stream_write_timeouts_total",
			Help: "Stream clients dropped because an event could not be written within stream_write_timeout."}),
		overflows: prometheus.NewCounter(prometheus.CounterOpts{Name: "anxin_stream_overflows_total",
			Help: "Stream clients dropped because they fell a buffer of events behind (they read too slowly)."}),
	}
	reg.MustRegister(m.clients, m.writeTimeouts, m.overflows)
	return m
}

// serveSSE writes first, then the frames of ch, to the client as
// Server-Sent Events, with a ping comment every streamPing, until the
// client goes, stops reading, or ch closes (sub dropped, or the hub
// closing). A numbered frame at or before a position already written is
// skipped, so that the window and the live frames never repeat one.
func (srv *server) serveSSE(w http.ResponseWriter, r *http.Request, first []frame, ch <-chan frame, sub *subscriber) {
	rc := http.NewResponseController(w)
	// The stream outlives the per-request deadlines (withDeadlines): no read
	// deadline, and a write deadline per event instead.
	if err := rc.SetReadDeadline(time.Time{}); err != nil {
		writeError(w, http.StatusInternalServerError, "streaming unsupported: "+err.Error())
		return
	}
	srv.streams.clients.Inc()
	defer srv.streams.clients.Dec()
	boundSendBuffer(r.Context())
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
	if !write(fmt.Appendf(nil, "retry: %d\n: connected %s\n\n", streamRetry.Milliseconds(), srv.now().UTC().Format(time.RFC3339))) {
		return
	}
	var at uint64 // the position last written
	send := func(fr frame) bool {
		if fr.pos != 0 && fr.pos <= at {
			return true
		}
		at = max(at, fr.pos)
		return write(fr.b)
	}
	for _, fr := range first {
		if !send(fr) {
			return
		}
	}
	ping := time.NewTicker(streamPing)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case fr, ok := <-ch:
			if !ok { // too slow, or shutting down: the client reconnects and resumes
				if sub.overflowed.Load() {
					srv.streams.overflows.Inc()
					srv.log.Info("stream client dropped: too slow", "remote", r.RemoteAddr, "path", r.URL.Path,
						"behind", streamBuffer)
				}
				return
			}
			if !send(fr) {
				return
			}
		case t := <-ping.C:
			if !write(fmt.Appendf(nil, ": ping %s\n\n", t.UTC().Format(time.RFC3339))) {
				return
			}
		}
	}
}
