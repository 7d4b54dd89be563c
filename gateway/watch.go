package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"github.com/anxin-care/anxin/alerting"
)

// Watching one device (GET /api/v1/devices/{id}/watch) is for the installer
// standing in the room during a walk test: a Server-Sent Events stream of
// everything that device does, as it happens:
//
//	event: event     data: the decoded devices.Event
//	event: reassure  data: the Reassure sent to the device
//	event: health    data: the device's Health after a status or telemetry message
//	event: rejected  data: {"reason": "...", "detail": "..."}
//	event: alarm     data: a StreamMessage for an alarm of this device (test or not)
//
// Like the alarm stream, a watcher that cannot keep up is disconnected.
type watchHub struct {
	mu     sync.Mutex
	subs   map[string]map[chan []byte]struct{}
	closed bool
}

func newWatchHub() *watchHub { return &watchHub{subs: map[string]map[chan []byte]struct{}{}} }

func (h *watchHub) subscribe(device string) chan []byte {
	ch := make(chan []byte, streamBuffer)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed { // shutting down: the stream ends at once
		close(ch)
		return ch
	}
	if h.subs[device] == nil {
		h.subs[device] = map[chan []byte]struct{}{}
	}
	h.subs[device][ch] = struct{}{}
	return ch
}

func (h *watchHub) unsubscribe(device string, ch chan []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[device][ch]; ok {
		delete(h.subs[device], ch)
		close(ch)
	}
	if len(h.subs[device]) == 0 {
		delete(h.subs, device)
	}
}

// emit sends one event to the device's watchers; it never blocks. Nothing is
// encoded when nobody watches, which is nearly always.
func (h *watchHub) emit(device, event string, v any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	subs := h.subs[device]
	if len(subs) == 0 {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	frame := fmt.Appendf(nil, "event: %s\ndata: %s\n\n", event, b)
	for ch := range subs {
		select {
		case ch <- frame:
		default:
			delete(subs, ch)
			close(ch)
		}
	}
}

func (h *watchHub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for device, subs := range h.subs {
		for ch := range subs {
			close(ch)
		}
		delete(h.subs, device)
	}
}

// watchChange is an engine subscriber: alarms of a watched device.
func (h *watchHub) watchChange(c alerting.Change) {
	h.emit(c.Alarm.Device, "alarm", StreamMessage{Alarm: c.Alarm, Entry: c.Entry})
}

func (g *Gateway) handleWatch(w http.ResponseWriter, r *http.Request, _ Session) {
	id := r.PathValue("id")
	if _, ok := g.reg.Get(id); !ok {
		writeError(w, http.StatusNotFound, "device not found: "+id)
		return
	}
	ch := g.watch.subscribe(id)
	defer g.watch.unsubscribe(id, ch)
	g.serveSSE(w, r, ch)
}
