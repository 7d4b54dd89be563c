package httpapi

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway/registry"
	"github.com/anxin-care/anxin/gateway/state"
)

// DeviceView is a device as the API shows it: never its password hash.
type DeviceView struct {
	registry.Device
	SitePath     string          `json:"site_path,omitempty"` // site names, root first
	ResidentName string          `json:"resident_name,omitempty"`
	Health       registry.Health `json:"health"`
	// State is the life cycle: commissioning (not supervised until first
	// heard or marked installed), active, or retired.
	State string `json:"state"`
	// TestMode says whether the device is in walk-test mode now (until
	// Device.TestUntil): its alarms go to installers.
	TestMode bool `json:"test_mode"`
	// ModelStatus is, for a Zigbee2MQTT device, "vendor model" of the
	// model record it is decoded by, or "generic" (Devices.ModelStatus).
	// Not "model": that is the provisioned model, Device.Model.
	ModelStatus string `json:"model_status,omitempty"`
}

// MQTTSettings tell an installer how to configure a device.
type MQTTSettings struct {
	Broker   string            `json:"broker"`
	ClientID string            `json:"client_id"`
	Username string            `json:"username"`
	Password string            `json:"password"`
	Topics   map[string]string `json:"topics"`
}

// NewDevice is the body of POST /api/v1/devices. Only id and kind are
// required; format defaults to native, ref (for other formats) to the id,
// supervision to the class of the kind and format.
type NewDevice struct {
	ID          string       `json:"id"`
	Kind        devices.Kind `json:"kind"`
	Vendor      string       `json:"vendor"`
	Model       string       `json:"model"`
	Format      string       `json:"format"`
	Ref         string       `json:"ref"`
	Site        string       `json:"site"`     // a room or bed
	Resident    string       `json:"resident"` // a resident id
	Location    string       `json:"location"` // free text: where in the room
	Supervision string       `json:"supervision"`
	// Edge is the edge box (kind edge_box) the device reaches central
	// through; "" when it connects directly.
	Edge string `json:"edge"`
	Test bool   `json:"test"`
	// Installed skips commissioning: the device is supervised from now,
	// before it is first heard (provisioned on site, at installation).
	Installed bool `json:"installed"`
	// Checkin marks a dedicated check-in button (平安钟): its press is the
	// resident's daily check-in, never a call alarm.
	Checkin bool `json:"checkin"`
}

func (n NewDevice) device() registry.Device {
	return registry.Device{ID: n.ID, Kind: n.Kind, Vendor: n.Vendor, Model: n.Model, Format: n.Format, Ref: n.Ref,
		Site: n.Site, Resident: n.Resident, Location: n.Location, Supervision: n.Supervision, Edge: n.Edge, Test: n.Test, Checkin: n.Checkin}
}

// DevicePatch is the body of PATCH /api/v1/devices/{id}: fields left out
// stay; "" clears site, resident and location. Kind and format belong to
// the hardware: change them with a replacement.
type DevicePatch struct {
	Vendor      *string `json:"vendor"`
	Model       *string `json:"model"`
	Ref         *string `json:"ref"`
	Site        *string `json:"site"`
	Resident    *string `json:"resident"`
	Location    *string `json:"location"`
	Supervision *string `json:"supervision"`
	// Edge moves the device behind another edge box; "" connects it directly.
	Edge *string `json:"edge"`
	Test *bool   `json:"test"`
	// Installed true ends commissioning: the device is supervised from
	// now; false puts it back to commissioning (taken down again).
	Installed *bool `json:"installed"`
	// Checkin marks or unmarks a dedicated check-in button.
	Checkin *bool `json:"checkin"`
}

// ReplaceRequest is the body of POST /api/v1/devices/{id}/replace.
type ReplaceRequest struct {
	NewID  string `json:"new_id"` // "" keeps the id
	Vendor string `json:"vendor"`
	Model  string `json:"model"`
	Ref    string `json:"ref"`
}

// ProvisionedDevice is the answer to POST /api/v1/devices and to a
// replacement: the only time the device's password is shown.
type ProvisionedDevice struct {
	DeviceView
	Password string       `json:"password"`
	MQTT     MQTTSettings `json:"mqtt"`
}

func (srv *server) view(d registry.Device) DeviceView {
	v := DeviceView{Device: d.Public(), Health: srv.reg.Health(d.ID), State: d.State(), TestMode: d.InTest(srv.now()),
		ModelStatus: srv.Devices.ModelStatus(d)}
	if !v.TestMode { // switched on but past its deadline: shown as it acts
		v.Test, v.TestUntil = false, time.Time{}
	}
	v.SitePath = registry.PathString(srv.reg.Sites().Path(d.Site))
	if p, ok := srv.reg.Residents().Get(d.Resident); ok {
		v.ResidentName = p.Name
	}
	return v
}

// listDevices serves GET /api/v1/devices?site=&resident=&state=: the
// devices in service (commissioning or active), site meaning that site and
// everything under it. state=all adds the retired ones (replaced or
// removed; all=true is its older spelling), state=commissioning, active or
// retired lists only those.
func (srv *server) listDevices(w http.ResponseWriter, r *http.Request, _ state.Session) {
	sc := scopeOf(r)
	q := r.URL.Query()
	want := q.Get("state")
	if q.Get("all") == "true" && want == "" {
		want = "all"
	}
	switch want {
	case "", "all", registry.StateCommissioning, registry.StateActive, registry.StateRetired:
	default:
		writeRegistryError(w, state.FieldErrorf("state", "%q is not one of all, commissioning, active, retired", want))
		return
	}
	stateOK := func(d *registry.Device) bool {
		switch want {
		case "":
			return d.Active()
		case "all":
			return true
		}
		return d.State() == want
	}
	var under map[string]bool
	if site := q.Get("site"); site != "" {
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
	resident := q.Get("resident")
	list := srv.reg.Select(func(d *registry.Device) bool {
		return stateOK(d) && (under == nil || under[d.Site]) && (resident == "" || d.Resident == resident)
	})
	list = slices.DeleteFunc(list, func(d registry.Device) bool { return !srv.seesDevice(sc, d) })
	out := make([]DeviceView, len(list))
	for i, d := range list {
		out[i] = srv.view(d)
	}
	writeJSON(w, http.StatusOK, map[string]any{"devices": nonNil(out), "count": len(out)})
}

func (srv *server) getDevice(w http.ResponseWriter, r *http.Request, _ state.Session) {
	d, ok := srv.reg.Get(r.PathValue("id"))
	if !ok || !srv.seesDevice(scopeOf(r), d) {
		writeError(w, http.StatusNotFound, "device not found: "+r.PathValue("id"))
		return
	}
	writeJSON(w, http.StatusOK, srv.view(d))
}

func (srv *server) addDevice(w http.ResponseWriter, r *http.Request, s state.Session) {
	var req NewDevice
	if !readJSON(w, r, &req) {
		return
	}
	d := req.device()
	if req.Installed {
		d.Installed = srv.now().UTC()
	}
	password, err := srv.reg.Add(d, s.User, srv.now())
	if err != nil {
		writeRegistryError(w, err)
		return
	}
	srv.Devices.DevicesChanged()
	d, _ = srv.reg.Get(req.ID)
	srv.log.Info("device provisioned", "device", d.ID, "kind", d.Kind, "site", d.Site, "by", s.User)
	writeJSON(w, http.StatusCreated, srv.provisioned(r, d, password))
}

func (srv *server) provisioned(r *http.Request, d registry.Device, password string) ProvisionedDevice {
	return ProvisionedDevice{
		DeviceView: srv.view(d), Password: password,
		MQTT: MQTTSettings{Broker: srv.brokerURL(r), ClientID: d.ID, Username: d.ID, Password: password,
			Topics: map[string]string{
				"event":     devices.Topic(d.ID, devices.ChannelEvent),
				"telemetry": devices.Topic(d.ID, devices.ChannelTelemetry),
				"status":    devices.Topic(d.ID, devices.ChannelStatus),
				"cmd":       devices.Topic(d.ID, devices.ChannelCmd),
			}},
	}
}

// brokerURL guesses the address devices should use: the host the installer
// reached the API on, with the MQTT port.
func (srv *server) brokerURL(r *http.Request) string {
	_, port, _ := net.SplitHostPort(srv.Devices.MQTTAddr())
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	return "tcp://" + net.JoinHostPort(host, port)
}

func (srv *server) patchDevice(w http.ResponseWriter, r *http.Request, s state.Session) {
	var p DevicePatch
	if !readJSON(w, r, &p) {
		return
	}
	d, err := srv.reg.Update(r.PathValue("id"), state.ActionPatch, s.User, srv.now(), func(d *registry.Device) error {
		setIf(&d.Vendor, p.Vendor)
		setIf(&d.Model, p.Model)
		setIf(&d.Ref, p.Ref)
		setIf(&d.Site, p.Site)
		setIf(&d.Resident, p.Resident)
		setIf(&d.Location, p.Location)
		setIf(&d.Supervision, p.Supervision)
		setIf(&d.Edge, p.Edge)
		setIf(&d.Test, p.Test)
		setIf(&d.Checkin, p.Checkin)
		if p.Installed != nil && *p.Installed == d.Commissioning {
			d.Commissioning = !*p.Installed
			d.Installed = time.Time{}
			if *p.Installed {
				d.Installed = srv.now().UTC()
			}
		}
		return nil
	})
	if err != nil {
		writeRegistryError(w, err)
		return
	}
	if p.Test != nil {
		srv.Devices.TellTestMode(d, srv.now())
	}
	writeJSON(w, http.StatusOK, srv.view(d))
}

func (srv *server) replaceDevice(w http.ResponseWriter, r *http.Request, s state.Session) {
	var req ReplaceRequest
	if !readJSON(w, r, &req) {
		return
	}
	old := r.PathValue("id")
	d, password, err := srv.reg.Replace(old, registry.Replacement{NewID: req.NewID, Vendor: req.Vendor, Model: req.Model, Ref: req.Ref}, s.User, srv.now())
	if err != nil {
		writeRegistryError(w, err)
		return
	}
	srv.Devices.Disconnect(old) // the old hardware's password no longer works
	srv.Devices.DevicesChanged()
	srv.log.Info("device replaced", "device", old, "by_device", d.ID, "by", s.User)
	writeJSON(w, http.StatusCreated, srv.provisioned(r, d, password))
}

// removeDevice takes a device out of service: its open alarms are
// cancelled with outcome device_removed (each gets a timeline entry and
// stays in the history), then the device is deleted from the registry and
// disconnected. The alarms are closed first so that a failure leaves the
// device in place for a retry; a second pass closes any alarm the device
// raised in between.
func (srv *server) removeDevice(w http.ResponseWriter, r *http.Request, s state.Session) {
	id := r.PathValue("id")
	if _, ok := srv.reg.Get(id); !ok {
		writeRegistryError(w, fmt.Errorf("%w: %s", registry.ErrDeviceUnknown, id))
		return
	}
	note := "device " + id + " removed by " + s.User
	closed, err := srv.eng.CancelDevice(id, s.User, note)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "device not removed: its open alarms could not be closed: "+err.Error())
		return
	}
	if err := srv.reg.Remove(id, s.User, srv.now()); err != nil {
		writeRegistryError(w, err)
		return
	}
	srv.Devices.Disconnect(id)
	srv.Devices.DevicesChanged()
	more, err := srv.eng.CancelDevice(id, s.User, note)
	if err != nil {
		srv.log.Error("alarm of a removed device not closed", "device", id, "err", err)
	}
	closed = append(closed, more...)
	ids := make([]string, len(closed))
	for i, a := range closed {
		ids[i] = a.ID
	}
	srv.log.Info("device removed", "device", id, "by", s.User, "alarms_cancelled", ids)
	w.WriteHeader(http.StatusNoContent)
}

// deviceAlarms serves GET /api/v1/devices/{id}/alarms?from=&limit=: the
// alarms of the installation, of this device and of every device it
// replaced, newest first (from defaults to 90 days ago). Operators do not
// see walk-test alarms, installers see only those (audienceOf).
func (srv *server) deviceAlarms(w http.ResponseWriter, r *http.Request, s state.Session) {
	id := r.PathValue("id")
	sc := scopeOf(r)
	if d, ok := srv.reg.Get(id); !ok || !srv.seesDevice(sc, d) {
		writeError(w, http.StatusNotFound, "device not found: "+id)
		return
	}
	q := r.URL.Query()
	from, err := timeParam(q.Get("from"), srv.now().Add(-90*24*time.Hour))
	if err != nil {
		writeRegistryError(w, &state.FieldError{Field: "from", Err: err})
		return
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 10000 {
			writeRegistryError(w, state.FieldErrorf("limit", "want a number from 1 to 10000"))
			return
		}
	}
	chain := srv.reg.History(id)
	alarms, err := srv.db.Alarms(from, srv.now().Add(time.Minute), 0)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	aud := audienceOf(s.Role)
	alarms = slices.DeleteFunc(alarms, func(a *alerting.Alarm) bool {
		return a.IsSite() || !slices.Contains(chain, a.Device) || !aud.reads(about(a.Test)) || !srv.seesAlarm(sc, a)
	})
	if len(alarms) > limit {
		alarms = alarms[:limit]
	}
	writeJSON(w, http.StatusOK, map[string]any{"device": id, "history": chain, "alarms": srv.alarmViews(alarms), "count": len(alarms)})
}

func (srv *server) listUsers(w http.ResponseWriter, _ *http.Request, _ state.Session) {
	users, err := srv.db.Users()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": users})
}
