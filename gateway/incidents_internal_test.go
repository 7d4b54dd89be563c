package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/alerting/alertingtest"
	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway/state"
)

// Incidents built from their parts: an alarm engine over alertingtest's
// MemStore on a fake clock, a site-of function over a small map of rooms,
// and the incident records of a real state file.

// roomsOf maps rooms to the home above them.
var roomsOf = map[string]string{
	"home-12-bedroom": "home-12",
	"home-12-kitchen": "home-12",
	"home-12-hall":    "home-12",
	"home-12-bath":    "home-12",
	"home-7-bedroom":  "home-7",
}

func testSiteOf(a *alerting.Alarm) string {
	if a.IsSite() {
		return ""
	}
	return roomsOf[a.Site]
}

// testSubtree is a home and its rooms.
func testSubtree(home string) []string {
	out := []string{home}
	for room, h := range roomsOf {
		if h == home {
			out = append(out, room)
		}
	}
	return out
}

func testSiteLocation(site string) alerting.Location {
	return alerting.Location{Site: site, Path: []string{"青山村", site}}
}

// incidentRig is one incidents with its engine and records.
type incidentRig struct {
	clk   *alertingtest.Clock
	alarm *alertingtest.MemStore
	eng   *alerting.Engine
	x     *incidents
	seq   uint64 // of the rig's device events
}

// newIncidentRig builds incidents over an engine on alarms and over
// records; the clock starts at courierT0.
func newIncidentRig(t *testing.T, alarms *alertingtest.MemStore, records incidentRecords) *incidentRig {
	t.Helper()
	r := &incidentRig{clk: alertingtest.NewClock(courierT0), alarm: alarms}
	log := slog.New(slog.DiscardHandler)
	var err error
	if r.eng, err = alerting.NewEngine(alarms, alerting.Options{Now: r.clk.Now, Logger: log}); err != nil {
		t.Fatal(err)
	}
	opts := IncidentsConfig{}.correlateOptions(testSiteOf)
	if r.x, err = newIncidents(r.eng, records, testSiteLocation, testSubtree, opts, log); err != nil {
		t.Fatal(err)
	}
	return r
}

// smoke raises a smoke alarm at a device in room.
func (r *incidentRig) smoke(t *testing.T, device, room string) *alerting.Alarm {
	t.Helper()
	r.seq++
	res, err := r.eng.HandleEvent(devices.Event{Device: device, Seq: r.seq, Type: devices.SmokeAlarm, Received: r.clk.Now()},
		alerting.Location{Site: room}, false)
	if err != nil || res.Alarm == nil {
		t.Fatalf("smoke at %s: %v, %v", device, res.Alarm, err)
	}
	return res.Alarm
}

// offline raises an offline alarm for a device in room.
func (r *incidentRig) offline(t *testing.T, device, room string) *alerting.Alarm {
	t.Helper()
	a, _, err := r.eng.RaiseCondition(device, alerting.Location{Site: room}, alerting.TypeOffline, alerting.P3,
		"not heard for 3 check-in windows", false)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// siteAlarms returns the open site-level alarms.
func (r *incidentRig) siteAlarms() []*alerting.Alarm {
	var out []*alerting.Alarm
	for _, a := range r.eng.Open() {
		if a.IsSite() {
			out = append(out, a)
		}
	}
	return out
}

func (r *incidentRig) get(t *testing.T, id string) *alerting.Alarm {
	t.Helper()
	a, err := r.eng.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func hasNote(a *alerting.Alarm, note string) bool {
	return slices.ContainsFunc(a.Timeline, func(e alerting.Entry) bool { return strings.Contains(e.Note, note) })
}

// TestCorrelateFireIncident: smoke at two detectors of one home raises one
// P1 fire alarm about the home, which the raise note and the linked
// alarms' timelines connect; a third detector joins it; another pass
// raises nothing more; smoke at another home alone raises nothing.
func TestCorrelateFireIncident(t *testing.T) {
	db := openState(t, t.TempDir())
	defer db.Close()
	r := newIncidentRig(t, alertingtest.NewMemStore(), db)

	a1 := r.smoke(t, "smk-bed", "home-12-bedroom")
	r.smoke(t, "smk-7", "home-7-bedroom")
	r.x.correlateOnce()
	if got := r.siteAlarms(); len(got) != 0 {
		t.Fatalf("%d site alarms after one smoke alarm per home", len(got))
	}

	a2 := r.smoke(t, "smk-kit", "home-12-kitchen")
	r.x.correlateOnce()
	r.x.correlateOnce()
	in := r.siteAlarms()
	if len(in) != 1 {
		t.Fatalf("%d site alarms, want 1", len(in))
	}
	fire := in[0]
	if fire.Type != alerting.IncidentFire || fire.Priority != alerting.P1 || fire.Site != "home-12" ||
		!hasNote(fire, a1.ID) || !hasNote(fire, a2.ID) {
		t.Fatalf("incident %s %s at %s, timeline %+v", fire.Type, fire.Priority, fire.Site, fire.Timeline)
	}
	for _, a := range []*alerting.Alarm{a1, a2} {
		if !hasNote(r.get(t, a.ID), "part of site incident "+fire.ID) {
			t.Errorf("%s does not name the incident: %+v", a.ID, r.get(t, a.ID).Timeline)
		}
	}

	a3 := r.smoke(t, "smk-hall", "home-12-hall")
	r.x.correlateOnce()
	if got := r.siteAlarms(); len(got) != 1 || got[0].ID != fire.ID {
		t.Fatalf("site alarms after a third detector: %v", got)
	}
	if !hasNote(r.get(t, fire.ID), "linked "+a3.ID) || !hasNote(r.get(t, a3.ID), "part of site incident "+fire.ID) {
		t.Errorf("the third detector is not linked: %+v", r.get(t, fire.ID).Timeline)
	}
	recs, err := db.Incidents()
	if err != nil {
		t.Fatal(err)
	}
	rec := recs[state.IncidentKey("home-12", alerting.IncidentFire)]
	want := []string{a1.ID, a2.ID, a3.ID}
	if rec == nil || rec.Alarm != fire.ID || !sameSet(rec.Linked, want) {
		t.Errorf("stored record %+v, want alarm %s linking %v", rec, fire.ID, want)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// TestCorrelateSiteOffline: a burst of offline devices in one home raises
// one P2 site_offline alarm that speaks for them; once every device is
// heard again the pass ends it, and the next forgets its record.
func TestCorrelateSiteOffline(t *testing.T) {
	db := openState(t, t.TempDir())
	defer db.Close()
	r := newIncidentRig(t, alertingtest.NewMemStore(), db)
	rooms := []string{"home-12-bedroom", "home-12-kitchen", "home-12-hall", "home-12-bath"}
	var offs []*alerting.Alarm
	for i, room := range rooms { // one more than alerting.DefaultOfflineThreshold
		offs = append(offs, r.offline(t, fmt.Sprintf("dev-%d", i), room))
		r.clk.Advance(10 * time.Second)
	}
	r.x.correlateOnce()
	site, ok := r.eng.OpenAtSite("home-12", alerting.IncidentSiteOffline)
	if !ok || site.Priority != alerting.P2 {
		t.Fatalf("site_offline at home-12: %v, open %v", site, ok)
	}
	for _, a := range offs {
		why, ok := r.x.inhibiting(a)
		if !ok || why != "incident "+site.ID+" speaks for it" {
			t.Errorf("inhibiting %s: %q, %v", a.ID, why, ok)
		}
	}

	for i := range rooms {
		if _, err := r.eng.EndCondition(fmt.Sprintf("dev-%d", i), alerting.TypeOffline, "heard again"); err != nil {
			t.Fatal(err)
		}
	}
	r.x.correlateOnce()
	if _, ok := r.eng.OpenAtSite("home-12", alerting.IncidentSiteOffline); ok {
		t.Fatal("site_offline still open with every device heard again")
	}
	ended := r.get(t, site.ID)
	if ended.State != alerting.Resolved || ended.Outcome != alerting.OutcomeRestored {
		t.Errorf("site_offline %s, outcome %q; want resolved, restored", ended.State, ended.Outcome)
	}
	r.x.correlateOnce()
	if recs, _ := db.Incidents(); len(recs) != 0 || r.x.record(state.IncidentKey("home-12", alerting.IncidentSiteOffline)) != nil {
		t.Errorf("records of an ended incident are kept: %v", recs)
	}
}

// TestInhibitingWithoutCorrelating: while a correlation pass holds its
// lock, the notification path still learns that a burst not raised yet
// speaks for an offline alarm; it raises and stores nothing itself, and
// answers no for other alarms.
func TestInhibitingWithoutCorrelating(t *testing.T) {
	records := &memRecords{}
	r := newIncidentRig(t, alertingtest.NewMemStore(), records)
	var offs []*alerting.Alarm
	for i, room := range []string{"home-12-bedroom", "home-12-kitchen", "home-12-hall", "home-12-bath"} {
		offs = append(offs, r.offline(t, fmt.Sprintf("dev-%d", i), room))
	}
	lone := r.offline(t, "dev-7", "home-7-bedroom")
	sos := r.smoke(t, "smk-bed", "home-12-bedroom")

	r.x.mu.Lock() // a pass stuck on a slow disk
	defer r.x.mu.Unlock()
	why, ok := r.x.inhibiting(offs[0])
	if want := "the site_offline incident at home-12 speaks for it"; !ok || why != want {
		t.Errorf("inhibiting an offline alarm of a burst: %q, %v; want %q", why, ok, want)
	}
	for _, a := range []*alerting.Alarm{lone, sos} {
		if why, ok := r.x.inhibiting(a); ok {
			t.Errorf("inhibiting %s (%s at %s): %q", a.ID, a.Type, a.Site, why)
		}
	}
	if got := r.siteAlarms(); len(got) != 0 {
		t.Errorf("inhibiting raised %v", got)
	}
	if n := records.puts(); n != 0 {
		t.Errorf("inhibiting stored %d records", n)
	}
}

// TestIncidentRecordsSurviveReopen: an incident an operator resolved while
// its alarms are open is not raised again for the same alarms after a
// restart, because its record is read back from the state file.
func TestIncidentRecordsSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	alarms := alertingtest.NewMemStore()
	db := openState(t, dir)
	r := newIncidentRig(t, alarms, db)
	a1 := r.smoke(t, "smk-bed", "home-12-bedroom")
	a2 := r.smoke(t, "smk-kit", "home-12-kitchen")
	r.x.correlateOnce()
	fire, ok := r.eng.OpenAtSite("home-12", alerting.IncidentFire)
	if !ok {
		t.Fatal("no fire incident")
	}
	if _, err := r.eng.Resolve(fire.ID, "li", "false_alarm", "burnt toast in two rooms"); err != nil {
		t.Fatal(err)
	}
	r.x.correlateOnce()
	if got := r.siteAlarms(); len(got) != 0 {
		t.Fatalf("raised again before the restart: %v", got)
	}
	db.Close()

	db = openState(t, dir)
	defer db.Close()
	r = newIncidentRig(t, alarms, db) // a new engine on the same alarms: a restart
	rec := r.x.record(state.IncidentKey("home-12", alerting.IncidentFire))
	if rec == nil || rec.Alarm != fire.ID || !sameSet(rec.Linked, []string{a1.ID, a2.ID}) {
		t.Fatalf("record after reopen: %+v", rec)
	}
	r.x.correlateOnce()
	if got := r.siteAlarms(); len(got) != 0 {
		t.Fatalf("raised again after the restart: %v", got)
	}

	a3 := r.smoke(t, "smk-hall", "home-12-hall") // something new joins: a new incident
	r.x.correlateOnce()
	again, ok := r.eng.OpenAtSite("home-12", alerting.IncidentFire)
	if !ok || again.ID == fire.ID || !hasNote(again, a3.ID) {
		t.Fatalf("after a new detector: %v, %v", again, ok)
	}
}

// TestIncidentRecordNotStored: a record the store refused is not kept in
// memory, so the next pass links the open incident again rather than
// raising a second one.
func TestIncidentRecordNotStored(t *testing.T) {
	records := &memRecords{fail: errors.New("disk full")}
	r := newIncidentRig(t, alertingtest.NewMemStore(), records)
	r.smoke(t, "smk-bed", "home-12-bedroom")
	r.smoke(t, "smk-kit", "home-12-kitchen")
	r.x.correlateOnce()
	k := state.IncidentKey("home-12", alerting.IncidentFire)
	if rec := r.x.record(k); rec != nil {
		t.Fatalf("kept a record the store refused: %+v", rec)
	}
	fire, ok := r.eng.OpenAtSite("home-12", alerting.IncidentFire)
	if !ok {
		t.Fatal("no fire incident")
	}

	records.setFail(nil)
	r.x.correlateOnce()
	if got := r.siteAlarms(); len(got) != 1 {
		t.Fatalf("%d site alarms, want the one", len(got))
	}
	if rec := r.x.record(k); rec == nil || rec.Alarm != fire.ID || len(rec.Linked) != 2 {
		t.Errorf("record after the store came back: %+v", rec)
	}
}

// memRecords is incidentRecords in memory, failing its writes when told.
type memRecords struct {
	mu   sync.Mutex
	recs map[string]*state.Incident
	fail error
	n    int
}

func (m *memRecords) Incidents() (map[string]*state.Incident, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]*state.Incident{}
	for k, r := range m.recs {
		out[k] = r
	}
	return out, nil
}

func (m *memRecords) PutIncident(key string, r *state.Incident) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	if m.recs == nil {
		m.recs = map[string]*state.Incident{}
	}
	m.recs[key] = r
	m.n++
	return nil
}

func (m *memRecords) DeleteIncident(key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	delete(m.recs, key)
	return nil
}

func (m *memRecords) setFail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail = err
}

func (m *memRecords) puts() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n
}
