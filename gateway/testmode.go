package gateway

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway/registry"
	"github.com/anxin-care/anxin/gateway/state"
)

// Walk-test mode (the installer's test of a device in place) diverts a
// device's alarms from operators to installers, so it must never outlive
// the test. It is a stored switch with a stored deadline (Device.Test,
// Device.TestUntil): an installer turns it on for a duration
// (DefaultTestDuration unless they give one, at most MaxTestDuration), and
// from the deadline on, on the gateway's clock, the device is out of test
// mode whether or not anything has written that down yet: ingest asks
// InTest, not the switch. The supervision pass (supervise) then turns the
// switch off in the registry, audited as done by "system", and tells the
// device. Because the deadline is stored, a restart does not extend it.
// Devices stored before deadlines existed have none and are out of test
// mode.
//
// The device is told on its cmd topic whenever test mode starts or ends,
// and when it comes online during it:
//
//	{"type": "config", "test_mode": true, "test_until": 1732352878123}
//	{"type": "config", "test_mode": false}
//
// test_until is milliseconds since the epoch, like an event's ts; a device
// shows test mode (e.g. a blinking LED) and may end the display by itself
// at test_until.
//
// Even inside the window, a P1 walk-test alarm that nobody watched goes to
// operators a minute after it was raised, marked test_mode, and escalates
// (alerting/testmode.go). Watched means, at that minute: someone has the
// device's watch stream open (GET /api/v1/devices/{id}/watch, anxinctl
// device watch), or the alarm was taken (acknowledged, dispatched or
// resolved; installers cannot take alarms, so that is an admin). The
// all-alarms stream does not count: it is a console left open somewhere,
// not someone standing at the device.

// DeviceConfig is a "config" command on a device's cmd topic.
type DeviceConfig struct {
	Type      string `json:"type"` // always "config"
	TestMode  bool   `json:"test_mode"`
	TestUntil int64  `json:"test_until,omitempty"` // ms since the epoch
}

// tellTestMode sends the device its walk-test mode at now.
func (g *Gateway) tellTestMode(d registry.Device, now time.Time) {
	c := DeviceConfig{Type: "config", TestMode: d.InTest(now)}
	if c.TestMode {
		c.TestUntil = d.TestUntil.UnixMilli()
	}
	b, _ := json.Marshal(c)
	if err := g.broker.Publish(devices.Topic(d.ID, devices.ChannelCmd), b, false, 1); err != nil {
		g.log.Warn("test mode not sent to device", "device", d.ID, "test_mode", c.TestMode, "err", err)
	}
}

// expireTests ends the walk-test mode of every device whose deadline is
// past, or further away than the longest walk test: then the clock is
// behind (a Raspberry Pi without a real-time clock that restarted), and
// ending the test is the safe side (its alarms go to operators again).
func (g *Gateway) expireTests(now time.Time) {
	over := func(d *registry.Device) bool {
		return !d.InTest(now) || d.TestUntil.Sub(now) > registry.MaxTestDuration+time.Minute
	}
	for _, d := range g.reg.Select(func(d *registry.Device) bool { return d.Active() && d.Test && over(d) }) {
		until := d.TestUntil
		d, err := g.reg.Update(d.ID, state.ActionTest, "system", now, func(d *registry.Device) error {
			if !over(d) { // switched on again since the Select
				return errTestRenewed
			}
			d.Test = false
			return nil
		})
		if errors.Is(err, errTestRenewed) {
			continue
		}
		if err != nil {
			g.log.Error("walk test not ended", "device", d.ID, "err", err)
			continue
		}
		g.log.Info("walk test expired", "device", d.ID, "test_until", until)
		g.tellTestMode(d, now)
	}
}

// errTestRenewed stops expireTests from ending a walk test that an
// installer switched on again meanwhile.
var errTestRenewed = errors.New("walk test renewed")

// testsRunning counts the devices in walk-test mode at now.
func (g *Gateway) testsRunning(now time.Time) int {
	return len(g.reg.Select(func(d *registry.Device) bool { return d.Active() && d.InTest(now) }))
}

// watching reports whether an installer follows the device live: the
// engine's Options.Watched. It takes only the hub's lock.
func (g *Gateway) watching(device string) bool { return g.hub.Watched(device) }
