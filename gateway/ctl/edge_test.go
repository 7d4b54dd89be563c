package ctl_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/apiclient"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
)

// TestDeviceEdgeFlags: `device add --edge` and `device import --edge` put
// devices behind an edge box; `device show` says which; a bad box is an
// error naming the field.
func TestDeviceEdgeFlags(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	c := newCLI(t, g)
	c.login()
	c.seedTree()
	c.ok("device", "add", "box-1", "--kind", "edge_box", "--site", "qs-12")
	c.ok("device", "add", "btn-1", "--kind", "call_button", "--site", "qs-12-bed1", "--edge", "box-1")
	if out := c.ok("device", "show", "btn-1"); !strings.Contains(out, "Edge box") || !strings.Contains(out, "box-1") {
		t.Fatalf("device show btn-1 does not name its edge box:\n%s", out)
	}
	_, errOut, code := c.run("", "device", "add", "btn-2", "--kind", "call_button", "--edge", "btn-1")
	if code == 0 || !strings.Contains(errOut, "edge") || !strings.Contains(errOut, "not an edge_box") {
		t.Fatalf("--edge naming a button: exit %d, %s", code, errOut)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "room.csv")
	if err := os.WriteFile(file, []byte("id,kind,site,edge\nsmk-1,smoke_detector,qs-12-kitchen,\nbtn-3,call_button,qs-12-bed1,\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.ok("device", "import", file, "--edge", "box-1", "--passwords-out", filepath.Join(dir, "pw.csv"))
	for _, id := range []string{"smk-1", "btn-3"} {
		var out struct{ Device apiclient.Device }
		c.jsonOut(&out, "device", "show", id)
		if out.Device.Edge != "box-1" {
			t.Errorf("%s imported with --edge box-1 has edge %q", id, out.Device.Edge)
		}
	}
}

// TestEdgeList: `anxinctl edge ls` shows each box with its site, uplink,
// queue, software and the devices behind it; --site filters.
func TestEdgeList(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	c := newCLI(t, g)
	c.login()
	c.seedTree()
	var box apiclient.Provisioned
	c.jsonOut(&box, "device", "add", "box-1", "--kind", "edge_box", "--site", "qs-12")
	c.ok("device", "add", "box-2", "--kind", "edge_box", "--site", "qs-12-kitchen")
	c.ok("device", "add", "btn-1", "--kind", "call_button", "--site", "qs-12-bed1", "--edge", "box-1")
	dev := g.ConnectDevice("box-1", box.Password)
	if err := dev.Publish("status", `{"online":true,"fw":"0.3.0","model":"anxin-edge"}`); err != nil {
		t.Fatal(err)
	}
	if err := dev.Publish("telemetry", `{"queue_depth":7,"queue_oldest_ts":0}`); err != nil {
		t.Fatal(err)
	}
	out := c.ok("edge", "ls")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") {
		t.Fatalf("edge ls: want a header and two boxes:\n%s", out)
	}
	for _, want := range []string{"box-1", "qs-12", "connected", "7", "0.3.0", "1"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("edge ls line of box-1 lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(lines[2], "box-2") || !strings.Contains(lines[2], "never") {
		t.Errorf("edge ls line of box-2 (never heard):\n%s", out)
	}
	if out := c.ok("edge", "ls", "--site", "qs-12-kitchen"); strings.Contains(out, "box-1") || !strings.Contains(out, "box-2") {
		t.Errorf("edge ls --site qs-12-kitchen:\n%s", out)
	}
}
