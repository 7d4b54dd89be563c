package gateway_test

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/gateway/httpapi"
)

// TestStateFixtureOpens opens a state file written by older code
// (testdata/state-v1, made by TestMakeStateFixture at the commit its
// manifest names) and finds everything it held: users, sites, residents,
// devices, every alarm with its state, count and timeline, and who was on
// duty. The old file's fire incident, an alarm of the pretend device
// "site:home-12", is migrated into an alarm about the site home-12 with the
// same id, state and timeline, and rewritten so in the file.
func TestStateFixtureOpens(t *testing.T) {
	var m stateManifest
	b, err := os.ReadFile("testdata/state-v1/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	gunzip(t, "testdata/state-v1/anxin.db.gz", filepath.Join(dir, "anxin.db"))
	old := readAlarms(t, filepath.Join(dir, "anxin.db"))
	cfg := notifyConfig(newReceivers(t))
	cfg.DataDir = dir
	g := gatewaytest.Start(t, cfg)

	names := func(path, field string) []string {
		var body map[string]json.RawMessage // {"users": [...]}
		if code := g.Admin.Do("GET", path, nil, &body); code != 200 {
			t.Fatalf("GET %s: HTTP %d", path, code)
		}
		var rows []map[string]any
		if err := json.Unmarshal(body[filepath.Base(path)], &rows); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		var out []string
		for _, r := range rows {
			out = append(out, r[field].(string))
		}
		sort.Strings(out)
		return out
	}
	for _, c := range []struct {
		path, field string
		want        []string
	}{
		{"/api/v1/users", "name", m.Users},
		{"/api/v1/devices", "id", m.Devices},
		{"/api/v1/sites", "id", m.Sites},
		{"/api/v1/residents", "id", m.Residents},
	} {
		if got := names(c.path, c.field); !slices.Equal(got, c.want) {
			t.Errorf("GET %s: %v, want %v", c.path, got, c.want)
		}
	}
	var incidents []string
	for _, want := range m.Alarms {
		a := alarm(t, g, want.ID)
		wantSubject, wantDevice := alerting.Subject(want.Subject), want.Device
		if wantSubject == alerting.SubjectSite {
			incidents = append(incidents, want.ID)
		}
		if site, ok := strings.CutPrefix(want.Device, "site:"); ok { // state-v1's spelling
			wantSubject, wantDevice = alerting.SubjectSite, ""
			incidents = append(incidents, want.ID)
			if site != want.Site {
				t.Fatalf("manifest: incident %s at %s, site %s", want.ID, want.Device, want.Site)
			}
			if strings.HasPrefix(a.Routed, "incident:") {
				t.Errorf("incident %s routed to %q", a.ID, a.Routed)
			}
		}
		if a.Subject != wantSubject || a.Device != wantDevice || a.Site != want.Site || a.Type != want.Type || string(a.State) != want.State ||
			a.Priority.String() != want.Priority || a.Count != want.Count || len(a.Timeline) < want.Steps {
			t.Errorf("alarm %s: subject %q device %q at %s %s %s %s count %d, %d steps; want %+v", a.ID, a.Subject, a.Device,
				a.Site, a.Type, a.State, a.Priority, a.Count, len(a.Timeline), want)
		}
		// The timeline the old file held comes first, unchanged.
		was := old[want.ID]
		if was == nil || len(a.Timeline) < len(was.Timeline) {
			t.Errorf("alarm %s: %d timeline entries, the old file had %v", a.ID, len(a.Timeline), was)
			continue
		}
		for i, e := range was.Timeline {
			if got := a.Timeline[i]; got.Action != e.Action || !got.At.Equal(e.At) || got.Note != e.Note || got.State != e.State {
				t.Errorf("alarm %s timeline[%d]: %+v, was %+v", a.ID, i, got, e)
			}
		}
	}
	if len(incidents) != 1 {
		t.Fatalf("the fixture has %d incidents, want 1", len(incidents))
	}
	if ins := incidentsOf(t, g, 1); len(ins) != 1 || ins[0].ID != incidents[0] {
		t.Errorf("open site alarms: %+v, want %s", ins, incidents[0])
	}
	// The device-alarms endpoint lists no site alarm.
	var hist struct{ Alarms []alerting.Alarm }
	if code := g.Admin.Do("GET", "/api/v1/devices/smk-bed/alarms", nil, &hist); code != 200 {
		t.Fatalf("GET device alarms: HTTP %d", code)
	}
	for _, a := range hist.Alarms {
		if a.IsSite() || a.Device != "smk-bed" {
			t.Errorf("smk-bed's alarms list %s about %s %q", a.ID, a.Subject, a.Device)
		}
	}
	// Devices stored before the life cycle existed count as active: they
	// were supervised before the upgrade.
	var dev httpapi.DeviceView
	if code := g.Admin.Do("GET", "/api/v1/devices/smk-bed", nil, &dev); code != 200 || dev.State != "active" {
		t.Errorf("smk-bed from an old state file: HTTP %d, state %q, want active", code, dev.State)
	}
	var duty httpapi.DutyView
	if code := g.Admin.Do("GET", "/api/v1/duty", nil, &duty); code != 200 {
		t.Fatalf("GET /api/v1/duty: HTTP %d", code)
	}
	got := map[string]string{}
	for _, sd := range duty.OnDuty {
		for _, op := range sd.Operators {
			got[op.ID] = sd.Site
		}
	}
	for op, site := range m.OnDuty {
		if got[op] != site {
			t.Errorf("%s on duty at %q, want %q", op, got[op], site)
		}
	}
	// The old file's users still log in.
	g.Login("li", "li-long-password")

	// The migration is durable: the file itself now holds the new spelling.
	g.Close()
	now := readAlarms(t, filepath.Join(dir, "anxin.db"))
	for _, id := range incidents {
		if a := now[id]; a == nil || !a.IsSite() || a.Device != "" || a.Site != "home-12" {
			t.Errorf("stored incident %s: %+v", id, a)
		}
	}
	db, err := bolt.Open(filepath.Join(dir, "anxin.db"), 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var keys []string
	db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("incidents")).ForEach(func(k, _ []byte) error {
			keys = append(keys, string(k))
			return nil
		})
	})
	if !slices.Equal(keys, []string{"home-12\x00fire"}) {
		t.Errorf("incident records %q, want the fire at home-12 under its new key", keys)
	}
}

// readAlarms reads every alarm of a state file, by id, straight from the file.
func readAlarms(t *testing.T, path string) map[string]*alerting.Alarm {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string]*alerting.Alarm{}
	err = db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("alarms")).ForEach(func(k, v []byte) error {
			var a alerting.Alarm
			if err := json.Unmarshal(v, &a); err != nil {
				return err
			}
			out[string(k)] = &a
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func gunzip(t *testing.T, from, to string) {
	t.Helper()
	f, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, zr); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}
