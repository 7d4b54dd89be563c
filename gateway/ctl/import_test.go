package ctl_test

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/apiclient"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
)

// fleet writes a CSV of n devices at the bed of r-0012: call buttons, and
// every tenth a Zigbee smoke detector in the kitchen.
func fleet(t testing.TB, dir, prefix string, n int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("id,kind,vendor,model,format,ref,site,resident,test\n")
	for i := range n {
		if i%10 == 9 {
			fmt.Fprintf(&b, "%s-smk-%04d,smoke_detector,Heiman,HS1SA,zigbee2mqtt,%s kitchen %d,qs-12-kitchen,,\n", prefix, i, prefix, i)
		} else {
			fmt.Fprintf(&b, "%s-btn-%04d,call_button,Anxin,CB-200,native,,qs-12-bed1,r-0012,false\n", prefix, i)
		}
	}
	path := filepath.Join(dir, prefix+".csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestImport1000(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	c := newCLI(t, g)
	c.login()
	c.seedTree()
	dir := t.TempDir()
	file := fleet(t, dir, "f1", 1000)
	pwFile := filepath.Join(dir, "passwords.csv")

	start := time.Now()
	out := c.ok("device", "import", file, "--passwords-out", pwFile)
	elapsed := time.Since(start)
	t.Logf("anxinctl device import of 1,000 rows: %s (process start, upload, check, one transaction, answer)", elapsed.Round(time.Millisecond))
	if elapsed > 5*time.Second {
		t.Errorf("1,000 rows took %s, want well under 5 s", elapsed)
	}
	if !strings.Contains(out, "Imported 1000 devices. Passwords written to "+pwFile) {
		t.Fatalf("import output: %s", out)
	}
	fi, err := os.Stat(pwFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("passwords file: %v mode %v, want 0600", err, fi.Mode())
	}
	f, _ := os.Open(pwFile)
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(rows) != 1001 || strings.Join(rows[0], ",") != "id,password,mqtt_broker" {
		t.Fatalf("passwords file: %d rows, %v", len(rows), err)
	}
	d := g.ConnectDevice(rows[500][0], rows[500][1])
	d.Expect(d.Press("call.press"), "received")
	if got, ok := g.Registry().LookupRef("zigbee2mqtt", "f1 kitchen 9"); !ok || got.ID != "f1-smk-0009" || got.Supervision != "zigbee_battery" {
		t.Fatalf("imported Zigbee detector: %+v %v", got, ok)
	}

	t.Run("passwords on stdout", func(t *testing.T) {
		out, errOut, code := c.run("", "device", "import", fleet(t, dir, "f2", 3))
		if code != 0 || !strings.HasPrefix(out, "id,password,mqtt_broker\nf2-btn-0000,") || strings.Count(out, "\n") != 4 ||
			!strings.Contains(errOut, "Imported 3 devices") {
			t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
		}
	})
	t.Run("existing passwords file is never overwritten", func(t *testing.T) {
		_, errOut, code := c.run("", "device", "import", fleet(t, dir, "f3", 3), "--passwords-out", pwFile)
		if code != 1 || !strings.Contains(errOut, "never overwritten") {
			t.Fatalf("exit %d %s", code, errOut)
		}
		if _, ok := g.Registry().Get("f3-btn-0000"); ok {
			t.Fatal("imported although the passwords could not be kept")
		}
	})
	t.Run("-o json", func(t *testing.T) {
		var res apiclient.ImportResult
		c.jsonOut(&res, "device", "import", fleet(t, dir, "f4", 2))
		if res.Count != 2 || res.Created[1].Password == "" || res.MQTTBroker == "" {
			t.Fatalf("%+v", res)
		}
	})
}

const badFleet = `id,kind,vendor,model,format,ref,site,resident,test
btn-1,call_button,Anxin,CB-200,native,,qs-12-bed1,r-0012,false
btn-2,toaster,Anxin,CB-200,,,qs-12-bed1,,
btn-3,call_button,,,,,qs-99,,
btn-1,call_button,,,,,,,
btn-5,fridge,,,,,,,maybe
smk-1,smoke_detector,Heiman,HS1SA,zigbee2mqtt,kitchen_smoke,qs-12-kitchen,,
btn-7,call_button,,,,,qs-12,r-404,
btn 9,call_button,,,,,,,
`

func TestImportBadRows(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	c := newCLI(t, g)
	c.login()
	c.seedTree()
	file := filepath.Join(t.TempDir(), "bad.csv")
	os.WriteFile(file, []byte(badFleet), 0o644)

	out, errOut, code := c.run("", "device", "import", file)
	want := []string{
		`line 3: field kind: unknown device kind "toaster"`,
		`line 4: field site: site not found: qs-99`,
		`line 5: field id: btn-1 is also on line 2`,
		// Every error of a row, the file's and the registry's, in words.
		`line 6: field test: "maybe": want true or false`,
		`line 6: field kind: unknown device kind "fridge"`,
		`line 8: field site: qs-12 is a home; a device is installed at a room or a bed`,
		`line 8: field resident: resident not found: r-404`,
		`line 9: field id: device id "btn 9" has ' '`,
		"anxinctl: 6 bad rows in " + file + "; nothing was imported (--partial imports the good rows)",
	}
	if code != 1 || out != "" {
		t.Fatalf("exit %d, stdout %q: want 1 and nothing", code, out)
	}
	if strings.Contains(errOut, "bad_field") {
		t.Errorf("stderr shows an internal reason code:\n%s", errOut)
	}
	for _, w := range want {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errOut)
		}
	}
	var list []apiclient.Device
	c.jsonOut(&list, "device", "ls")
	if len(list) != 0 {
		t.Fatalf("%d devices after a refused import, want 0", len(list))
	}

	// A dry run with a bad row fails, so that a script checking a file stops.
	out, errOut, code = c.run("", "device", "import", file, "--dry-run")
	if code != 1 || !strings.Contains(out, "8 rows checked: 2 good, 6 bad rows; nothing imported (dry run)") ||
		!strings.Contains(errOut, "line 9: field id") {
		t.Fatalf("dry run: exit %d, want 1\n%s%s", code, out, errOut)
	}

	out, errOut, code = c.run("", "device", "import", "--partial", file)
	if code != 0 || !strings.Contains(errOut, "Imported 2 devices; skipped 6 bad rows") ||
		!strings.Contains(out, "btn-1,") || !strings.Contains(out, "smk-1,") || !strings.Contains(errOut, "line 3: field kind") {
		t.Fatalf("partial: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	c.jsonOut(&list, "device", "ls")
	if len(list) != 2 {
		t.Fatalf("%d devices after a partial import, want 2", len(list))
	}
}

// BenchmarkImport1000 times `anxinctl device import` of a 1,000-row file,
// the real binary against a real gateway: process start, upload, checks,
// one transaction and the answer with 1,000 passwords.
func BenchmarkImport1000(b *testing.B) {
	g := gatewaytest.Start(b, gateway.Config{})
	c := newCLI(b, g)
	c.login()
	c.seedTree()
	dir := b.TempDir()
	files := make([]string, b.N)
	for i := range files {
		files[i] = fleet(b, dir, fmt.Sprintf("b%d", i), 1000)
	}
	b.ResetTimer()
	for i := range b.N {
		c.ok("device", "import", files[i], "--passwords-out", filepath.Join(dir, fmt.Sprintf("pw%d.csv", i)))
	}
}
