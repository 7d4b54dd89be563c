package gateway

import (
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/anxin-care/anxin/devices"
)

// DeviceView is a device as the API shows it: never its password hash.
type DeviceView struct {
	ID       string       `json:"id"`
	Kind     devices.Kind `json:"kind"`
	Model    string       `json:"model,omitempty"`
	Location string       `json:"location,omitempty"`
	Resident string       `json:"resident,omitempty"`
	Test     bool         `json:"test,omitempty"`
	Created  time.Time    `json:"created"`
	By       string       `json:"created_by"`
	Health   Health       `json:"health"`
}

// MQTTSettings tell an installer how to configure a device.
type MQTTSettings struct {
	Broker   string            `json:"broker"`
	ClientID string            `json:"client_id"`
	Username string            `json:"username"`
	Password string            `json:"password"`
	Topics   map[string]string `json:"topics"`
}

// NewDevice is the body of POST /api/v1/devices.
type NewDevice struct {
	ID       string       `json:"id"`
	Kind     devices.Kind `json:"kind"`
	Model    string       `json:"model"`
	Location string       `json:"location"`
	Resident string       `json:"resident"`
	Test     bool         `json:"test"`
}

// ProvisionedDevice is the answer to POST /api/v1/devices: the only time
// the device's password is shown.
type ProvisionedDevice struct {
	DeviceView
	Password string       `json:"password"`
	MQTT     MQTTSettings `json:"mqtt"`
}

func (g *Gateway) view(d Device) DeviceView {
	return DeviceView{ID: d.ID, Kind: d.Kind, Model: d.Model, Location: d.Location, Resident: d.Resident,
		Test: d.Test, Created: d.Created, By: d.By, Health: g.reg.Health(d.ID)}
}

func (g *Gateway) listDevices(w http.ResponseWriter, _ *http.Request, _ Session) {
	list := g.reg.List()
	out := make([]DeviceView, len(list))
	for i, d := range list {
		out[i] = g.view(d)
	}
	writeJSON(w, http.StatusOK, map[string]any{"devices": out, "count": len(out)})
}

func (g *Gateway) getDevice(w http.ResponseWriter, r *http.Request, _ Session) {
	d, ok := g.reg.Get(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, "device not found: "+r.PathValue("id"))
		return
	}
	writeJSON(w, http.StatusOK, g.view(d))
}

func (g *Gateway) addDevice(w http.ResponseWriter, r *http.Request, s Session) {
	var req NewDevice
	if !readJSON(w, r, &req) {
		return
	}
	d := Device{ID: req.ID, Kind: req.Kind, Model: req.Model, Location: req.Location, Resident: req.Resident, Test: req.Test}
	password, err := g.reg.Add(d, s.User, g.now())
	switch {
	case errors.Is(err, ErrDeviceExists):
		writeError(w, http.StatusConflict, err.Error())
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	d, _ = g.reg.Get(req.ID)
	g.log.Info("device provisioned", "device", d.ID, "kind", d.Kind, "by", s.User)
	writeJSON(w, http.StatusCreated, ProvisionedDevice{
		DeviceView: g.view(d), Password: password,
		MQTT: MQTTSettings{Broker: g.brokerURL(r), ClientID: d.ID, Username: d.ID, Password: password,
			Topics: map[string]string{
				"event":     devices.Topic(d.ID, devices.ChannelEvent),
				"telemetry": devices.Topic(d.ID, devices.ChannelTelemetry),
				"status":    devices.Topic(d.ID, devices.ChannelStatus),
				"cmd":       devices.Topic(d.ID, devices.ChannelCmd),
			}},
	})
}

// brokerURL guesses the address devices should use: the host the installer
// reached the API on, with the MQTT port.
func (g *Gateway) brokerURL(r *http.Request) string {
	_, port, _ := net.SplitHostPort(g.MQTTAddr())
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	return "tcp://" + net.JoinHostPort(host, port)
}

func (g *Gateway) removeDevice(w http.ResponseWriter, r *http.Request, s Session) {
	id := r.PathValue("id")
	if err := g.reg.Remove(id); err != nil {
		if errors.Is(err, ErrDeviceUnknown) {
			writeError(w, http.StatusNotFound, err.Error())
			return
		}
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	// A removed device's connection goes with it.
	if cl, ok := g.broker.Clients.Get(id); ok {
		cl.Stop(ErrDeviceUnknown)
	}
	g.log.Info("device removed", "device", id, "by", s.User)
	w.WriteHeader(http.StatusNoContent)
}

type newUser struct {
	Name     string `json:"name"`
	Role     Role   `json:"role"`
	Password string `json:"password"`
}

func (g *Gateway) addUser(w http.ResponseWriter, r *http.Request, s Session) {
	var req newUser
	if !readJSON(w, r, &req) {
		return
	}
	if err := g.db.AddUser(req.Name, req.Role, req.Password, g.now()); err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, ErrUserExists) {
			status = http.StatusConflict
		}
		writeError(w, status, err.Error())
		return
	}
	g.log.Info("user added", "user", req.Name, "role", req.Role, "by", s.User)
	writeJSON(w, http.StatusCreated, map[string]any{"name": req.Name, "role": req.Role})
}

func (g *Gateway) listUsers(w http.ResponseWriter, _ *http.Request, _ Session) {
	users, err := g.db.Users()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": users})
}
