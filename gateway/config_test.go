package gateway

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
)

func TestExampleConfigLoads(t *testing.T) {
	c, err := LoadConfig(filepath.Join("..", "deploy", "anxin.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "/var/lib/anxin" {
		t.Fatalf("data_dir %q", c.DataDir)
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	tests := []struct{ name, json, says string }{
		{"typo in a field name", `{"mqtt_adr": ":1883"}`, "mqtt_adr"},
		{"bad address", `{"http_addr": "8080"}`, "http_addr"},
		{"bad zone", `{"time_zone": "Mars/Olympus"}`, "time_zone"},
		{"bad priority", `{"escalation": {"P7": {"steps": []}}}`, "P7"},
		{"steps out of order", `{"escalation": {"P1": {"steps": [{"after": "60s", "targets": ["a"]}, {"after": "30s", "targets": ["b"]}]}}}`, "step 2"},
		{"step without targets", `{"escalation": {"P1": {"steps": [{"after": "60s"}]}}}`, "no targets"},
		{"bad duration", `{"session_ttl": "forever"}`, "forever"},
		{"bad log level", `{"log_level": "loud"}`, "log_level"},
		{"tls without a certificate", `{"mqtt_tls_addr": ":8883"}`, "tls_cert_file"},
		{"unknown policy subject", `{"escalation_policies": [{"priority": "P1", "subject": "incident", "steps": [{"after": "0s", "targets": ["operators"]}]}]}`,
			`escalation[0].subject "incident": want "device" (alarms about devices, the default) or "site" (site-level incidents)`},
		{"old incident spelling naming no site", `{"escalation_policies": [{"priority": "P1", "site": "incident:", "steps": [{"after": "0s", "targets": ["operators"]}]}]}`,
			`escalation_policies[0].site "incident:": names no site; write "subject": "site"`},
		{"old incident spelling for devices", `{"escalation_policies": [{"priority": "P1", "subject": "device", "site": "incident:*", "steps": [{"after": "0s", "targets": ["operators"]}]}]}`,
			`escalation_policies[0]: site "incident:*" is the old spelling of an incident policy, but subject is "device"`},
		{"old and new incident spelling of one policy", `{"escalation_policies": [
			{"priority": "P1", "site": "incident:*", "steps": [{"after": "0s", "targets": ["operators"]}]},
			{"priority": "P1", "subject": "site", "steps": [{"after": "0s", "targets": ["operators"]}]}]}`,
			"escalation[1] (P1 subject site): same priority, subject and site as escalation[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadValidated(t, filepath.Join(t.TempDir(), "c.json"), tt.json)
			if err == nil || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("error %v, want one naming %q", err, tt.says)
			}
		})
	}
}

// TestIncidentPoliciesBySubject: escalation policies select site-level
// incidents by "subject": "site"; the old spelling, a site "incident:*" or
// "incident:<site>", is read the same way with a warning that says what
// to write instead; and without any, the P1 incident policy is added.
func TestIncidentPoliciesBySubject(t *testing.T) {
	steps := []alerting.Step{{After: 0, Targets: []string{"operators"}}}
	one := func(p alerting.Priority, subject alerting.Subject, site string) alerting.EscalationPolicy {
		return alerting.EscalationPolicy{Priority: p, Subject: subject, Site: site, Steps: steps}
	}
	tests := []struct {
		name  string
		given alerting.EscalationPolicies
		want  []alerting.EscalationPolicy // among the policies applied, with these steps
		warns []string                    // what the log says to write, one per policy
	}{
		{"subject site", alerting.EscalationPolicies{one(alerting.P1, alerting.SubjectSite, ""), one(alerting.P2, alerting.SubjectSite, "qs-town")},
			[]alerting.EscalationPolicy{one(alerting.P1, alerting.SubjectSite, ""), one(alerting.P2, alerting.SubjectSite, "qs-town")}, nil},
		{"old spelling", alerting.EscalationPolicies{one(alerting.P1, "", "incident:*"), one(alerting.P2, "", "incident:qs-town")},
			[]alerting.EscalationPolicy{one(alerting.P1, alerting.SubjectSite, ""), one(alerting.P2, alerting.SubjectSite, "qs-town")},
			[]string{`write="\"subject\": \"site\""`, `write="\"subject\": \"site\", \"site\": \"qs-town\""`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{EscalationPolicies: tt.given}
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			ps, err := c.escalationPolicies()
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !hasPolicy(ps, w.Priority, w.Subject, w.Site) {
					t.Errorf("no %s policy for subject %q site %q in %+v", w.Priority, w.Subject, w.Site, ps)
				}
			}
			for _, p := range ps {
				if strings.HasPrefix(p.Site, "incident:") {
					t.Errorf("a policy for the shadow site %q", p.Site)
				}
				if p.Priority == alerting.P1 && p.Subject == alerting.SubjectSite && p.Site == "" && len(p.Steps) != 1 {
					t.Errorf("the default incident policy was added beside the configured one: %+v", p)
				}
			}
			var log bytes.Buffer
			c.warnLegacyIncidentPolicies(slog.New(slog.NewTextHandler(&log, nil)))
			if n := strings.Count(log.String(), "deprecated"); n != len(tt.warns) {
				t.Errorf("%d deprecation warnings, want %d:\n%s", n, len(tt.warns), log.String())
			}
			for _, w := range tt.warns {
				if !strings.Contains(log.String(), w) {
					t.Errorf("the log does not say %s:\n%s", w, log.String())
				}
			}
		})
	}

	ps, err := Config{}.escalationPolicies()
	if err != nil {
		t.Fatal(err)
	}
	def, ok := ps.For(alerting.P1, alerting.SubjectSite, "home-12", alerting.SiteMap{})
	if !ok || def.Subject != alerting.SubjectSite || len(def.Steps) != 2 || def.Steps[1].After != alerting.Duration(30*time.Second) {
		t.Errorf("default incident policy: %+v %v", def, ok)
	}
}

// loadValidated writes text to path, loads it as the gateway's config and
// validates it: the error is the first of the two.
func loadValidated(t *testing.T, path, text string) (Config, error) {
	t.Helper()
	writeTestFile(t, path, text)
	c, err := LoadConfig(path)
	if err == nil {
		err = c.Validate()
	}
	return c, err
}
