package gateway

import (
	"time"

	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway/registry"
)

// The device life cycle (registry/lifecycle.go): a commissioning device is
// not supervised; its first message (a heartbeat, telemetry, an event or
// an online status, not a will) makes it active and starts its window at
// that message, as an installer's PATCH {"installed": true} does at the
// next supervision pass.

// install makes a commissioning device active, first heard at at, and
// starts supervising it from then. A failed write is retried at the
// device's next message.
func (g *Gateway) install(d registry.Device, at time.Time) {
	id := d.ID
	d, installed, err := g.reg.Install(id, "device:"+id, at)
	if err != nil {
		g.log.Error("device not marked installed", "device", id, "err", err)
		return
	}
	window, err := devices.SupervisionWindow(d.Supervision, d.Kind)
	if err != nil {
		g.log.Warn("device not supervised", "device", d.ID, "err", err)
		return
	}
	g.sup.Track(d.ID, window, at, false)
	g.sup.Heard(d.ID, at)
	if installed {
		g.log.Info("device installed", "device", d.ID, "first_heard", at, "window", window)
	}
}
