package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/anxin-care/anxin/gateway/state"
)

// EdgeBox is an edge box as central sees it (GET /api/v1/edge-boxes):
// where it serves, whether its uplink is up, what it still holds for
// central, and what software it runs.
type EdgeBox struct {
	ID       string `json:"id"`
	Site     string `json:"site,omitempty"`
	SitePath string `json:"site_path,omitempty"`
	// Online: connected and its last word was online.
	Online bool `json:"online"`
	// Uplink is connected, disconnected (within its window), offline
	// (silent past its window: edge.offline raised) or never (not heard
	// since central started).
	Uplink string `json:"uplink"`
	// QueueDepth is how many messages its outbound queue held at its last
	// heartbeat; QueueOldest the device time of the oldest of them.
	QueueDepth  int       `json:"queue_depth"`
	QueueOldest time.Time `json:"queue_oldest,omitzero"`
	Firmware    string    `json:"fw,omitempty"`
	Model       string    `json:"model,omitempty"`
	LastSeen    time.Time `json:"last_seen,omitzero"`
	// Devices counts the devices behind it (whose edge is this box).
	Devices int `json:"devices"`
	// Alarm is its open edge.offline alarm, if any.
	Alarm string `json:"alarm,omitempty"`
}

// listEdgeBoxes serves GET /api/v1/edge-boxes?site=: every edge box in
// the caller's scope, or those at site and under it, as GET
// /api/v1/devices is.
func (srv *server) listEdgeBoxes(w http.ResponseWriter, r *http.Request, _ state.Session) {
	sc := scopeOf(r)
	var under map[string]bool
	if site := r.URL.Query().Get("site"); site != "" {
		ids := srv.reg.Sites().Subtree(site)
		if ids == nil {
			writeRegistryError(w, &state.FieldError{Field: "site", Err: errors.New("site not found: " + site)})
			return
		}
		under = map[string]bool{}
		for _, id := range ids {
			under[id] = true
		}
	}
	out := []EdgeBox{}
	for _, b := range srv.Devices.EdgeBoxes() {
		if (under == nil || under[b.Site]) && srv.seesSite(sc, b.Site) {
			out = append(out, b)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"edge_boxes": out, "count": len(out)})
}
