package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/gateway/registry"
	"github.com/anxin-care/anxin/gateway/state"
)

// testRequest is the body of POST /api/v1/devices/{id}/test.
type testRequest struct {
	On *bool `json:"on"`
	// Duration is how long test mode lasts: "30m", "2h" or seconds;
	// registry.DefaultTestDuration when left out.
	Duration json.RawMessage `json:"duration"`
}

// testDuration reads the request's duration.
func (req testRequest) testDuration() (time.Duration, error) {
	if len(req.Duration) == 0 || string(req.Duration) == "null" {
		return registry.DefaultTestDuration, nil
	}
	var d alerting.Duration
	if err := d.UnmarshalJSON(req.Duration); err != nil {
		return 0, state.FieldErrorf("duration", "%v", err)
	}
	if v := time.Duration(d); v <= 0 || v > registry.MaxTestDuration {
		return 0, state.FieldErrorf("duration", "%s: want more than 0 and at most %s", v, registry.MaxTestDuration)
	}
	return time.Duration(d), nil
}

// setDeviceTest serves POST /api/v1/devices/{id}/test {"on": true|false,
// "duration": "30m"}: the installer's walk test. While on, the device's
// alarms go to the installer (device watch, ?test=true), not to operators
// (but see gateway/testmode.go on unwatched P1 alarms).
func (srv *server) setDeviceTest(w http.ResponseWriter, r *http.Request, s state.Session) {
	var req testRequest
	if !readJSON(w, r, &req) {
		return
	}
	if req.On == nil {
		writeRegistryError(w, state.FieldErrorf("on", `is required: {"on": true} or {"on": false}`))
		return
	}
	dur, err := req.testDuration()
	if err != nil {
		writeRegistryError(w, err)
		return
	}
	now := srv.now()
	d, err := srv.reg.Update(r.PathValue("id"), state.ActionTest, s.User, now, func(d *registry.Device) error {
		d.Test, d.TestUntil = *req.On, time.Time{}
		if d.Test {
			d.TestUntil = now.UTC().Add(dur)
		}
		return nil
	})
	if err != nil {
		writeRegistryError(w, err)
		return
	}
	srv.log.Info("walk test", "device", d.ID, "on", d.Test, "until", d.TestUntil, "by", s.User)
	srv.Devices.TellTestMode(d, now)
	writeJSON(w, http.StatusOK, srv.view(d))
}
