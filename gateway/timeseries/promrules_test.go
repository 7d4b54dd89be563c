package timeseries_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The Prometheus files in deploy/prometheus have no Go package of their
// own; their alerts are mostly about this package's metrics, so they are
// checked here with the real promtool ($ANXIN_PROMTOOL, PATH or
// $(go env GOPATH)/bin; ./scripts/test.sh installs Debian's). Without it
// these tests skip, except under CI=true, where they fail.
const prometheusDir = "../../deploy/prometheus"

func promtool(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("ANXIN_PROMTOOL"); p != "" {
		return p
	}
	if p, err := exec.LookPath("promtool"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", "promtool")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	msg := "promtool not found ($ANXIN_PROMTOOL, PATH, GOPATH/bin); ./scripts/test.sh installs it"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: a missing tool fails the test)")
	}
	t.Skip(msg)
	return ""
}

func runPromtool(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command(promtool(t), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestPrometheusRules checks the alert rules and runs their unit tests:
// each alert fires in its scenario and stays quiet otherwise.
func TestPrometheusRules(t *testing.T) {
	runPromtool(t, prometheusDir, "check", "rules", "anxin-rules.yml")
	runPromtool(t, prometheusDir, "test", "rules", "anxin-rules.test.yml")
}

// TestPrometheusConfig checks deploy/prometheus/prometheus.yml as
// Prometheus would load it, rule files included.
func TestPrometheusConfig(t *testing.T) {
	runPromtool(t, prometheusDir, "check", "config", "prometheus.yml")
}

// TestGatewayDashboardPromQL parses every PromQL expression of the gateway
// dashboard by handing them to promtool as recording rules.
func TestGatewayDashboardPromQL(t *testing.T) {
	tool := promtool(t)
	d := loadDashboards(t)["anxin-gateway.json"]
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	n := 0
	for _, p := range allPanels(d.Panels) {
		for _, tg := range p.Targets {
			if tg.Expr == "" {
				continue
			}
			n++
			expr := strings.ReplaceAll(tg.Expr, "$job", "anxin")
			fmt.Fprintf(&b, "      - record: dashboard:expr_%d\n        expr: %s\n", n, strconv.Quote(expr))
		}
	}
	if n == 0 {
		t.Fatal("no PromQL in the gateway dashboard")
	}
	f := filepath.Join(t.TempDir(), "dashboard-rules.yml")
	if err := os.WriteFile(f, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(tool, "check", "rules", f).CombinedOutput(); err != nil {
		t.Fatalf("dashboard PromQL does not parse: %v\n%s\n%s", err, out, b.String())
	}
}
