package gateway

import "github.com/anxin-care/anxin/devices"

// Ingest runs the device path for one payload of device on channel ch, as
// the broker hook does once it has authorised the publish.
func (g *Gateway) Ingest(device string, ch devices.Channel, payload []byte) error {
	return g.ingest(device, ch, payload, g.now())
}

// HoldReadings makes the registry hold fields among device's readings, as
// if a (bridged) device had reported them, whatever their names.
func (g *Gateway) HoldReadings(device string, fields map[string]float64) {
	g.reg.Heard(device, g.now(), nil, &devices.Telemetry{Device: device, Time: g.now(), Fields: fields})
}
