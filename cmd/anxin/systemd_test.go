package main

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/anxin-care/anxin/internal/sdnotify/sdnotifytest"
)

// TestSystemdNotify runs the real binary as systemd runs it under
// deploy/systemd/anxin-edge.service (Type=notify, WatchdogSec): with
// $NOTIFY_SOCKET a real unixgram socket and $WATCHDOG_USEC set, it says
// READY=1 once, then pings WATCHDOG=1 at half the interval; SIGTERM makes
// it say STOPPING=1 and exit 0.
func TestSystemdNotify(t *testing.T) {
	bin := buildAt(t, ".")
	notify := sdnotifytest.Listen(t)
	sock := notify.Path
	next := func() string { t.Helper(); return notify.Next(t, 30*time.Second) }
	cmd := exec.Command(bin, "-mqtt", "127.0.0.1:0", "-http", "127.0.0.1:0", "-data-dir", t.TempDir())
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=200000", "WATCHDOG_PID=")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	if m := next(); m != "READY=1" {
		t.Fatalf("first notification %q, want READY=1", m)
	}
	start := time.Now()
	for range 3 {
		if m := next(); m != "WATCHDOG=1" {
			t.Fatalf("after READY=1: %q, want WATCHDOG=1", m)
		}
	}
	// Three pings at 100 ms: well under the 200 ms a watchdog allows.
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("three pings took %s with WatchdogSec=200ms", d)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for m := next(); m != "STOPPING=1"; m = next() {
		if m != "WATCHDOG=1" {
			t.Fatalf("while stopping: %q", m)
		}
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Fatalf("exit after SIGTERM: %v", waitErr)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("still running 20 s after SIGTERM")
	}
}
