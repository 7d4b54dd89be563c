package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/gateway/httpapi"
	"github.com/anxin-care/anxin/gateway/state"
)

// backupStep is when the test's P1 policy escalates an alarm nobody took.
const backupStep = 4 * time.Second

// TestBackupAndRestore takes a backup of a running gateway with the real
// anxinctl, restores it with the real anxin into an empty directory, and
// starts a gateway on it: every alarm with its timeline, device,
// credential, resident, user and duty check-in is there, and the alarm
// that was waiting for its escalation step gets it. A damaged copy, one
// without its checksum, and a restore over a state file are refused.
func TestBackupAndRestore(t *testing.T) {
	anxin, anxinctl := buildAt(t, "."), buildAt(t, "../anxinctl")
	cfg := gateway.Config{EscalationPolicies: alerting.EscalationPolicies{{Priority: alerting.P1,
		Steps: []alerting.Step{
			{After: 0, Targets: []string{"operators"}},
			{After: alerting.Duration(backupStep), Targets: []string{"supervisor"}},
		}}}}
	g := gatewaytest.Start(t, cfg)
	g.SeedSites()
	nurse := g.AddUser("nurse", state.RoleOperator)
	if code := g.Admin.Do("PATCH", "/api/v1/users/nurse", map[string]any{"sites": []string{"qs-village"}}, nil); code != 200 {
		t.Fatalf("nurse's sites: HTTP %d", code)
	}
	if code := nurse.Do("POST", "/api/v1/duty/checkin", map[string]string{"site": "qs-village"}, nil); code != 200 {
		t.Fatalf("check in: HTTP %d", code)
	}
	pw1 := g.ProvisionWith(map[string]any{"id": "btn-1", "kind": "call_button", "site": "home-12-bedroom", "resident": "wang-xy"})
	pw2 := g.ProvisionWith(map[string]any{"id": "smk-1", "kind": "smoke_detector", "site": "home-12-kitchen"})
	btn, smk := g.ConnectDevice("btn-1", pw1), g.ConnectDevice("smk-1", pw2)
	waiting := btn.Expect(btn.Press("call.press"), "received").Alarm // nobody takes it: its step is due
	taken := smk.Expect(smk.Press("smoke.alarm"), "received").Alarm
	if code := nurse.Do("POST", "/api/v1/alarms/"+taken+"/ack", map[string]string{"note": "on the phone"}, nil); code != 200 {
		t.Fatalf("ack: HTTP %d", code)
	}
	if code := nurse.Do("POST", "/api/v1/alarms/"+taken+"/dispatch", map[string]string{"note": "neighbour going"}, nil); code != 200 {
		t.Fatalf("dispatch: HTTP %d", code)
	}

	// The backup, as the nightly timer takes it: into a directory, keeping the newest.
	dir := t.TempDir()
	ctl := func(args ...string) (string, error) {
		cmd := exec.Command(anxinctl, append([]string{"--server", g.BaseURL}, args...)...)
		cmd.Env = append(os.Environ(), "ANXIN_TOKEN="+g.Admin.Token, "XDG_CONFIG_HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	before := backupAlarms(t, g.Admin)
	out, err := ctl("backup", "--keep", "1", dir)
	if err != nil {
		t.Fatalf("anxinctl backup: %v\n%s", err, out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "anxin-state-*.db"))
	if len(files) != 1 || !strings.Contains(out, "backup: "+files[0]) || !strings.Contains(out, "sha256=") {
		t.Fatalf("backup files %v; output:\n%s", files, out)
	}
	file := files[0]

	// An operator may not take a backup.
	if code := nurse.Do("GET", "/api/v1/backup", nil, nil); code != 403 {
		t.Errorf("operator's backup: HTTP %d, want 403", code)
	}

	restored := filepath.Join(t.TempDir(), "restored")
	run := func(args ...string) (string, int) {
		cmd := exec.Command(anxin, append([]string{"restore"}, args...)...)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	// Refusals first: a damaged copy, a copy without its checksum.
	damaged := filepath.Join(t.TempDir(), "damaged.db")
	b, _ := os.ReadFile(file)
	b[len(b)/2] ^= 0xff
	os.WriteFile(damaged, b, 0o600)
	sum, _ := os.ReadFile(file + ".sha256")
	os.WriteFile(damaged+".sha256", sum, 0o600)
	if out, code := run("-data-dir", restored, damaged); code == 0 || !strings.Contains(out, "does not match its checksum") {
		t.Errorf("damaged copy: exit %d\n%s", code, out)
	}
	bare := filepath.Join(t.TempDir(), "bare.db")
	os.WriteFile(bare, b, 0o600)
	if out, code := run("-data-dir", restored, "-no-checksum", bare); code != 1 || !strings.Contains(out, "damaged") || strings.Contains(out, "goroutine") {
		t.Errorf("damaged copy without checksum: exit %d\n%s", code, out)
	}
	if out, code := run("-data-dir", restored, file); code != 0 || !strings.Contains(out, "restored "+file) {
		t.Fatalf("restore: exit %d\n%s", code, out)
	}
	if out, code := run("-data-dir", restored, file); code == 0 || !strings.Contains(out, "already has a state file") {
		t.Errorf("restore over a state file: exit %d\n%s", code, out)
	}

	g2 := gatewaytest.Start(t, gateway.Config{DataDir: restored, EscalationPolicies: cfg.EscalationPolicies})
	after := backupAlarms(t, g2.Admin)
	for id, a := range before {
		b, ok := after[id]
		if !ok {
			t.Errorf("alarm %s (%s) is not in the restored gateway", id, a.Type)
			continue
		}
		if b.State != a.State || len(b.Timeline) < len(a.Timeline) {
			t.Errorf("alarm %s: restored %s with %d entries, was %s with %d", id, b.State, len(b.Timeline), a.State, len(a.Timeline))
		}
	}
	if a := after[taken]; a.State != alerting.Dispatched || !slices.ContainsFunc(a.Timeline, func(e alerting.Entry) bool { return e.Note == "neighbour going" }) {
		t.Errorf("dispatched alarm restored as %s, timeline %v", a.State, a.Timeline)
	}
	// Escalation continues: the waiting alarm gets its step once, from the restored gateway.
	deadline := time.Now().Add(backupStep + 10*time.Second)
	for {
		var a alerting.Alarm
		g2.Admin.Do("GET", "/api/v1/alarms/"+waiting, nil, &a)
		steps := 0
		for _, e := range a.Timeline {
			if e.Action == alerting.ActEscalated && e.Step == 2 {
				steps++
			}
		}
		if steps == 1 {
			break
		}
		if steps > 1 || time.Now().After(deadline) {
			t.Fatalf("restored alarm %s has step 2 %d times; timeline %v", waiting, steps, a.Timeline)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Credentials: the users log in, the devices connect with their passwords.
	gatewaytest.LoginAt(t, g2.BaseURL, "nurse", "nurse-long-password")
	if _, err := g2.TryConnect("btn-1", "btn-1", pw1); err != nil {
		t.Errorf("btn-1 with its old password: %v", err)
	}
	var devs struct{ Devices []httpapi.DeviceView }
	g2.Admin.Do("GET", "/api/v1/devices", nil, &devs)
	if len(devs.Devices) != 2 {
		t.Errorf("restored devices: %d, want 2", len(devs.Devices))
	}
	var res struct{ Residents []httpapi.ResidentView }
	g2.Admin.Do("GET", "/api/v1/residents", nil, &res)
	if len(res.Residents) != 1 || res.Residents[0].Name != "王秀英" {
		t.Errorf("restored residents: %+v", res.Residents)
	}
	var duty httpapi.DutyView
	g2.Admin.Do("GET", "/api/v1/duty", nil, &duty)
	if !slices.ContainsFunc(duty.OnDuty, func(s httpapi.SiteDuty) bool {
		return s.Site == "qs-village" && slices.ContainsFunc(s.Operators, func(o alerting.Operator) bool { return o.ID == "nurse" })
	}) {
		t.Errorf("nurse's check-in is not in the restored duty: %+v", duty.OnDuty)
	}
	// The audit trail names the backup.
	var audit struct{ Entries []state.AuditEntry }
	g.Admin.Do("GET", "/api/v1/audit?object=state", nil, &audit)
	if len(audit.Entries) == 0 || audit.Entries[0].Action != state.ActionBackup {
		t.Errorf("audit of the backup: %+v", audit.Entries)
	}
}

func backupAlarms(t *testing.T, c *gatewaytest.Client) map[string]alerting.Alarm {
	t.Helper()
	var list struct{ Alarms []alerting.Alarm }
	if code := c.Do("GET", "/api/v1/alarms?state=all", nil, &list); code != 200 {
		t.Fatalf("alarms: HTTP %d", code)
	}
	out := map[string]alerting.Alarm{}
	for _, a := range list.Alarms {
		out[a.ID] = a
	}
	return out
}
