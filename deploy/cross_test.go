package deploy_test

import (
	"debug/buildinfo"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCrossBuilds builds the three commands for the Raspberry Pi, as the
// packages do (CGO_ENABLED=0, -trimpath, -ldflags "-s -w"): linux/arm64 (a
// Pi 3, 4 or 5 with a 64-bit OS) and linux/arm with GOARM=7 (a Pi 2 or
// later with a 32-bit OS). Each must be an ELF of its machine, built with
// cgo off and its GOARM; the sizes go to the log ("cross: …" lines, which
// ./scripts/test.sh sums up). It builds six binaries, so it runs only when
// asked: ANXIN_CROSS_TEST=1 (./scripts/test.sh sets it).
func TestCrossBuilds(t *testing.T) {
	if os.Getenv("ANXIN_CROSS_TEST") != "1" {
		t.Skip("builds six binaries: runs with ANXIN_CROSS_TEST=1 (./scripts/test.sh sets it)")
	}
	goBin := need(t, "go")
	targets := []struct {
		goarch, goarm string
		machine       elf.Machine
	}{
		{"arm64", "", elf.EM_AARCH64},
		{"arm", "7", elf.EM_ARM},
	}
	out := t.TempDir()
	var summary []string
	for _, tg := range targets {
		platform := "linux/" + tg.goarch
		if tg.goarm != "" {
			platform += " GOARM=" + tg.goarm
		}
		var sizes []string
		for _, cmd := range []string{"anxin", "anxinctl", "firmware-sim"} {
			bin := filepath.Join(out, tg.goarch+tg.goarm, cmd)
			build := exec.Command(goBin, "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "../cmd/"+cmd)
			build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+tg.goarch, "GOARM="+tg.goarm)
			start := time.Now()
			if b, err := build.CombinedOutput(); err != nil {
				t.Fatalf("%s %s: go build: %v\n%s", platform, cmd, err, b)
			}
			f, err := elf.Open(bin)
			if err != nil {
				t.Fatalf("%s %s: %v", platform, cmd, err)
			}
			machine := f.Machine
			f.Close()
			bi, err := buildinfo.ReadFile(bin)
			if err != nil {
				t.Fatalf("%s %s: %v", platform, cmd, err)
			}
			settings := map[string]string{}
			for _, s := range bi.Settings {
				settings[s.Key] = s.Value
			}
			if machine != tg.machine || settings["CGO_ENABLED"] != "0" || settings["GOARM"] != tg.goarm {
				t.Errorf("%s %s: machine %v, CGO_ENABLED=%q, GOARM=%q; want %v, 0, %q",
					platform, cmd, machine, settings["CGO_ENABLED"], settings["GOARM"], tg.machine, tg.goarm)
			}
			fi, err := os.Stat(bin)
			if err != nil {
				t.Fatal(err)
			}
			sizes = append(sizes, fmt.Sprintf("%s %.1f MB", cmd, float64(fi.Size())/1e6))
			t.Logf("%s %s: %d bytes, built in %s", platform, cmd, fi.Size(), time.Since(start).Round(100*time.Millisecond))
		}
		summary = append(summary, platform+": "+strings.Join(sizes, ", "))
	}
	t.Logf("cross: %s", strings.Join(summary, "; "))
}
