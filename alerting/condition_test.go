package alerting_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/alerting/alertingtest"
)

func TestConditionRaiseOnceAndRestore(t *testing.T) {
	store := alertingtest.NewMemStore()
	clock := alertingtest.NewClock(t0)
	room := alerting.Location{Site: "room-12", Path: []string{"青山县", "青山村", "12号", "卧室"}, Resident: "王秀英"}
	eng, err := alerting.NewEngine(store, alerting.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	a, raised, err := eng.RaiseCondition("btn-1", room, alerting.TypeOffline, alerting.P3, "silent since 02:00", false)
	if err != nil || !raised {
		t.Fatalf("raise: %v %v", raised, err)
	}
	if a.Site != "room-12" || a.Resident != "王秀英" || !slices.Equal(a.Location, []string{"青山县", "青山村", "12号", "卧室"}) {
		t.Fatalf("offline alarm does not say where: %+v", a)
	}
	again, raised, _ := eng.RaiseCondition("btn-1", room, alerting.TypeOffline, alerting.P3, "still silent", false)
	if raised || again.ID != a.ID || again.Count != 1 {
		t.Fatalf("second raise: raised %v, %+v", raised, again)
	}
	clock.Advance(time.Minute)
	done, err := eng.EndCondition("btn-1", alerting.TypeOffline, "heard again")
	if err != nil || done.State != alerting.Resolved || done.Outcome != alerting.OutcomeRestored {
		t.Fatalf("restore: %+v %v", done, err)
	}
	if none, err := eng.EndCondition("btn-1", alerting.TypeOffline, ""); none != nil || err != nil {
		t.Fatalf("second restore: %+v %v", none, err)
	}
	if _, raised, _ := eng.RaiseCondition("btn-1", room, alerting.TypeOffline, alerting.P3, "silent again", false); !raised {
		t.Fatal("a new silence after a restore must raise a new alarm")
	}
}

// TestSiteCondition: an alarm about a site has its own slot, apart from
// any device's, kept across a restart of the engine; its JSON names its
// subject and a device alarm's JSON is what it always was.
func TestSiteCondition(t *testing.T) {
	store := alertingtest.NewMemStore()
	clock := alertingtest.NewClock(t0)
	eng, err := alerting.NewEngine(store, alerting.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	home := alerting.Location{Site: "home-12", Path: []string{"青山县", "青山村", "12号"}, Resident: "王秀英"}
	site, raised, err := eng.RaiseSiteCondition(home, alerting.IncidentFire, alerting.P1, "smoke in two rooms")
	if err != nil || !raised {
		t.Fatalf("raise site alarm: %v %v", raised, err)
	}
	if !site.IsSite() || site.Device != "" || site.Site != "home-12" || site.Resident != "王秀英" || site.Event != alerting.IncidentFire {
		t.Fatalf("site alarm: %+v", site)
	}
	// A device whose id happens to be the site's is another subject.
	dev, raised, err := eng.RaiseCondition("home-12", alerting.Location{}, alerting.IncidentFire, alerting.P1, "", false)
	if err != nil || !raised || dev.ID == site.ID || dev.IsSite() {
		t.Fatalf("device alarm of the same id and type: raised %v, %+v, %v", raised, dev, err)
	}
	if got, ok := eng.OpenAtSite("home-12", alerting.IncidentFire); !ok || got.ID != site.ID {
		t.Fatalf("OpenAtSite: %+v %v", got, ok)
	}
	if got, ok := eng.OpenOf("home-12", alerting.IncidentFire); !ok || got.ID != dev.ID {
		t.Fatalf("OpenOf: %+v %v", got, ok)
	}
	for _, c := range []struct {
		a    *alerting.Alarm
		want bool
	}{{site, true}, {dev, false}} {
		b, _ := json.Marshal(c.a)
		if got := bytes.Contains(b, []byte(`"subject":"site"`)); got != c.want {
			t.Errorf("%s: %s", c.a.ID, b)
		}
		if !c.want && bytes.Contains(b, []byte(`"subject"`)) {
			t.Errorf("a device alarm names its subject: %s", b)
		}
	}

	eng, err = alerting.NewEngine(store, alerting.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if again, raised, _ := eng.RaiseSiteCondition(home, alerting.IncidentFire, alerting.P1, ""); raised || again.ID != site.ID {
		t.Fatalf("after a restart the site alarm is raised again: %+v", again)
	}
	done, err := eng.EndSiteCondition("home-12", alerting.IncidentFire, "over")
	if err != nil || done == nil || done.ID != site.ID || done.State != alerting.Resolved {
		t.Fatalf("end site alarm: %+v %v", done, err)
	}
	if _, ok := eng.OpenOf("home-12", alerting.IncidentFire); !ok {
		t.Fatal("ending the site alarm ended the device's")
	}
}

// TestEngineRefusesPoliciesWithEscalator: an Escalator brings its own
// policies, so Policies given with it would be silently ignored.
func TestEngineRefusesPoliciesWithEscalator(t *testing.T) {
	esc, err := alerting.NewEscalator(alerting.EscalatorConfig{Policies: alerting.FromPolicies(alerting.DefaultPolicies()),
		Tree: alerting.SiteMap{}, Roster: mustRoster(t)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = alerting.NewEngine(alertingtest.NewMemStore(), alerting.Options{Policies: alerting.DefaultPolicies(), Escalator: esc})
	if !errors.Is(err, alerting.ErrOptions) {
		t.Fatalf("NewEngine with Policies and an Escalator: %v, want ErrOptions", err)
	}
}

func mustRoster(t *testing.T) *alerting.DutyRoster {
	t.Helper()
	r, err := alerting.NewDutyRoster(nil, nil, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
