package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/anxin-care/anxin/gateway/state"
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
// Watchers subscribe to the alarm stream's hub under the device's id. An
// admin sees everything; an installer sees health and rejections, and
// events, reassurances and alarms only while the device is in walk test:
// of a resident's device in service, an installer learns nothing of its
// alarms. Like the alarm stream, a watcher that cannot keep up is
// disconnected. Unlike it, a watch has no ids and no window: it is for
// watching a device now, and a watcher that reconnects starts from then
// (the device's alarms stay readable under …/alarms).

// Emit sends one event anyone watching may read to the device's watchers;
// it never blocks.
func (h *Hub) Emit(device, event string, v any) { h.emit(device, event, v, aboutAnyone) }

// EmitAbout sends one event about an alarm or an event of the device to
// its watchers who may read it: test tells whether it happened in walk-test
// mode (audienceOf says who reads which). It never blocks.
func (h *Hub) EmitAbout(device, event string, v any, test bool) {
	h.emit(device, event, v, about(test))
}

// emit sends one event to the watchers that may read f.
func (h *Hub) emit(device, event string, v any, f frameAbout) {
	if !h.Watched(device) {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	h.send(device, fmt.Appendf(nil, "event: %s\ndata: %s\n\n", event, b), f)
}

func (srv *server) handleWatch(w http.ResponseWriter, r *http.Request, sess state.Session) {
	id := r.PathValue("id")
	if d, ok := srv.reg.Get(id); !ok || !srv.seesDevice(scopeOf(r), d) {
		writeError(w, http.StatusNotFound, "device not found: "+id)
		return
	}
	sub := srv.hub.subscribe(id, audienceOf(sess.Role), everything) // the device's scope was checked above
	defer srv.hub.unsubscribe(id, sub)
	srv.serveSSE(w, r, nil, sub.ch, sub)
}
