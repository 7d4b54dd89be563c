package gateway_test

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/anxin-care/anxin/gateway/gatewaytest"
)

// stateManifest lists what a state fixture holds, as the API showed it when
// the fixture was made; the test that opens the fixture with newer code
// checks every item against it.
type stateManifest struct {
	Made      string            `json:"made"` // the commit that wrote it
	Users     []string          `json:"users"`
	Devices   []string          `json:"devices"`
	Sites     []string          `json:"sites"`
	Residents []string          `json:"residents"`
	Alarms    []manifestAlarm   `json:"alarms"`
	OnDuty    map[string]string `json:"on_duty"` // operator → site
}

type manifestAlarm struct {
	ID       string `json:"id"`
	Device   string `json:"device"`
	Site     string `json:"site"`
	Type     string `json:"type"`
	State    string `json:"state"`
	Priority string `json:"priority"`
	Count    int    `json:"count"`
	Steps    int    `json:"steps"` // timeline entries
}

// TestMakeStateFixture writes a state file the way the code of its commit
// writes one, with a manifest of what it holds. It runs only when
// ANXIN_MAKE_STATE_FIXTURE names the folder to write; it was run once, at
// the commit named in the manifest, to make testdata/state-v1.
func TestMakeStateFixture(t *testing.T) {
	out := os.Getenv("ANXIN_MAKE_STATE_FIXTURE")
	if out == "" {
		t.Skip("set ANXIN_MAKE_STATE_FIXTURE=DIR to write a state fixture")
	}
	r := newReceivers(t)
	g := gatewaytest.Start(t, notifyConfig(r))
	seedNetwork(t, g)
	li := addOperator(t, g, opLi)
	checkIn(t, li, "qs-village", true)
	checkIn(t, addOperator(t, g, opZhang), "qs-town", true)
	addOperator(t, g, opWu)
	g.AddUser("inst", "installer")

	btn := install(t, g, "btn-1", "call_button", "home-12-bedroom")
	cord := install(t, g, "cord-1", "pull_cord", "home-12-bedroom")
	smk1 := install(t, g, "smk-bed", "smoke_detector", "home-12-bedroom")
	smk2 := install(t, g, "smk-kit", "smoke_detector", "home-12-kitchen")
	g.ProvisionWith(map[string]any{"id": "band-101", "kind": "safety_band", "site": "qs-home-101"})

	// A press acknowledged and resolved, a pull cord acknowledged, a press
	// repeated and still raised, and a fire incident over two detectors.
	a := press(t, btn, "call.press")
	if code := li.Do("POST", "/api/v1/alarms/"+a+"/ack", map[string]string{"note": "on my way"}, nil); code != 200 {
		t.Fatalf("ack: HTTP %d", code)
	}
	if code := li.Do("POST", "/api/v1/alarms/"+a+"/resolve", map[string]string{"outcome": "assisted"}, nil); code != 200 {
		t.Fatalf("resolve: HTTP %d", code)
	}
	c := press(t, cord, "call.pullcord")
	if code := li.Do("POST", "/api/v1/alarms/"+c+"/ack", nil, nil); code != 200 {
		t.Fatalf("ack: HTTP %d", code)
	}
	press(t, btn, "call.press")
	btn.Press("call.press")
	press(t, smk1, "smoke.alarm")
	press(t, smk2, "smoke.alarm")
	if ins := incidentsOf(t, g, 1); len(ins) != 1 {
		t.Fatalf("%d incidents, want 1", len(ins))
	}
	// Wait for the repeat to be counted before the snapshot.
	waitFor(t, "repeat counted", func() bool {
		for _, a := range g.Engine().Open() {
			if a.Device == "btn-1" && a.Count == 2 {
				return true
			}
		}
		return false
	})

	m := stateManifest{Made: os.Getenv("ANXIN_FIXTURE_COMMIT"), OnDuty: map[string]string{"li": "qs-village", "zhang": "qs-town"}}
	m.Users = []string{"admin", "inst", "li", "wu", "zhang"}
	m.Devices = []string{"band-101", "btn-1", "cord-1", "smk-bed", "smk-kit"}
	for _, s := range gatewaytest.SiteTree {
		m.Sites = append(m.Sites, s["id"].(string))
	}
	m.Sites = append(m.Sites, "qs-home", "qs-home-101")
	sort.Strings(m.Sites)
	m.Residents = []string{"wang-xy"}
	ids := map[string]bool{}
	for _, a := range g.Engine().Open() {
		ids[a.ID] = true
	}
	ids[a] = true
	for id := range ids {
		al, err := g.Engine().Get(id)
		if err != nil {
			t.Fatalf("alarm %s: %v", id, err)
		}
		m.Alarms = append(m.Alarms, manifestAlarm{ID: al.ID, Device: al.Device, Site: al.Site, Type: al.Type,
			State: string(al.State), Priority: al.Priority.String(), Count: al.Count, Steps: len(al.Timeline)})
	}
	sort.Slice(m.Alarms, func(i, j int) bool { return m.Alarms[i].ID < m.Alarms[j].ID })
	g.Close()

	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(g.Dir, "anxin.db"), filepath.Join(out, "anxin.db"))
	b, _ := json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(filepath.Join(out, "manifest.json"), append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds, failing the test after 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
