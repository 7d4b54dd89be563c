package httpapi

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/gateway/registry"
	"github.com/anxin-care/anxin/gateway/state"
)

// AlarmView is an alarm as the API and the stream show it: the stored
// alarm (whose "location" is the path's names and "resident" the
// resident's name, as before the console, so scripts keep working) with
// what a console needs to render a row without asking again; the added
// fields are omitted when empty.
type AlarmView struct {
	*alerting.Alarm
	// LocationPath is the path of the alarm's site in today's tree, root
	// down to the room or bed; LocationNote where in it (the device's note).
	LocationPath []LocationStep `json:"location_path,omitempty"`
	LocationNote string         `json:"location_note,omitempty"`
	// ResidentRef is who uses the device (a site alarm: who lives there).
	ResidentRef *registry.ResidentRef `json:"resident_ref,omitempty"`
	// Step is the escalation step reached, 0-based, and StepAt when;
	// absent before the first step fired.
	Step   *int      `json:"step,omitempty"`
	StepAt time.Time `json:"step_at,omitzero"`
	// DispatchedTo is who is going (the dispatch's responder, else its note).
	DispatchedTo string `json:"dispatched_to,omitempty"`
	// Told is what the device was told of its alarm, and when.
	Told []Told `json:"told,omitempty"`
}

// LocationStep is one site of an alarm's location path.
type LocationStep struct {
	ID   string             `json:"id"`
	Name string             `json:"name"`
	Kind registry.SiteLevel `json:"kind"`
}

// Told is one reassurance the device was sent: the state it shows or says.
type Told struct {
	State string    `json:"state"`
	At    time.Time `json:"at"`
}

// AlarmDetail is GET /api/v1/alarms/{id}: the alarm, the steps of the
// resident's response plan for its type (shown first), and the resident's card.
type AlarmDetail struct {
	AlarmView
	Plan         []registry.PlanStep `json:"plan,omitempty"`
	ResidentCard *ResidentCard       `json:"resident_card,omitempty"`
}

// ResidentCard is what an operator reads of a resident in an alarm's detail.
type ResidentCard struct {
	ID         string             `json:"id"`
	Name       string             `json:"name"`
	Age        int                `json:"age"`
	Sex        string             `json:"sex,omitempty"`
	Conditions []string           `json:"conditions,omitempty"`
	Language   string             `json:"language"`
	Contacts   []registry.Contact `json:"contacts"`
}

// alarmView is a as the console shows it. It reads the registry (read
// locks only), never the store.
func (srv *server) alarmView(a *alerting.Alarm) AlarmView {
	v := AlarmView{Alarm: a}
	for _, s := range srv.reg.Sites().Path(a.Site) {
		v.LocationPath = append(v.LocationPath, LocationStep{ID: s.ID, Name: s.Name, Kind: s.Level})
	}
	if len(v.LocationPath) == 0 { // the site is gone from the tree: its names as raised
		for _, name := range a.Location {
			v.LocationPath = append(v.LocationPath, LocationStep{Name: name})
		}
	}
	if id := srv.residentOf(a); id != "" {
		v.ResidentRef = &registry.ResidentRef{ID: id, Name: a.Resident}
		if p, ok := srv.reg.Residents().Get(id); ok {
			v.ResidentRef.Name = p.Name
		}
	} else if a.Resident != "" {
		v.ResidentRef = &registry.ResidentRef{Name: a.Resident}
	}
	if !a.IsSite() {
		if d, ok := srv.reg.Get(a.Device); ok {
			v.LocationNote = d.Location
		}
	}
	v.timeline()
	return v
}

// residentOf is the id of the alarm's resident: its device's, or for a
// site alarm the one living at the site whose name the alarm carries.
func (srv *server) residentOf(a *alerting.Alarm) string {
	if !a.IsSite() {
		d, _ := srv.reg.Get(a.Device)
		return d.Resident
	}
	if a.Resident == "" {
		return ""
	}
	for _, p := range srv.reg.Residents().List(func(p registry.Resident) bool { return p.Home == a.Site && p.Name == a.Resident }) {
		return p.ID
	}
	return ""
}

// timeline fills what the view reads off the alarm's timeline: the step,
// who is going, and what the device was told. The gateway answers every
// event of an alarm a device raised with "received", and tells it of
// each acknowledgement, dispatch and resolution, once each is durable
// (gateway/ingest.go), so these entries are what it was sent and when.
func (v *AlarmView) timeline() {
	a := v.Alarm
	if a.Steps > 0 {
		v.Step = new(a.Steps - 1)
	}
	device := !a.IsSite() && a.FromDevice()
	for _, e := range a.Timeline {
		switch e.Action {
		case alerting.ActEscalated:
			v.StepAt = e.At
		case alerting.ActDispatched:
			v.DispatchedTo = cmpOr(e.Responder, e.Note)
		}
		if !device {
			continue
		}
		if word := toldFor(e); word != "" {
			v.Told = append(v.Told, Told{State: word, At: e.At})
		}
	}
}

// toldFor is the reassurance the device was sent after entry e, if any.
func toldFor(e alerting.Entry) string {
	switch e.Action {
	case alerting.ActRaised, alerting.ActRepeated:
		return "received"
	case alerting.ActAcknowledged:
		return "acknowledged"
	case alerting.ActDispatched:
		return "on_the_way"
	case alerting.ActResolved:
		return "resolved"
	}
	return ""
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (srv *server) alarmViews(alarms []*alerting.Alarm) []AlarmView {
	out := make([]AlarmView, len(alarms))
	for i, a := range alarms {
		out[i] = srv.alarmView(a)
	}
	return out
}

// listAlarms serves GET /api/v1/alarms?state=open|raised|…|all&from=&to=&limit=.
// Open alarms come from memory, P1 first; the others from the store,
// newest first; only those in the caller's scope.
func (srv *server) listAlarms(w http.ResponseWriter, r *http.Request, s state.Session) {
	q := r.URL.Query()
	want := q.Get("state")
	if want == "" {
		want = "open"
	}
	if want != "open" && want != "all" && !alerting.State(want).Valid() {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("state %q: want open, all, raised, acknowledged, dispatched, resolved or cancelled", want))
		return
	}
	limit := 500
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			writeError(w, http.StatusBadRequest, "limit must be a number from 1 to 10000")
			return
		}
		limit = n
	}
	var alarms []*alerting.Alarm
	if want == "open" {
		alarms = srv.eng.Open()
	} else {
		to := srv.now().Add(time.Minute)
		from := to.Add(-7 * 24 * time.Hour)
		var err error
		if from, err = timeParam(q.Get("from"), from); err != nil {
			writeError(w, http.StatusBadRequest, "from: "+err.Error())
			return
		}
		if to, err = timeParam(q.Get("to"), to); err != nil {
			writeError(w, http.StatusBadRequest, "to: "+err.Error())
			return
		}
		if alarms, err = srv.db.Alarms(from, to, 0); err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		if want != "all" {
			alarms = slices.DeleteFunc(alarms, func(a *alerting.Alarm) bool { return string(a.State) != want })
		}
	}
	// Walk-test alarms are the installer's, never an operator's.
	test := s.Role != state.RoleOperator && q.Get("test") == "true"
	sc := scopeOf(r)
	alarms = slices.DeleteFunc(alarms, func(a *alerting.Alarm) bool { return a.Test && !test || !srv.seesAlarm(sc, a) })
	if len(alarms) > limit {
		alarms = alarms[:limit]
	}
	writeJSON(w, http.StatusOK, map[string]any{"alarms": srv.alarmViews(alarms), "count": len(alarms)})
}

// scopedAlarm returns the alarm of the request's {id} if the caller may
// see it; otherwise it answers 404 (out of scope reads as not there).
func (srv *server) scopedAlarm(w http.ResponseWriter, r *http.Request) (*alerting.Alarm, bool) {
	id := r.PathValue("id")
	a, err := srv.eng.Get(id)
	if err == nil && !srv.seesAlarm(scopeOf(r), a) {
		err = fmt.Errorf("%w: %s", alerting.ErrNotFound, id)
	}
	if err != nil {
		writeAlarmError(w, err)
		return nil, false
	}
	return a, true
}

// getAlarm serves GET /api/v1/alarms/{id}: the alarm with the resident's
// card and the steps of their response plan for this alarm.
func (srv *server) getAlarm(w http.ResponseWriter, r *http.Request, _ state.Session) {
	a, ok := srv.scopedAlarm(w, r)
	if !ok {
		return
	}
	d := AlarmDetail{AlarmView: srv.alarmView(a)}
	if d.ResidentRef != nil && d.ResidentRef.ID != "" {
		if p, ok := srv.reg.Residents().Get(d.ResidentRef.ID); ok {
			d.Plan = p.Plan.PlanFor(a.Event, a.Type)
			d.ResidentCard = &ResidentCard{ID: p.ID, Name: p.Name, Age: srv.now().Year() - p.BirthYear, Sex: p.Sex,
				Conditions: p.Conditions, Language: p.Language, Contacts: p.Contacts}
		}
	}
	writeJSON(w, http.StatusOK, d)
}

// actionRequest is the body of an alarm action; Responder (dispatch only)
// says who is going.
type actionRequest struct {
	Note      string `json:"note"`
	Outcome   string `json:"outcome"`
	Responder string `json:"responder"`
}

// alarmAction serves ack, dispatch, resolve and notes.
func (srv *server) alarmAction(w http.ResponseWriter, r *http.Request, s state.Session) {
	var req actionRequest
	if !readJSON(w, r, &req) {
		return
	}
	cur, ok := srv.scopedAlarm(w, r)
	if !ok {
		return
	}
	id := cur.ID
	action := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	if req.Responder != "" && action != "dispatch" {
		writeError(w, http.StatusBadRequest, `"responder" is for a dispatch only`)
		return
	}
	var a *alerting.Alarm
	var err error
	switch action {
	case "ack":
		a, err = srv.eng.Ack(id, s.User, req.Note)
	case "dispatch":
		a, err = srv.eng.DispatchTo(id, s.User, strings.TrimSpace(req.Responder), req.Note)
	case "resolve":
		if req.Outcome == "" {
			writeError(w, http.StatusBadRequest, fmt.Sprintf(`"outcome" is required, one of %v`, alerting.Outcomes))
			return
		}
		a, err = srv.eng.Resolve(id, s.User, req.Outcome, req.Note)
	case "notes":
		a, err = srv.eng.Note(id, s.User, req.Note)
	}
	if err != nil {
		writeAlarmError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, srv.alarmView(a))
}

func writeAlarmError(w http.ResponseWriter, err error) {
	writeError(w, alarmErrorStatus(err), err.Error())
}
