package gatewaytest

import (
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// NeedBinary returns the path of the program name, which a test runs as a
// real outside party (mosquitto_pub, influxd, chromium). It looks on $PATH,
// then where `go install` puts programs ($GOBIN, $GOPATH/bin).
//
// A missing program skips the test on a developer's machine, but fails it
// when CI=true: there ./scripts/test.sh has installed every tool, so a
// missing one means a broken setup, and a skip would hide that the test
// never ran.
func NeedBinary(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range goBinDirs() {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	msg := name + " not found on $PATH or in $GOPATH/bin; ./scripts/test.sh installs it"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: a missing tool fails the test instead of skipping it)")
	}
	t.Skip(msg)
	return ""
}

// goBinDirs are the folders `go install` may have put a program in.
func goBinDirs() []string {
	var dirs []string
	if d := os.Getenv("GOBIN"); d != "" {
		dirs = append(dirs, d)
	}
	for _, p := range filepath.SplitList(build.Default.GOPATH) {
		dirs = append(dirs, filepath.Join(p, "bin"))
	}
	return dirs
}
