package gateway_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/gateway/httpapi"
	"github.com/anxin-care/anxin/gateway/registry"
	"github.com/anxin-care/anxin/gateway/state"
)

// placeTree builds a site tree down to a bed, a resident living in the
// bedroom, and returns the gateway. Site ids:
//
//	xj (region, Asia/Urumqi) › qs-county › qs-town › qs-village › qs-12 (home)
//	› qs-12-bedroom (room) › qs-12-bed1 (bed); qs-12-kitchen (room)
//
// Resident r-0012 王秀英 lives in qs-12-bedroom.
func placeTree(t *testing.T) *gatewaytest.Gateway {
	t.Helper()
	return placeTreeOn(t, gateway.Config{})
}

// placeTreeOn is placeTree on a gateway of cfg.
func placeTreeOn(t *testing.T, cfg gateway.Config) *gatewaytest.Gateway {
	t.Helper()
	g := gatewaytest.Start(t, cfg)
	for _, s := range []httpapi.NewSite{
		{ID: "xj", Name: "新疆", Level: "region", TimeZone: "Asia/Urumqi"},
		{ID: "qs-county", Name: "青山县", Level: "county", Parent: "xj"},
		{ID: "qs-town", Name: "青山镇", Level: "township", Parent: "qs-county"},
		{ID: "qs-village", Name: "青山村", Level: "village", Parent: "qs-town"},
		{ID: "qs-12", Name: "12号", Level: "home", Parent: "qs-village", Address: "青山村12号"},
		{ID: "qs-12-bedroom", Name: "卧室", Level: "room", Parent: "qs-12"},
		{ID: "qs-12-bed1", Name: "床1", Level: "bed", Parent: "qs-12-bedroom"},
		{ID: "qs-12-kitchen", Name: "厨房", Level: "room", Parent: "qs-12"},
	} {
		var e httpapi.FieldErrorBody
		if code := g.Admin.Do("POST", "/api/v1/sites", s, &e); code != 201 {
			t.Fatalf("add site %s: HTTP %d %s", s.ID, code, e.Error)
		}
	}
	var e httpapi.FieldErrorBody
	if code := g.Admin.Do("POST", "/api/v1/residents", wang(), &e); code != 201 {
		t.Fatalf("add resident: HTTP %d %s", code, e.Error)
	}
	return g
}

func wang() httpapi.NewResident {
	return httpapi.NewResident{ID: "r-0012", Name: "王秀英", BirthYear: 1941, Sex: "female",
		Conditions: []string{"高血压", "糖尿病"}, Language: "zh-CN", Home: "qs-12-bedroom",
		Contacts: []registry.Contact{
			{Name: "李明", Phone: "+86 138 0000 1234", Relation: "儿子"},
			{Name: "李红", Phone: "139-0000-5678", Relation: "女儿"},
			{Name: "张医生", Phone: "0991 1234567", Relation: "村医"},
		}}
}

func TestSiteTree(t *testing.T) {
	g := placeTree(t)
	g.ProvisionWith(map[string]any{"id": "btn-1", "kind": "call_button", "site": "qs-12-bed1", "resident": "r-0012"})
	g.ProvisionWith(map[string]any{"id": "smk-1", "kind": "smoke_detector", "site": "qs-12-kitchen"})

	var tree struct{ Tree []registry.SiteNode }
	if code := g.Admin.Do("GET", "/api/v1/sites/qs-village/tree", nil, &tree); code != 200 {
		t.Fatalf("tree: HTTP %d", code)
	}
	v := tree.Tree[0]
	if v.ID != "qs-village" || v.Devices != 2 || len(v.Children) != 1 || v.Children[0].Name != "12号" {
		t.Fatalf("tree root %+v", v)
	}
	home := v.Children[0]
	if len(home.Children) != 2 || home.Children[0].ID != "qs-12-bedroom" || home.Children[0].Devices != 1 ||
		home.Children[0].Children[0].Devices != 1 {
		t.Fatalf("home subtree %+v", home)
	}

	var site httpapi.SiteView
	g.Admin.Do("GET", "/api/v1/sites/qs-12-bed1", nil, &site)
	if site.Path != "新疆 / 青山县 / 青山镇 / 青山村 / 12号 / 卧室 / 床1" {
		t.Fatalf("path %q", site.Path)
	}
	if got := g.Location("btn-1"); got.String() != site.Path || got.TimeZone != "Asia/Urumqi" ||
		got.Resident == nil || got.Resident.Name != "王秀英" || !slices.Equal(got.SiteIDs()[:2], []string{"qs-12-bed1", "qs-12-bedroom"}) {
		t.Fatalf("Location(btn-1) = %+v", got)
	}

	tests := []struct {
		name   string
		method string
		path   string
		body   any
		status int
		field  string
	}{
		{"bad id", "POST", "/api/v1/sites", httpapi.NewSite{ID: "QS Village", Name: "x", Level: "village", Parent: "qs-town"}, 400, "id"},
		{"no name", "POST", "/api/v1/sites", httpapi.NewSite{ID: "x1", Level: "village", Parent: "qs-town"}, 400, "name"},
		{"unknown level", "POST", "/api/v1/sites", httpapi.NewSite{ID: "x1", Name: "x", Level: "hamlet", Parent: "qs-town"}, 400, "level"},
		{"village under county", "POST", "/api/v1/sites", httpapi.NewSite{ID: "x1", Name: "x", Level: "village", Parent: "qs-county"}, 400, "parent"},
		{"room without parent", "POST", "/api/v1/sites", httpapi.NewSite{ID: "x1", Name: "x", Level: "room"}, 400, "parent"},
		{"region with parent", "POST", "/api/v1/sites", httpapi.NewSite{ID: "x1", Name: "x", Level: "region", Parent: "xj"}, 400, "parent"},
		{"unknown parent", "POST", "/api/v1/sites", httpapi.NewSite{ID: "x1", Name: "x", Level: "bed", Parent: "nowhere"}, 400, "parent"},
		{"bad time zone", "POST", "/api/v1/sites", httpapi.NewSite{ID: "x1", Name: "x", Level: "region", TimeZone: "Mars/Olympus"}, 400, "time_zone"},
		{"site twice", "POST", "/api/v1/sites", httpapi.NewSite{ID: "qs-12", Name: "x", Level: "home", Parent: "qs-village"}, 409, "id"},
		{"unknown body field", "POST", "/api/v1/sites", map[string]any{"id": "x1", "name": "x", "level": "region", "colour": "red"}, 400, ""},
		{"institution under township", "POST", "/api/v1/sites", httpapi.NewSite{ID: "qs-jly", Name: "青山敬老院", Level: "institution", Parent: "qs-town"}, 201, ""},
		{"room in institution", "POST", "/api/v1/sites", httpapi.NewSite{ID: "qs-jly-101", Name: "101", Level: "room", Parent: "qs-jly"}, 201, ""},
		{"cycle", "PATCH", "/api/v1/sites/qs-town", map[string]any{"parent": "qs-village"}, 400, "parent"},
		{"level not fitting parent", "PATCH", "/api/v1/sites/qs-12-bedroom", map[string]any{"level": "bed"}, 400, "parent"},
		{"level not fitting children", "PATCH", "/api/v1/sites/qs-jly", map[string]any{"level": "village"}, 400, "level"},
		{"village becomes a community", "PATCH", "/api/v1/sites/qs-village", map[string]any{"level": "community"}, 200, ""},
		{"delete with children", "DELETE", "/api/v1/sites/qs-12", nil, 409, ""},
		{"delete with devices", "DELETE", "/api/v1/sites/qs-12-kitchen", nil, 409, ""},
		{"delete with resident", "DELETE", "/api/v1/sites/qs-12-bedroom", nil, 409, ""},
		{"rename", "PATCH", "/api/v1/sites/qs-12", map[string]any{"name": "12 号院"}, 200, ""},
		{"delete empty room", "DELETE", "/api/v1/sites/qs-jly-101", nil, 204, ""},
		{"delete unknown", "DELETE", "/api/v1/sites/qs-jly-101", nil, 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e httpapi.FieldErrorBody
			code := g.Admin.Do(tt.method, tt.path, tt.body, &e)
			if code != tt.status || e.Field != tt.field {
				t.Fatalf("HTTP %d field %q (%s), want %d field %q", code, e.Field, e.Error, tt.status, tt.field)
			}
			if tt.field != "" && !strings.HasPrefix(e.Error, tt.field+": ") {
				t.Fatalf("error %q does not begin with the field", e.Error)
			}
		})
	}
}

func TestResidentValidation(t *testing.T) {
	g := placeTree(t)
	var got httpapi.ResidentView
	if code := g.Admin.Do("GET", "/api/v1/residents/r-0012", nil, &got); code != 200 {
		t.Fatalf("get: HTTP %d", code)
	}
	if got.Name != "王秀英" || got.Incomplete || got.Age < 80 || got.HomePath != "新疆 / 青山县 / 青山镇 / 青山村 / 12号 / 卧室" {
		t.Fatalf("resident %+v", got)
	}
	with := func(change func(*httpapi.NewResident)) httpapi.NewResident {
		r := wang()
		r.ID = "r-new"
		change(&r)
		return r
	}
	tests := []struct {
		name   string
		body   any
		status int
		field  string
	}{
		{"no name", with(func(r *httpapi.NewResident) { r.Name = " " }), 400, "name"},
		{"bad id", with(func(r *httpapi.NewResident) { r.ID = "R 1" }), 400, "id"},
		{"born in the future", with(func(r *httpapi.NewResident) { r.BirthYear = 2999 }), 400, "birth_year"},
		{"bad sex", with(func(r *httpapi.NewResident) { r.Sex = "f" }), 400, "sex"},
		{"bad language", with(func(r *httpapi.NewResident) { r.Language = "chinese!" }), 400, "language"},
		{"no contacts", with(func(r *httpapi.NewResident) { r.Contacts = nil }), 400, "contacts"},
		{"six contacts", with(func(r *httpapi.NewResident) {
			r.Contacts = slices.Repeat(r.Contacts[:1], 6)
		}), 400, "contacts"},
		{"bad phone", with(func(r *httpapi.NewResident) { r.Contacts[1].Phone = "call me" }), 400, "contacts[1].phone"},
		{"no relation", with(func(r *httpapi.NewResident) { r.Contacts[2].Relation = "" }), 400, "contacts[2].relation"},
		{"no home", with(func(r *httpapi.NewResident) { r.Home = "" }), 400, "home"},
		{"home is a village", with(func(r *httpapi.NewResident) { r.Home = "qs-village" }), 400, "home"},
		{"twice", wang(), 409, "id"},
		{"uyghur speaker", with(func(r *httpapi.NewResident) { r.ID, r.Name, r.Language = "r-0013", "阿依古丽", "ug" }), 201, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e httpapi.FieldErrorBody
			if code := g.Admin.Do("POST", "/api/v1/residents", tt.body, &e); code != tt.status || e.Field != tt.field {
				t.Fatalf("HTTP %d field %q (%s), want %d field %q", code, e.Field, e.Error, tt.status, tt.field)
			}
		})
	}

	t.Run("one contact is kept but incomplete", func(t *testing.T) {
		r := with(func(r *httpapi.NewResident) { r.ID, r.Contacts = "r-0014", r.Contacts[:1] })
		var v httpapi.ResidentView
		if code := g.Admin.Do("POST", "/api/v1/residents", r, &v); code != 201 || !v.Incomplete || len(v.Warnings) != 1 {
			t.Fatalf("HTTP %d, %+v: want 201, incomplete with a warning", code, v)
		}
	})
	t.Run("patch replaces contacts", func(t *testing.T) {
		var v httpapi.ResidentView
		body := map[string]any{"contacts": wang().Contacts}
		if code := g.Admin.Do("PATCH", "/api/v1/residents/r-0014", body, &v); code != 200 || v.Incomplete || v.Name != "王秀英" {
			t.Fatalf("HTTP %d, %+v", code, v)
		}
	})
	t.Run("resident in use", func(t *testing.T) {
		g.ProvisionWith(map[string]any{"id": "band-1", "kind": "safety_band", "resident": "r-0014"})
		if code := g.Admin.Do("DELETE", "/api/v1/residents/r-0014", nil, nil); code != 409 {
			t.Fatalf("delete resident with a device: HTTP %d, want 409", code)
		}
	})
}

func TestDeviceRegistryValidation(t *testing.T) {
	g := placeTree(t)
	g.ProvisionWith(map[string]any{"id": "smk-1", "kind": "smoke_detector", "format": "zigbee2mqtt", "ref": "kitchen_smoke", "site": "qs-12-kitchen"})
	tests := []struct {
		name   string
		body   map[string]any
		status int
		field  string
	}{
		{"site unknown", map[string]any{"id": "d-1", "kind": "call_button", "site": "qs-99"}, 400, "site"},
		{"site is a home", map[string]any{"id": "d-1", "kind": "call_button", "site": "qs-12"}, 400, "site"},
		{"resident unknown", map[string]any{"id": "d-1", "kind": "call_button", "resident": "r-9"}, 400, "resident"},
		{"bad kind", map[string]any{"id": "d-1", "kind": "toaster"}, 400, "kind"},
		{"bad format", map[string]any{"id": "d-1", "kind": "call_button", "format": "lora"}, 400, "format"},
		{"native with ref", map[string]any{"id": "d-1", "kind": "call_button", "ref": "x"}, 400, "ref"},
		{"ref with wildcard", map[string]any{"id": "d-1", "kind": "call_button", "format": "zigbee2mqtt", "ref": "a/+"}, 400, "ref"},
		{"ref taken", map[string]any{"id": "d-1", "kind": "smoke_detector", "format": "zigbee2mqtt", "ref": "kitchen_smoke"}, 409, "ref"},
		{"bad supervision", map[string]any{"id": "d-1", "kind": "call_button", "supervision": "weekly"}, 400, "supervision"},
		{"same ref, other vendor", map[string]any{"id": "d-2", "kind": "safety_band", "format": "vendor_json:acme", "ref": "kitchen_smoke"}, 201, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e httpapi.FieldErrorBody
			if code := g.Admin.Do("POST", "/api/v1/devices", tt.body, &e); code != tt.status || e.Field != tt.field {
				t.Fatalf("HTTP %d field %q (%s), want %d field %q", code, e.Field, e.Error, tt.status, tt.field)
			}
		})
	}

	var d httpapi.DeviceView
	g.Admin.Do("GET", "/api/v1/devices/smk-1", nil, &d)
	if d.Supervision != "zigbee_battery" || d.SitePath != "新疆 / 青山县 / 青山镇 / 青山村 / 12号 / 厨房" {
		t.Fatalf("smk-1 %+v: want class zigbee_battery and the kitchen's path", d)
	}
	if got, ok := g.Registry().LookupRef("zigbee2mqtt", "kitchen_smoke"); !ok || got.ID != "smk-1" {
		t.Fatalf("LookupRef = %v %v", got.ID, ok)
	}
	if got, _ := g.Registry().LookupRef("vendor_json:acme", "kitchen_smoke"); got.ID != "d-2" {
		t.Fatalf("LookupRef(vendor) = %v", got.ID)
	}

	t.Run("patch", func(t *testing.T) {
		var v httpapi.DeviceView
		body := map[string]any{"site": "qs-12-bed1", "resident": "r-0012", "model": "HS1SA-E", "test": true}
		if code := g.Admin.Do("PATCH", "/api/v1/devices/smk-1", body, &v); code != 200 || v.Site != "qs-12-bed1" || !v.Test || v.ResidentName != "王秀英" {
			t.Fatalf("HTTP %d, %+v", code, v)
		}
		var e httpapi.FieldErrorBody
		if code := g.Admin.Do("PATCH", "/api/v1/devices/smk-1", map[string]any{"site": "qs-town"}, &e); code != 400 || e.Field != "site" {
			t.Fatalf("patch to a township: HTTP %d %+v", code, e)
		}
		if code := g.Admin.Do("PATCH", "/api/v1/devices/smk-1", map[string]any{"kind": "gas_detector"}, &e); code != 400 || !strings.Contains(e.Error, `"kind"`) {
			t.Fatalf("patch kind: HTTP %d %+v", code, e)
		}
	})
	t.Run("walk test on and off", func(t *testing.T) {
		for _, on := range []bool{true, false} {
			var v httpapi.DeviceView
			if code := g.Admin.Do("POST", "/api/v1/devices/smk-1/test", map[string]bool{"on": on}, &v); code != 200 || v.Test != on {
				t.Fatalf("test %v: HTTP %d, %+v", on, code, v)
			}
		}
		var e httpapi.FieldErrorBody
		if code := g.Admin.Do("POST", "/api/v1/devices/smk-1/test", map[string]any{}, &e); code != 400 || e.Field != "on" {
			t.Fatalf("test without on: HTTP %d %+v", code, e)
		}
	})
	t.Run("list filters", func(t *testing.T) {
		var out struct{ Devices []httpapi.DeviceView }
		g.Admin.Do("GET", "/api/v1/devices?site=qs-12", nil, &out)
		if len(out.Devices) != 1 || out.Devices[0].ID != "smk-1" {
			t.Fatalf("devices under qs-12: %+v", out.Devices)
		}
		g.Admin.Do("GET", "/api/v1/devices?resident=r-0012", nil, &out)
		if len(out.Devices) != 1 {
			t.Fatalf("devices of r-0012: %+v", out.Devices)
		}
	})
}

// TestInstallerProvisionsOperatorReads: installers (and admins) change
// the registry; operators read it and nothing else; only installers and
// admins read the audit trail.
func TestInstallerProvisionsOperatorReads(t *testing.T) {
	g := placeTree(t)
	inst := g.AddUser("ayi", state.RoleInstaller)
	op := g.AddUser("duty", state.RoleOperator)
	site := httpapi.NewSite{ID: "qs-13", Name: "13号", Level: "home", Parent: "qs-village"}
	res := wang()
	res.ID = "r-0013"
	tests := []struct {
		name   string
		c      *gatewaytest.Client
		method string
		path   string
		body   any
		status int
	}{
		{"operator may not add a site", op, "POST", "/api/v1/sites", site, 403},
		{"operator may not add a resident", op, "POST", "/api/v1/residents", res, 403},
		{"operator may not patch a device", op, "PATCH", "/api/v1/devices/btn-1", map[string]any{"model": "x"}, 403},
		{"operator may not replace", op, "POST", "/api/v1/devices/btn-1/replace", map[string]any{}, 403},
		{"operator may not walk-test", op, "POST", "/api/v1/devices/btn-1/test", map[string]bool{"on": true}, 403},
		{"operator may not delete a site", op, "DELETE", "/api/v1/sites/qs-12-bed1", nil, 403},
		{"operator may not read the audit", op, "GET", "/api/v1/audit", nil, 403},
		{"operator reads sites", op, "GET", "/api/v1/sites", nil, 200},
		{"operator reads the tree", op, "GET", "/api/v1/sites?tree=1", nil, 200},
		{"operator reads residents", op, "GET", "/api/v1/residents/r-0012", nil, 200},
		{"operator reads devices", op, "GET", "/api/v1/devices/btn-1", nil, 200},
		{"installer adds a site", inst, "POST", "/api/v1/sites", site, 201},
		{"installer adds a resident", inst, "POST", "/api/v1/residents", res, 201},
		{"installer patches a device", inst, "PATCH", "/api/v1/devices/btn-1", map[string]any{"model": "CB-300"}, 200},
		{"installer walk-tests", inst, "POST", "/api/v1/devices/btn-1/test", map[string]bool{"on": true}, 200},
		{"installer reads the audit", inst, "GET", "/api/v1/audit?object=device:btn-1", nil, 200},
		{"installer may not ack alarms", inst, "GET", "/api/v1/alarms", nil, 403},
		{"installer may not add users", inst, "POST", "/api/v1/users", map[string]any{"name": "x", "role": "admin", "password": "0123456789"}, 403},
	}
	g.ProvisionWith(map[string]any{"id": "btn-1", "kind": "call_button", "site": "qs-12-bed1", "resident": "r-0012"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code := tt.c.Do(tt.method, tt.path, tt.body, nil); code != tt.status {
				t.Fatalf("HTTP %d, want %d", code, tt.status)
			}
		})
	}
}

func TestAuditTrail(t *testing.T) {
	g := placeTree(t)
	inst := g.AddUser("ayi", state.RoleInstaller)
	var pd httpapi.ProvisionedDevice
	if code := inst.Do("POST", "/api/v1/devices", map[string]any{"id": "btn-1", "kind": "call_button", "site": "qs-12-bed1"}, &pd); code != 201 {
		t.Fatalf("add: HTTP %d", code)
	}
	inst.Do("PATCH", "/api/v1/devices/btn-1", map[string]any{"resident": "r-0012"}, nil)
	inst.Do("POST", "/api/v1/devices/btn-1/replace", map[string]any{"new_id": "btn-2", "model": "CB-300"}, nil)
	if code := inst.Do("DELETE", "/api/v1/devices/btn-2", nil, nil); code != 204 {
		t.Fatalf("delete: HTTP %d", code)
	}
	inst.Do("PATCH", "/api/v1/sites/qs-12", map[string]any{"name": "12 号院"}, nil)

	entries := func(object string) []state.AuditEntry {
		t.Helper()
		var out struct{ Entries []state.AuditEntry }
		if code := inst.Do("GET", "/api/v1/audit?object="+object, nil, &out); code != 200 {
			t.Fatalf("audit: HTTP %d", code)
		}
		return out.Entries
	}
	field := func(raw json.RawMessage, name string) any {
		var m map[string]any
		json.Unmarshal(raw, &m)
		return m[name]
	}
	b1 := entries("device:btn-1")
	if len(b1) != 3 {
		t.Fatalf("btn-1 has %d entries, want add, patch, replaced: %+v", len(b1), b1)
	}
	add, patch, replaced := b1[2], b1[1], b1[0] // newest first
	if add.Action != "add" || add.Who != "ayi" || add.Before != nil || field(add.After, "site") != "qs-12-bed1" {
		t.Errorf("add entry %+v", add)
	}
	if patch.Action != "patch" || field(patch.Before, "resident") != nil || field(patch.After, "resident") != "r-0012" {
		t.Errorf("patch entry %+v", patch)
	}
	if replaced.Action != "replaced" || field(replaced.After, "replaced_by") != "btn-2" || replaced.Note != "replaced by btn-2" {
		t.Errorf("replaced entry %+v", replaced)
	}
	b2 := entries("device:btn-2")
	if len(b2) != 2 || b2[1].Action != "replace" || field(b2[1].After, "replaces") != "btn-1" ||
		b2[0].Action != "remove" || field(b2[0].After, "retired") == nil || field(b2[0].Before, "model") != "CB-300" {
		t.Fatalf("btn-2 entries %+v", b2)
	}
	if s := entries("site:qs-12"); len(s) != 2 || s[0].Action != "patch" || field(s[0].Before, "name") != "12号" || field(s[0].After, "name") != "12 号院" {
		t.Fatalf("site entries %+v", s)
	}
	var all struct{ Entries []state.AuditEntry }
	g.Admin.Do("GET", "/api/v1/audit?limit=1000", nil, &all)
	for _, e := range all.Entries {
		if strings.Contains(string(e.Before)+string(e.After), "password") || strings.Contains(string(e.After), pd.Password) {
			t.Fatalf("audit entry holds a secret: %+v", e)
		}
	}
	if n := len(all.Entries); n < 15 || all.Entries[0].Object != "site:qs-12" || all.Entries[n-1].Object != "site:xj" {
		t.Fatalf("%d entries, first %s last %s: want newest first, from site:qs-12 back to site:xj", n, all.Entries[0].Object, all.Entries[n-1].Object)
	}
	var page struct{ Entries []state.AuditEntry }
	g.Admin.Do("GET", "/api/v1/audit?limit=2&before="+all.Entries[1].ID, nil, &page)
	if len(page.Entries) != 2 || page.Entries[0].ID != all.Entries[2].ID {
		t.Fatalf("page before %s: %+v", all.Entries[1].ID, page.Entries)
	}
}

// TestRegistrySurvivesRestart: sites, residents, devices and references
// come back from the state file.
func TestRegistrySurvivesRestart(t *testing.T) {
	for _, b := range gatewaytest.Backends {
		t.Run(b, func(t *testing.T) { testRegistrySurvivesRestart(t, b) })
	}
}

func testRegistrySurvivesRestart(t *testing.T, backend string) {
	g := placeTreeOn(t, gateway.Config{State: gatewaytest.State(t, backend)})
	g.ProvisionWith(map[string]any{"id": "smk-1", "kind": "smoke_detector", "format": "zigbee2mqtt", "ref": "kitchen smoke", "site": "qs-12-kitchen"})
	g.Admin.Do("POST", "/api/v1/devices/smk-1/replace", map[string]any{"new_id": "smk-2"}, nil)
	g = g.Restart()
	if d, ok := g.Registry().LookupRef("zigbee2mqtt", "kitchen smoke"); !ok || d.ID != "smk-2" || d.Replaces != "smk-1" {
		t.Fatalf("after restart LookupRef = %+v %v", d, ok)
	}
	if l := g.Location("smk-2"); l.String() != "新疆 / 青山县 / 青山镇 / 青山村 / 12号 / 厨房" {
		t.Fatalf("after restart Location = %q", l)
	}
	if r, ok := g.Registry().Residents().Get("r-0012"); !ok || len(r.Contacts) != 3 {
		t.Fatalf("after restart resident = %+v", r)
	}
}
