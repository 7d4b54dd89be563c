package gateway_test

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
)

// TestStateFixtureOpens opens a state file written by older code
// (testdata/state-v1, made by TestMakeStateFixture at the commit its
// manifest names) and finds everything it held: users, sites, residents,
// devices, every alarm with its state, count and timeline, and who was on
// duty.
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
	for _, want := range m.Alarms {
		a := alarm(t, g, want.ID)
		if a.Device != want.Device || a.Site != want.Site || a.Type != want.Type || string(a.State) != want.State ||
			a.Priority.String() != want.Priority || a.Count != want.Count || len(a.Timeline) < want.Steps {
			t.Errorf("alarm %s: %s %s %s %s %s count %d, %d steps; want %+v", a.ID, a.Device, a.Site, a.Type, a.State,
				a.Priority, a.Count, len(a.Timeline), want)
		}
	}
	var duty gateway.DutyView
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
