package sdnotify_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anxin-care/anxin/internal/sdnotify/sdnotifytest"

	"github.com/anxin-care/anxin/internal/sdnotify"
)

func TestFromEnv(t *testing.T) {
	tests := []struct {
		name              string
		socket, usec, pid string
		wantNil           bool
		wantWatchdog      time.Duration
		wantErr           string
	}{
		{name: "not under systemd", wantNil: true},
		{name: "notify only", socket: "/run/x.sock"},
		{name: "watchdog", socket: "@abstract", usec: "30000000", wantWatchdog: 30 * time.Second},
		{name: "watchdog of another process", socket: "/run/x.sock", usec: "30000000", pid: "1"},
		{name: "bad watchdog", socket: "/run/x.sock", usec: "soon", wantErr: "WATCHDOG_USEC"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("NOTIFY_SOCKET", tt.socket)
			t.Setenv("WATCHDOG_USEC", tt.usec)
			t.Setenv("WATCHDOG_PID", tt.pid)
			n, err := sdnotify.FromEnv()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil || (n == nil) != tt.wantNil {
				t.Fatalf("FromEnv = %+v, %v", n, err)
			}
			if n != nil && n.Watchdog != tt.wantWatchdog {
				t.Fatalf("watchdog %v, want %v", n.Watchdog, tt.wantWatchdog)
			}
		})
	}
}

// TestWatchPingsOnlyWhileHealthy over a real unixgram socket: READY=1
// arrives once; WATCHDOG=1 pings come while the health check passes, stop
// (with one STATUS line saying why) while it fails, and come back after.
func TestWatchPingsOnlyWhileHealthy(t *testing.T) {
	notify := sdnotifytest.Listen(t)
	path := notify.Path
	n := sdnotify.New(path, 40*time.Millisecond)
	if err := n.Send("READY=1"); err != nil {
		t.Fatal(err)
	}
	if m := notify.Next(t, 5*time.Second); m != "READY=1" {
		t.Fatalf("first datagram %q, want READY=1", m)
	}
	var failing atomic.Bool
	failedChecks := make(chan struct{}, 64)
	storeErr := errors.New("state store cannot commit: no space left on device")
	unhealthy := make(chan error, 4)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.Watch(ctx, func() error {
			if failing.Load() {
				select {
				case failedChecks <- struct{}{}:
				default:
				}
				return storeErr
			}
			return nil
		}, func(err error) { unhealthy <- err })
	}()
	for range 3 {
		if m := notify.Next(t, 5*time.Second); m != "WATCHDOG=1" {
			t.Fatalf("while healthy got %q, want WATCHDOG=1", m)
		}
	}
	failing.Store(true)
	// Pings already sent may still arrive; then the STATUS line, and after
	// it nothing but silence for as long as the store fails.
	for m := notify.Next(t, 5*time.Second); m != "STATUS=unhealthy, watchdog not pinged: "+storeErr.Error(); m = notify.Next(t, 5*time.Second) {
		if m != "WATCHDOG=1" {
			t.Fatalf("got %q while turning unhealthy", m)
		}
	}
	if err := <-unhealthy; err != storeErr {
		t.Fatalf("onUnhealthy heard %v", err)
	}
	// Five more failing checks, each a tick at which a healthy service
	// would have pinged: none came.
	for range 5 {
		select {
		case <-failedChecks:
		case <-time.After(5 * time.Second):
			t.Fatal("Watch stopped checking")
		}
	}
	if m, ok := notify.Pending(); ok {
		t.Fatalf("got %q while the store fails", m)
	}
	failing.Store(false)
	if m := notify.Next(t, 5*time.Second); m != "STATUS=healthy again" {
		t.Fatalf("after recovery got %q, want the STATUS line", m)
	}
	if m := notify.Next(t, 5*time.Second); m != "WATCHDOG=1" {
		t.Fatalf("after recovery got %q, want WATCHDOG=1", m)
	}
	cancel()
	<-done
	if m, ok := notify.Pending(); ok && m != "WATCHDOG=1" {
		t.Fatalf("after Watch returned: %q", m)
	}
}

// TestNilNotifier: outside systemd nothing is sent and nothing fails.
func TestNilNotifier(t *testing.T) {
	var n *sdnotify.Notifier
	if err := n.Send("READY=1"); err != nil {
		t.Fatal(err)
	}
	n.Watch(context.Background(), func() error { return nil }, nil) // returns at once
}
