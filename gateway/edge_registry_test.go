package gateway_test

import (
	"strings"
	"testing"

	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/gateway/httpapi"
)

// TestDeviceEdgeValidation: a device's edge must name an edge box in
// service; a box serves a home, an institution, a room or a bed and has no
// edge of its own.
func TestDeviceEdgeValidation(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	g.SeedSites()
	g.ProvisionWith(map[string]any{"id": "box-1", "kind": "edge_box", "site": "home-12"})
	g.ProvisionWith(map[string]any{"id": "btn-x", "kind": "call_button", "site": "home-12-bedroom"})
	tests := []struct {
		name      string
		body      map[string]any
		wantCode  int
		wantField string
		wantText  string
	}{
		{"behind a box", map[string]any{"id": "btn-1", "kind": "call_button", "site": "home-12-bedroom", "edge": "box-1"}, 201, "", ""},
		{"box at a room", map[string]any{"id": "box-2", "kind": "edge_box", "site": "home-12-kitchen"}, 201, "", ""},
		{"unknown box", map[string]any{"id": "btn-2", "kind": "call_button", "edge": "box-9"}, 400, "edge", "box-9"},
		{"edge is not a box", map[string]any{"id": "btn-3", "kind": "call_button", "edge": "btn-x"}, 400, "edge", "not an edge_box"},
		{"a box behind a box", map[string]any{"id": "box-3", "kind": "edge_box", "site": "home-12", "edge": "box-1"}, 400, "edge", "directly"},
		{"box at a village", map[string]any{"id": "box-4", "kind": "edge_box", "site": "qs-village"}, 400, "site", "edge box serves"},
		{"button at a home", map[string]any{"id": "btn-4", "kind": "call_button", "site": "home-12"}, 400, "site", "room or a bed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out struct{ Error, Field string }
			code := g.Admin.Do("POST", "/api/v1/devices", tt.body, &out)
			if code != tt.wantCode || out.Field != tt.wantField || !strings.Contains(out.Error, tt.wantText) {
				t.Fatalf("HTTP %d field %q error %q; want %d field %q containing %q", code, out.Field, out.Error, tt.wantCode, tt.wantField, tt.wantText)
			}
		})
	}
	t.Run("the edge is shown and patched", func(t *testing.T) {
		var d httpapi.DeviceView
		if code := g.Admin.Do("PATCH", "/api/v1/devices/btn-x", map[string]any{"edge": "box-2"}, &d); code != 200 || d.Edge != "box-2" {
			t.Fatalf("PATCH edge: HTTP %d, edge %q", code, d.Edge)
		}
		var bad struct{ Error, Field string }
		if code := g.Admin.Do("PATCH", "/api/v1/devices/btn-x", map[string]any{"edge": "btn-1"}, &bad); code != 400 || bad.Field != "edge" {
			t.Fatalf("PATCH edge to a button: HTTP %d %+v, want 400 on edge", code, bad)
		}
	})
	t.Run("a box with devices behind it is not removed", func(t *testing.T) {
		var out struct{ Error string }
		if code := g.Admin.Do("DELETE", "/api/v1/devices/box-1", nil, &out); code != 409 || !strings.Contains(out.Error, "btn-1") {
			t.Fatalf("DELETE box-1: HTTP %d %q, want 409 naming btn-1", code, out.Error)
		}
	})
}

// TestImportEdgeColumn: the CSV's edge column, a box and its devices in one
// file, and --edge (?edge=) for rows that leave the column empty.
func TestImportEdgeColumn(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	g.SeedSites()
	const csv = `id,kind,site,edge
box-1,edge_box,home-12,
btn-1,call_button,home-12-bedroom,box-1
smk-1,smoke_detector,home-12-kitchen,
`
	code, res := postCSV(t, g, "?edge=box-1", csv, "text/csv")
	if code != 201 || len(res.Created) != 3 {
		t.Fatalf("import: HTTP %d %+v", code, res)
	}
	for id, want := range map[string]string{"box-1": "", "btn-1": "box-1", "smk-1": "box-1"} {
		var d httpapi.DeviceView
		g.Admin.Do("GET", "/api/v1/devices/"+id, nil, &d)
		if d.Edge != want {
			t.Errorf("%s: edge %q, want %q", id, d.Edge, want)
		}
	}
	const bad = `id,kind,site,edge
box-2,edge_box,qs-village,
btn-2,call_button,home-12-bedroom,box-2
btn-3,call_button,home-12-bedroom,btn-1
`
	code, res = postCSV(t, g, "?partial=true", bad, "text/csv")
	got := map[int]string{}
	for _, e := range res.Errors {
		got[e.Line] = e.Field
	}
	if len(res.Created) != 0 || got[2] != "site" || got[3] != "edge" || got[4] != "edge" {
		t.Fatalf("import of bad edges: HTTP %d, created %d, errors %+v; want lines 2 site, 3 and 4 edge", code, len(res.Created), res.Errors)
	}
}
