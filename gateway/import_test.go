package gateway_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/gateway/httpapi"
	"github.com/anxin-care/anxin/gateway/state"
)

// postCSV sends a CSV body to the import endpoint.
func postCSV(t *testing.T, g *gatewaytest.Gateway, query, body, contentType string) (int, httpapi.ImportResult) {
	t.Helper()
	req, _ := http.NewRequest("POST", g.BaseURL+"/api/v1/devices/import"+query, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+g.Admin.Token)
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var res httpapi.ImportResult
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatalf("HTTP %d, body %q: %v", resp.StatusCode, b, err)
	}
	return resp.StatusCode, res
}

func deviceCount(t *testing.T, g *gatewaytest.Gateway) int {
	t.Helper()
	var out struct{ Count int }
	g.Admin.Do("GET", "/api/v1/devices", nil, &out)
	return out.Count
}

const badCSV = `id,kind,vendor,model,format,ref,site,resident,test
btn-1,call_button,Anxin,CB-200,native,,qs-12-bed1,r-0012,false
btn-2,toaster,Anxin,CB-200,,,qs-12-bed1,,
btn-3,call_button,,,,,qs-99,,
btn-1,call_button,,,,,,,
btn-5,call_button,,,,,,,maybe
btn-6,call_button
smk-1,smoke_detector,Heiman,HS1SA,zigbee2mqtt,kitchen_smoke,qs-12-kitchen,,yes
smk-2,smoke_detector,Heiman,HS1SA,zigbee2mqtt,kitchen_smoke,qs-12-kitchen,,
btn-9,call_button,,,,,qs-12,r-9,
`

func TestImportRefusesBadRows(t *testing.T) {
	g := placeTree(t)
	code, res := postCSV(t, g, "", badCSV, "text/csv; charset=utf-8")
	want := []httpapi.ImportRowError{
		{Line: 3, Field: "kind"},
		{Line: 4, Field: "site"},
		{Line: 5, Field: "id"},
		{Line: 6, Field: "test"},
		{Line: 7, Field: ""},
		{Line: 9, Field: "ref"},
		{Line: 10, Field: "site"},
		{Line: 10, Field: "resident"}, // every error of a row, not only its first
	}
	if code != 422 || len(res.Errors) != len(want) || res.Count != 0 {
		t.Fatalf("HTTP %d, %d created, errors %+v: want 422, nothing created, %d errors", code, res.Count, res.Errors, len(want))
	}
	for i, w := range want {
		if got := res.Errors[i]; got.Line != w.Line || got.Field != w.Field || got.Error == "" {
			t.Errorf("error %d = %+v, want line %d field %q", i, got, w.Line, w.Field)
		}
	}
	if n := deviceCount(t, g); n != 0 {
		t.Fatalf("%d devices after a refused import, want 0", n)
	}

	t.Run("dry run", func(t *testing.T) {
		code, res := postCSV(t, g, "?dry_run=true", badCSV, "text/csv")
		if code != 200 || !res.DryRun || len(res.Errors) != len(want) || deviceCount(t, g) != 0 {
			t.Fatalf("HTTP %d, %+v", code, res)
		}
	})
	t.Run("partial", func(t *testing.T) {
		code, res := postCSV(t, g, "?partial=true", badCSV, "text/csv")
		ids := []string{}
		for _, c := range res.Created {
			ids = append(ids, c.ID)
			if len(c.Password) < 20 {
				t.Errorf("%s: password %q", c.ID, c.Password)
			}
		}
		if code != 201 || !slices.Equal(ids, []string{"btn-1", "smk-1"}) || len(res.Errors) != len(want) || res.MQTTBroker == "" {
			t.Fatalf("HTTP %d, created %v, %d errors: want 201, btn-1 and smk-1", code, ids, len(res.Errors))
		}
		d, _ := g.Registry().Get("smk-1")
		if !d.Test || d.Ref != "kitchen_smoke" || d.Vendor != "Heiman" || d.Supervision != "zigbee_battery" {
			t.Fatalf("smk-1 imported as %+v", d)
		}
		var audit struct{ Entries []state.AuditEntry }
		g.Admin.Do("GET", "/api/v1/audit?object=device:smk-1", nil, &audit)
		if len(audit.Entries) != 1 || audit.Entries[0].Action != "import" {
			t.Fatalf("audit of an imported device: %+v", audit.Entries)
		}
	})
	t.Run("file problems", func(t *testing.T) {
		for _, tt := range []struct {
			name, body, ctype string
			status            int
			line              int
			field             string
		}{
			{"no header", "", "text/csv", 422, 1, ""},
			{"unknown column", "id,kind,colour\nx,call_button,red\n", "text/csv", 422, 1, "colour"},
			{"missing kind column", "id,model\nx,CB\n", "text/csv", 422, 1, "kind"},
			{"header only", "id,kind\n", "text/csv", 422, 2, ""},
			{"GBK", "id,kind,location\nx-1,call_button,\xc7\xe0\xc9\xbd\n", "text/csv", 422, 2, ""},
			{"JSON body", `{"id":"x"}`, "application/json", 415, 0, ""},
		} {
			t.Run(tt.name, func(t *testing.T) {
				code, res := postCSV(t, g, "", tt.body, tt.ctype)
				if code != tt.status {
					t.Fatalf("HTTP %d %+v, want %d", code, res, tt.status)
				}
				if tt.status == 422 && (len(res.Errors) == 0 || res.Errors[0].Line != tt.line || res.Errors[0].Field != tt.field) {
					t.Fatalf("errors %+v, want line %d field %q first", res.Errors, tt.line, tt.field)
				}
			})
		}
	})
}

// fleetCSV is n call buttons at the bed of r-0012, with a UTF-8 BOM and
// columns in their own order, as a spreadsheet saves them.
func fleetCSV(prefix string, n int) string {
	var b strings.Builder
	b.WriteString("\uFEFFkind,id,site,resident,model,test\n")
	for i := range n {
		fmt.Fprintf(&b, "call_button,%s-%04d,qs-12-bed1,r-0012,CB-200,\n", prefix, i)
	}
	return b.String()
}

func TestImportThousandRows(t *testing.T) {
	g := placeTree(t)
	start := time.Now()
	code, res := postCSV(t, g, "", fleetCSV("btn", 1000), "text/csv")
	elapsed := time.Since(start)
	if code != 201 || res.Count != 1000 || len(res.Errors) != 0 {
		t.Fatalf("HTTP %d, %d created, errors %v", code, res.Count, res.Errors)
	}
	t.Logf("imported 1,000 devices over HTTP in %s", elapsed.Round(time.Millisecond))
	if elapsed > 5*time.Second {
		t.Fatalf("1,000 rows took %s, want well under 5 s", elapsed)
	}
	d := g.ConnectDevice(res.Created[999].ID, res.Created[999].Password)
	seq := d.Press("call.press")
	d.Expect(seq, "received")
}

// TestReplaceKeepsHistory: a button with an alarm is replaced; the new
// button is at the same bed for the same resident, the old one can no
// longer connect, and the installation's alarms include the old button's.
func TestReplaceKeepsHistory(t *testing.T) {
	g := placeTree(t)
	pw := g.ProvisionWith(map[string]any{"id": "btn-old", "kind": "call_button", "site": "qs-12-bed1", "resident": "r-0012", "model": "CB-200"})
	old := g.ConnectDevice("btn-old", pw)
	seq := old.Press("call.press")
	old.Expect(seq, "received")

	var nd httpapi.ProvisionedDevice
	if code := g.Admin.Do("POST", "/api/v1/devices/btn-old/replace", map[string]any{"new_id": "btn-new", "model": "CB-300"}, &nd); code != 201 {
		t.Fatalf("replace: HTTP %d", code)
	}
	if nd.ID != "btn-new" || nd.Site != "qs-12-bed1" || nd.Resident != "r-0012" || nd.Model != "CB-300" || nd.Replaces != "btn-old" || nd.Password == "" {
		t.Fatalf("new device %+v", nd.DeviceView)
	}
	if _, err := g.TryConnect("btn-old", "btn-old", pw); err == nil {
		t.Fatal("the replaced device still connects")
	}
	nw := g.ConnectDevice("btn-new", nd.Password)
	seq = nw.Press("call.press")
	nw.Expect(seq, "received")

	var hist struct {
		History []string
		Alarms  []struct{ Device string }
	}
	if code := g.Admin.Do("GET", "/api/v1/devices/btn-new/alarms", nil, &hist); code != 200 {
		t.Fatalf("alarms: HTTP %d", code)
	}
	var devs []string
	for _, a := range hist.Alarms {
		devs = append(devs, a.Device)
	}
	slices.Sort(devs)
	if !slices.Equal(hist.History, []string{"btn-new", "btn-old"}) || !slices.Equal(devs, []string{"btn-new", "btn-old"}) {
		t.Fatalf("history %v, alarms of %v: want both devices", hist.History, devs)
	}
	var oldView httpapi.DeviceView
	g.Admin.Do("GET", "/api/v1/devices/btn-old", nil, &oldView)
	if oldView.ReplacedBy != "btn-new" || oldView.Retired.IsZero() {
		t.Fatalf("old device %+v: want retired, replaced by btn-new", oldView.Device)
	}
	var list struct{ Devices []httpapi.DeviceView }
	g.Admin.Do("GET", "/api/v1/devices", nil, &list)
	if len(list.Devices) != 1 || list.Devices[0].ID != "btn-new" {
		t.Fatalf("devices in service: %+v", list.Devices)
	}
	var e httpapi.FieldErrorBody
	if code := g.Admin.Do("POST", "/api/v1/devices/btn-old/replace", map[string]any{"new_id": "btn-3"}, &e); code != 409 {
		t.Fatalf("replacing a retired device: HTTP %d %+v, want 409", code, e)
	}
	if code := g.Admin.Do("POST", "/api/v1/devices/btn-new/replace", map[string]any{"new_id": "btn-old"}, &e); code != 409 || e.Field != "new_id" {
		t.Fatalf("replacing with a used id: HTTP %d %+v, want 409 on new_id", code, e)
	}

	t.Run("in place", func(t *testing.T) {
		var again httpapi.ProvisionedDevice
		if code := g.Admin.Do("POST", "/api/v1/devices/btn-new/replace", map[string]any{}, &again); code != 201 || again.ID != "btn-new" || again.Password == nd.Password {
			t.Fatalf("in-place replace: HTTP %d %+v", code, again.DeviceView)
		}
		if _, err := g.TryConnect("btn-new", "btn-new", nd.Password); err == nil {
			t.Fatal("the old password still works after an in-place replacement")
		}
		g.ConnectDevice("btn-new", again.Password)
	})
}
