package gateway

import "github.com/anxin-care/anxin/alerting"

// supervisionClass is the device's supervision class; native by default.
func supervisionClass(d Device) string { return d.Supervision }

// locate tells the alarm engine where a device is: its site, the location
// path an operator reads, and the resident's name.
func (g *Gateway) locate(device string) alerting.Location {
	l := g.reg.Location(device)
	loc := alerting.Location{Path: l.Names()}
	if len(l.Sites) > 0 {
		loc.Site = l.Sites[len(l.Sites)-1].ID
	}
	if l.Resident != nil {
		loc.Resident = l.Resident.Name
	}
	return loc
}

// deviceByRef finds the device an adapter's reference names.
func (g *Gateway) deviceByRef(format, ref string) (Device, bool) {
	return g.reg.LookupRef(format, ref)
}
