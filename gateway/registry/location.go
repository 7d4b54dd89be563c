package registry

import (
	"strings"

	"github.com/anxin-care/anxin/alerting"
)

// Location is where a device is and who uses it: what an alarm shows
// (location path, resident) and what routing walks up (the site ancestry).
// It is a snapshot: it does not change when the registry does.
type Location struct {
	// Sites is the ancestry of the device's site, root first: region …
	// room or bed. Empty when the device has no site.
	Sites []SiteRef `json:"sites,omitempty"`
	// Resident is who wears or uses the device, if anyone.
	Resident *ResidentRef `json:"resident,omitempty"`
	// Note is the device's free-text location, e.g. "by the bed".
	Note string `json:"note,omitempty"`
	// TimeZone is the zone of the nearest site that has one; "" when none
	// does (use the gateway's configured zone).
	TimeZone string `json:"time_zone,omitempty"`
}

// SiteRef names one site of a Location.
type SiteRef struct {
	ID    string    `json:"id"`
	Name  string    `json:"name"`
	Level SiteLevel `json:"level"`
}

// ResidentRef names the resident of a Location; the full record (age,
// conditions, contacts) is GET /api/v1/residents/{id}.
type ResidentRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Names returns the site names root first, then the note if any: the
// location path an operator reads.
func (l Location) Names() []string {
	out := make([]string, 0, len(l.Sites)+1)
	for _, s := range l.Sites {
		out = append(out, s.Name)
	}
	if l.Note != "" {
		out = append(out, l.Note)
	}
	return out
}

// String is the location path, e.g. "青山县 / 青山镇 / 青山村 / 12号 / 卧室".
func (l Location) String() string { return strings.Join(l.Names(), " / ") }

// SiteIDs returns the ids of the device's site and its ancestors, nearest
// first: the order in which routing looks for someone on duty.
func (l Location) SiteIDs() []string {
	out := make([]string, len(l.Sites))
	for i, s := range l.Sites {
		out[len(l.Sites)-1-i] = s.ID
	}
	return out
}

// Location returns where a device is and who uses it. An unknown device
// has an empty Location. Safe for concurrent use; it takes only read locks.
func (r *Registry) Location(deviceID string) Location {
	d, ok := r.Get(deviceID)
	if !ok {
		return Location{}
	}
	l := Location{Note: d.Location}
	path := r.sites.Path(d.Site)
	for _, s := range path {
		l.Sites = append(l.Sites, SiteRef{ID: s.ID, Name: s.Name, Level: s.Level})
		if s.TimeZone != "" {
			l.TimeZone = s.TimeZone
		}
	}
	if d.Resident != "" {
		p, ok := r.residents.Get(d.Resident)
		name := p.Name
		if !ok {
			name = d.Resident
		}
		l.Resident = &ResidentRef{ID: d.Resident, Name: name}
	}
	return l
}

// PathString joins the names of a site path, root first.
func PathString(path []Site) string {
	names := make([]string, len(path))
	for i, s := range path {
		names[i] = s.Name
	}
	return strings.Join(names, " / ")
}

// AlarmLocation is where the alarm engine puts a device's alarm: its site,
// the location path an operator reads, and the resident's name.
func (r *Registry) AlarmLocation(deviceID string) alerting.Location {
	l := r.Location(deviceID)
	loc := alerting.Location{Path: l.Names()}
	if len(l.Sites) > 0 {
		loc.Site = l.Sites[len(l.Sites)-1].ID
	}
	if l.Resident != nil {
		loc.Resident = l.Resident.Name
	}
	return loc
}
