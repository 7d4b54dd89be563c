package main

import (
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

const buildinfoPkg = "github.com/anxin-care/anxin/internal/buildinfo"

// buildAt builds the command in dir (a package path relative to this one)
// with extra go build flags into a temporary directory: start-up failures,
// versions and metrics are about what the real process prints and how it exits.
func buildAt(t *testing.T, dir string, flags ...string) string {
	t.Helper()
	name := filepath.Base(dir)
	if dir == "." {
		name = "anxin"
	}
	bin := filepath.Join(t.TempDir(), name)
	args := append([]string{"build", "-o", bin}, flags...)
	out, err := exec.Command("go", append(args, dir)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go build %s: %v\n%s", dir, err, out)
	}
	return bin
}

// TestVersion: each of the three commands says its version, from -ldflags
// -X when given, else what the go command recorded (the VCS revision of a
// build from a checkout).
func TestVersion(t *testing.T) {
	ldflags := "-ldflags=-X " + buildinfoPkg + ".version=1.2.3-test -X " + buildinfoPkg + ".revision=0123abcd"
	tail := regexp.QuoteMeta(runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + ")")
	for _, cmd := range []string{"anxin", "anxinctl", "firmware-sim"} {
		t.Run(cmd, func(t *testing.T) {
			bin := buildAt(t, "../"+cmd, ldflags)
			for _, arg := range []string{"--version", "-version"} {
				out, err := exec.Command(bin, arg).CombinedOutput()
				want := regexp.MustCompile(`^` + cmd + ` 1\.2\.3-test \(revision 0123abcd, ` + tail + "\n$")
				if err != nil || !want.Match(out) {
					t.Errorf("%s %s: %v, %q; want %s", cmd, arg, err, out, want)
				}
			}
		})
	}
	// Without -X: internal/buildinfo's tests cover the fallback to the
	// module version and VCS revision the go command records.
	bin := buildAt(t, ".")
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "anxin devel (revision ") {
		t.Errorf("anxin --version without -X: %v, %q", err, out)
	}
}

// TestBuildInfoMetric: the running gateway's /metrics has
// anxin_build_info{version,revision,goversion} 1 for its build.
func TestBuildInfoMetric(t *testing.T) {
	bin := buildAt(t, ".", "-ldflags=-X "+buildinfoPkg+".version=4.5.6-test -X "+buildinfoPkg+".revision=feedbeef")
	base := "http://" + startAnxin(t, bin, t.TempDir())
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := `anxin_build_info{goversion="` + runtime.Version() + `",revision="feedbeef",version="4.5.6-test"} 1`
	if !strings.Contains(string(body), want+"\n") {
		t.Fatalf("/metrics has no line %s; its build_info lines:\n%s", want, grepLines(string(body), "anxin_build_info"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for line := range strings.Lines(s) {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "")
}
