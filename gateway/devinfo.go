package gateway

import (
	"strings"

	"github.com/anxin-care/anxin/alerting"
)

// supervisionClass is the device's supervision class; native by default.
func supervisionClass(d Device) string { return "" }

// locate tells the alarm engine where a device is.
func (g *Gateway) locate(device string) alerting.Location {
	d, ok := g.reg.Get(device)
	if !ok {
		return alerting.Location{}
	}
	var path []string
	for _, p := range strings.Split(d.Location, "/") {
		if p = strings.TrimSpace(p); p != "" {
			path = append(path, p)
		}
	}
	return alerting.Location{Path: path, Resident: d.Resident}
}
