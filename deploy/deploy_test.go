// Package deploy_test checks what an operator installs: the .deb packages
// that scripts/package.sh builds, installed for real on this machine.
//
// TestDebPackage changes the machine (it installs and purges the anxin
// package and leaves the anxin system user), so it runs only when asked:
// ANXIN_DEB_TEST=1, as root. ./scripts/test.sh runs it as its own step.
package deploy_test

import (
	"bufio"
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	unit        = "/usr/lib/systemd/system/anxin.service"
	backupUnit  = "/usr/lib/systemd/system/anxin-backup.service"
	backupTimer = "/usr/lib/systemd/system/anxin-backup.timer"
	edgeUnit    = "/usr/lib/systemd/system/anxin-edge.service"
)

// need returns the path of a tool, or ends the test: a failure under
// CI=true, a skip otherwise.
func need(t *testing.T, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err == nil {
		return p
	}
	missing(t, tool+" not found (apt-get install "+map[string]string{"systemd-analyze": "systemd", "dpkg-deb": "dpkg", "runuser": "util-linux"}[tool]+")")
	return ""
}

func missing(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(why + " (CI=true: a missing tool fails the test)")
	}
	t.Skip(why)
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestDebPackage builds the amd64, arm64 and armhf packages, installs the
// amd64 one with dpkg, checks what it installed (the binaries, the anxin
// user, /var/lib/anxin, the conffile, the unit with systemd-analyze
// verify, the packaged config with the installed binary), installs it
// again (the maintainer scripts are idempotent), then removes and purges it.
func TestDebPackage(t *testing.T) {
	if os.Getenv("ANXIN_DEB_TEST") != "1" {
		t.Skip("installs a package on this machine: runs with ANXIN_DEB_TEST=1 (./scripts/test.sh sets it)")
	}
	if os.Geteuid() != 0 {
		missing(t, "dpkg -i needs root")
	}
	for _, tool := range []string{"dpkg", "dpkg-deb", "dpkg-query", "systemd-analyze", "runuser", "perl", "git"} {
		need(t, tool)
	}
	if out, _ := exec.Command("dpkg-query", "-W", "-f=${Status}", "anxin").Output(); strings.Contains(string(out), "installed") {
		t.Fatalf("a package anxin is already installed here (%s); this test would replace it: dpkg --purge anxin first", out)
	}

	start := time.Now()
	cmd := exec.Command("../scripts/package.sh", "amd64", "arm64", "armhf")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scripts/package.sh: %v\n%s", err, stderr.String())
	}
	built := time.Since(start)
	debs := map[string]string{} // arch → path
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "package: "); ok {
			arch := strings.TrimSuffix(p[strings.LastIndex(p, "_")+1:], ".deb")
			debs[arch] = filepath.Join("..", p)
		}
	}
	for _, arch := range []string{"amd64", "arm64", "armhf"} {
		if debs[arch] == "" {
			t.Fatalf("scripts/package.sh printed no package for %s:\n%s", arch, out)
		}
	}
	version := strings.TrimSpace(run(t, "dpkg-deb", "-f", debs["amd64"], "Version"))

	t.Run("binaries of each architecture", func(t *testing.T) {
		want := map[string]struct {
			machine elf.Machine
			goarm   string
		}{"amd64": {elf.EM_X86_64, ""}, "arm64": {elf.EM_AARCH64, ""}, "armhf": {elf.EM_ARM, "7"}}
		for arch, deb := range debs {
			if got := strings.TrimSpace(run(t, "dpkg-deb", "-f", deb, "Architecture")); got != arch {
				t.Errorf("%s: Architecture %q", deb, got)
			}
			dir := t.TempDir()
			run(t, "dpkg-deb", "-x", deb, dir)
			for _, bin := range []string{"anxin", "anxinctl", "firmware-sim"} {
				path := filepath.Join(dir, "usr", "bin", bin)
				f, err := elf.Open(path)
				if err != nil {
					t.Fatalf("%s %s: %v", arch, bin, err)
				}
				machine := f.Machine
				f.Close()
				bi, err := buildinfo.ReadFile(path)
				if err != nil {
					t.Fatalf("%s %s: %v", arch, bin, err)
				}
				settings := map[string]string{}
				for _, s := range bi.Settings {
					settings[s.Key] = s.Value
				}
				if machine != want[arch].machine || settings["CGO_ENABLED"] != "0" || settings["GOARM"] != want[arch].goarm {
					t.Errorf("%s %s: machine %v, CGO_ENABLED=%q, GOARM=%q; want %v, 0, %q",
						arch, bin, machine, settings["CGO_ENABLED"], settings["GOARM"], want[arch].machine, want[arch].goarm)
				}
			}
		}
	})

	start = time.Now()
	t.Cleanup(func() { exec.Command("dpkg", "--purge", "anxin").Run() })
	run(t, "dpkg", "-i", debs["amd64"])

	t.Run("installed", func(t *testing.T) {
		u, err := user.Lookup("anxin")
		if err != nil {
			t.Fatalf("no anxin user: %v", err)
		}
		checkOwner(t, "/var/lib/anxin", u.Username, "anxin", os.ModeDir|0o750)
		if u.HomeDir != "/var/lib/anxin" {
			t.Errorf("anxin's home is %s", u.HomeDir)
		}
		checkOwner(t, "/etc/anxin", "root", "anxin", os.ModeDir|0o750)
		checkOwner(t, "/etc/anxin/anxin.yaml", "root", "anxin", 0o640)
		if conf := run(t, "dpkg-query", "-W", "-f=${Conffiles}", "anxin"); !strings.Contains(conf, "/etc/anxin/anxin.yaml ") {
			t.Errorf("/etc/anxin/anxin.yaml is not a conffile: %q", conf)
		}
		for _, bin := range []string{"anxin", "anxinctl", "firmware-sim"} {
			got := run(t, "/usr/bin/"+bin, "--version")
			if !strings.HasPrefix(got, bin+" "+version+" (revision ") {
				t.Errorf("/usr/bin/%s --version = %q, want version %s", bin, got, version)
			}
		}
	})

	t.Run("systemd-analyze verify", func(t *testing.T) {
		for _, u := range []string{unit, backupUnit, backupTimer, edgeUnit} {
			out, err := exec.Command("systemd-analyze", "verify", u).CombinedOutput()
			if err != nil || bytes.Contains(out, []byte(filepath.Base(u))) {
				t.Errorf("systemd-analyze verify %s: %v\n%s", u, err, out)
			}
		}
		checkOwner(t, "/var/backups/anxin", "anxin", "anxin", os.ModeDir|0o750)
	})

	t.Run("the packaged config, as the anxin user", func(t *testing.T) {
		got := run(t, "runuser", "-u", "anxin", "--", "/usr/bin/anxin", "check-config", "/etc/anxin/anxin.yaml")
		if got != "ok: /etc/anxin/anxin.yaml\n" {
			t.Fatalf("anxin check-config: %q", got)
		}
	})

	t.Run("installing again", func(t *testing.T) {
		uid := run(t, "id", "-u", "anxin")
		run(t, "dpkg", "-i", debs["amd64"])
		if again := run(t, "id", "-u", "anxin"); again != uid {
			t.Errorf("anxin's uid went from %s to %s", uid, again)
		}
		checkOwner(t, "/var/lib/anxin", "anxin", "anxin", os.ModeDir|0o750)
	})

	t.Run("remove keeps the config, purge removes it", func(t *testing.T) {
		run(t, "dpkg", "-r", "anxin")
		if _, err := os.Stat("/usr/bin/anxin"); !os.IsNotExist(err) {
			t.Errorf("/usr/bin/anxin after dpkg -r: %v", err)
		}
		if _, err := os.Stat("/etc/anxin/anxin.yaml"); err != nil {
			t.Errorf("the conffile after dpkg -r: %v", err)
		}
		run(t, "dpkg", "--purge", "anxin")
		for _, p := range []string{"/etc/anxin", unit, edgeUnit} {
			if _, err := os.Stat(p); !os.IsNotExist(err) {
				t.Errorf("%s after dpkg --purge: %v", p, err)
			}
		}
	})
	t.Logf("deb: built amd64, arm64, armhf in %s; amd64 installed, verified and purged in %s",
		built.Round(100*time.Millisecond), time.Since(start).Round(100*time.Millisecond))
}

func checkOwner(t *testing.T, path, owner, group string, mode os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Error(err)
		return
	}
	st := fi.Sys().(*syscall.Stat_t)
	gotOwner, gotGroup := strconv.FormatUint(uint64(st.Uid), 10), strconv.FormatUint(uint64(st.Gid), 10)
	if u, err := user.LookupId(gotOwner); err == nil {
		gotOwner = u.Username
	}
	if g, err := user.LookupGroupId(gotGroup); err == nil {
		gotGroup = g.Name
	}
	if gotOwner != owner || gotGroup != group || fi.Mode() != mode {
		t.Errorf("%s: %v %s:%s, want %v %s:%s", path, fi.Mode(), gotOwner, gotGroup, mode, owner, group)
	}
}
