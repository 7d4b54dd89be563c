package gateway

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/anxin-care/anxin/gateway/httpapi"
	"github.com/anxin-care/anxin/gateway/registry"
	"github.com/anxin-care/anxin/gateway/webui"
)

// The HTTP API is package httpapi; this file hands it the narrow views of
// the gateway it asks for.

// httpIdleTimeout closes a keep-alive connection nobody uses.
const httpIdleTimeout = 2 * time.Minute

// api builds the HTTP API's handler over the running gateway.
func (g *Gateway) api() http.Handler {
	h := httpapi.New(httpapi.Options{
		DB: g.db, Registry: g.reg, Engine: g.eng, Duty: g.duty, Devices: apiDevices{g}, TimeSeries: g.ts,
		Hub: g.hub, Ingest: g.ingestHandler(), BackupToken: g.backupToken, UI: webui.Handler(),
		Metrics:    promhttp.HandlerFor(g.prom, promhttp.HandlerOpts{Registry: g.prom}),
		Registerer: g.prom, Logger: g.log, Now: g.now,
		TimeZone: g.cfg.TimeZone, SiteChannels: g.siteChannels, SLAShifts: g.cfg.SLAShifts,
		SessionTTL:         time.Duration(g.cfg.SessionTTL),
		HTTPWriteTimeout:   time.Duration(g.cfg.HTTPWriteTimeout),
		StreamWriteTimeout: time.Duration(g.cfg.StreamWriteTimeout),
	})
	if g.box == nil {
		return h
	}
	// An edge box also answers GET /edge/status: its uplink, queue depth
	// and what its LED and buzzer show, for the installer on the LAN. It
	// holds no personal data, so it needs no login, like /metrics.
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.HandleFunc("GET /edge/status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(g.box.Status())
	})
	return mux
}

// apiDevices is the broker as the API sees it.
type apiDevices struct{ g *Gateway }

var _ httpapi.Devices = apiDevices{}

func (d apiDevices) MQTTAddr() string                       { return d.g.MQTTAddr() }
func (d apiDevices) Disconnect(device string)               { d.g.dropConnections(device) }
func (d apiDevices) DevicesChanged()                        { d.g.edgeDevicesChanged() }
func (d apiDevices) ModelStatus(dev registry.Device) string { return d.g.modelStatus(dev) }
func (d apiDevices) EdgeBoxes() []httpapi.EdgeBox           { return d.g.EdgeBoxes() }
func (d apiDevices) TellTestMode(dev registry.Device, now time.Time) {
	d.g.tellTestMode(dev, now)
}

// Ready is nil when every listener of the broker accepts connections.
func (d apiDevices) Ready() error {
	var err error
	for _, l := range d.g.mqttListeners {
		if e := l.Ready(); e != nil {
			err = e
		}
	}
	return err
}

// dropConnections stops a device's connections: its own and its listeners'
// ("{id}:{anything}").
func (g *Gateway) dropConnections(id string) {
	for cid, cl := range g.broker.Clients.GetAll() {
		if cid == id || len(cid) > len(id) && cid[:len(id)+1] == id+":" {
			cl.Stop(registry.ErrDeviceUnknown)
		}
	}
}
