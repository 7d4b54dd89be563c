package gateway_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/alerting/notify"
	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/gateway/state"
)

// reloadConfig is a config file with a vendor's rules (words that mean an
// SOS press), shifts and an event rate.
func reloadConfig(words, shifts, rate string) string {
	return `# a reload test
bridges:
  - {user: z2m, password: ` + bridgePassword + `, topics: ["acme/#"]}
adapters:
  - type: vendor_json
    config:
      vendor: acme
      topic: acme/{device}/up
      rules:
        - {field: key, when: [` + words + `], event: call.press, trigger: every}
shifts: [` + shifts + `]
event_rate: ` + rate + `
`
}

// TestReloadInProcess: Reload applies a changed vendor rule and roster at
// once, reports a changed event_rate as needing a restart (and keeps the
// running one), and a config with a mistake changes nothing and says
// where the mistake is; each counted by result.
func TestReloadInProcess(t *testing.T) {
	pub := gatewaytest.NeedBinary(t, "mosquitto_pub")
	path := filepath.Join(t.TempDir(), "anxin.yaml")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(reloadConfig(`"sos"`, ``, `20`))
	cfg, err := gateway.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	g := gatewaytest.Start(t, cfg, gatewaytest.WithLog(&logs))
	g.SeedSites()
	g.AddUser("li", state.RoleOperator)
	g.ProvisionWith(map[string]any{"id": "sos-v", "kind": "call_button", "format": "vendor_json:acme", "ref": "A1", "site": "home-12-bedroom"})
	load := func() (gateway.Config, error) {
		c, err := gateway.LoadConfig(path)
		c.MQTTAddr, c.HTTPAddr, c.DataDir, c.State = g.Cfg.MQTTAddr, g.Cfg.HTTPAddr, g.Cfg.DataDir, g.Cfg.State
		return c, err
	}
	host, port := mqttHostPort(t, g.MQTTAddr())
	n := 0
	press := func(key string) {
		t.Helper()
		n++ // a new message each time: an identical one is a replay
		out, err := exec.Command(pub, "-h", host, "-p", port, "-i", "z2m", "-u", "z2m", "-P", bridgePassword,
			"-q", "1", "-t", "acme/A1/up", "-m", fmt.Sprintf(`{"key":%q,"n":%d}`, key, n)).CombinedOutput()
		if err != nil {
			t.Fatalf("mosquitto_pub: %v: %s", err, out)
		}
	}
	calls := func() int { return len(openOfType(g, alerting.TypeCall)) }
	reloads := func(result string) float64 {
		return g.Metric(`anxin_config_reloads_total{result="` + result + `"}`)
	}

	press("help")
	if n := calls(); n != 0 {
		t.Fatalf("%d call alarms for a word the rules do not have", n)
	}
	if n := g.Metric("anxin_operators_on_duty"); n != 0 {
		t.Fatalf("%v on duty before any shift", n)
	}

	t.Run("vendor rule and roster apply", func(t *testing.T) {
		write(reloadConfig(`"sos", "help"`, `{site: home-12, operator: li, start: "00:00", end: "24:00"}`, `20`))
		rep, err := g.Reload(load)
		if err != nil || rep.Result != gateway.ReloadApplied || !slices.Equal(rep.Applied, []string{"shifts", "adapters"}) {
			t.Fatalf("reload: %+v %v, want applied shifts and adapters", rep, err)
		}
		press("help")
		if n := calls(); n != 1 {
			t.Fatalf("%d call alarms for the word the reloaded rule added, want 1", n)
		}
		if n := g.Metric("anxin_operators_on_duty"); n != 1 {
			t.Fatalf("%v on duty after a reload added li's shift, want 1", n)
		}
		if got := reloads(gateway.ReloadApplied); got != 1 {
			t.Fatalf("reloads applied %v, want 1", got)
		}
	})
	t.Run("unchangeable field reported", func(t *testing.T) {
		write(reloadConfig(`"sos", "help"`, `{site: home-12, operator: li, start: "00:00", end: "24:00"}`, `5`))
		rep, err := g.Reload(load)
		if err != nil || rep.Result != gateway.ReloadRestartNeeded || !slices.Equal(rep.RestartNeeded, []string{"event_rate"}) || len(rep.Applied) != 0 {
			t.Fatalf("reload: %+v %v, want restart needed for event_rate", rep, err)
		}
		if !strings.Contains(logs.String(), "restart needed for: event_rate") {
			t.Fatalf("no log line says a restart is needed:\n%s", logs.String())
		}
		if got := reloads(gateway.ReloadRestartNeeded); got != 1 {
			t.Fatalf("reloads restart_needed %v, want 1", got)
		}
	})
	t.Run("a bad config changes nothing", func(t *testing.T) {
		for _, bad := range []struct{ name, text, where string }{
			{"syntax", reloadConfig(`"sos"`, ``, `20`) + "shifts: [\n", `anxin.yaml:13\b`}, // yaml's syntax errors have no column
			{"unknown field", reloadConfig(`"sos"`, ``, `20`) + "notifers: {}\n", `anxin.yaml:13:1: notifers: unknown field`},
			{"bad rule", strings.Replace(reloadConfig(`"sos"`, ``, `20`), "call.press", "call.fire", 1), `anxin.yaml:\d+:\d+: .*call.fire`},
			{"bad shift", reloadConfig(`"sos"`, `{site: home-12, operator: li, start: "25:00", end: "08:00"}`, `20`), `anxin.yaml:\d+:\d+`},
		} {
			t.Run(bad.name, func(t *testing.T) {
				before := reloads(gateway.ReloadFailed)
				write(bad.text)
				rep, err := g.Reload(load)
				if err == nil || rep.Result != gateway.ReloadFailed {
					t.Fatalf("reload of a bad config: %+v %v, want an error", rep, err)
				}
				t.Log(err)
				if !regexp.MustCompile(bad.where).MatchString(err.Error()) {
					t.Errorf("error %q does not say where (%s)", err, bad.where)
				}
				var ce *gateway.ConfigError
				if !errors.As(err, &ce) {
					t.Errorf("error %q is no ConfigError", err)
				}
				if got := reloads(gateway.ReloadFailed); got != before+1 {
					t.Errorf("reloads failed %v, want %v", got, before+1)
				}
				if !strings.Contains(logs.String(), "config not reloaded") {
					t.Errorf("the refused reload is not logged")
				}
			})
		}
		// The running config stays: "help" still raises, li still on duty.
		if a := openOfType(g, alerting.TypeCall); len(a) == 1 {
			if _, err := g.Engine().Resolve(a[0].ID, "admin", "false_alarm", ""); err != nil {
				t.Fatal(err)
			}
		}
		press("help")
		if n := calls(); n != 1 {
			t.Fatalf("%d call alarms for \"help\" after refused reloads, want 1: the reloaded rule stays", n)
		}
		if n := g.Metric("anxin_operators_on_duty"); n != 1 {
			t.Fatalf("%v on duty after refused reloads, want 1", n)
		}
	})
}

// TestReloadPoliciesAndNotifiers: a reloaded escalation policy decides
// where the next alarm goes, and a reloaded notifier's new address is
// where it is delivered, without a restart.
func TestReloadPoliciesAndNotifiers(t *testing.T) {
	r := newReceivers(t)
	cfgWith := func(target, bPath string) gateway.Config {
		return gateway.Config{
			Escalation: map[string]alerting.Policy{"P1": {Steps: []alerting.Step{{Targets: []string{target}}}}},
			Notifiers: gateway.NotifiersConfig{Webhooks: map[string]notify.WebhookConfig{
				"a": {URL: r.srv.URL + "/hook/a", Secret: webhookSecret},
				"b": {URL: r.srv.URL + bPath, Secret: webhookSecret},
			}},
		}
	}
	g := gatewaytest.Start(t, cfgWith("webhook:a", "/hook/b"))
	load := func(c gateway.Config) func() (gateway.Config, error) {
		return func() (gateway.Config, error) {
			c.MQTTAddr, c.HTTPAddr, c.DataDir, c.State = g.Cfg.MQTTAddr, g.Cfg.HTTPAddr, g.Cfg.DataDir, g.Cfg.State
			return c, nil
		}
	}
	press := func(id string) string {
		t.Helper()
		d := g.ConnectDevice(id, g.Provision(id, "call_button"))
		return d.Expect(d.Press("call.press"), "received").Alarm
	}
	r.wait(t, "webhook:a", press("btn-1"))

	rep, err := g.Reload(load(cfgWith("webhook:b", "/hook/b")))
	if err != nil || !slices.Equal(rep.Applied, []string{"escalation"}) {
		t.Fatalf("reload of the policy: %+v %v", rep, err)
	}
	r.wait(t, "webhook:b", press("btn-2"))

	rep, err = g.Reload(load(cfgWith("webhook:b", "/hook/b-new")))
	if err != nil || !slices.Equal(rep.Applied, []string{"notifiers"}) {
		t.Fatalf("reload of the notifier: %+v %v", rep, err)
	}
	r.wait(t, "webhook:b-new", press("btn-3"))
}
