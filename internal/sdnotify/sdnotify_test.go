package sdnotify_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anxin-care/anxin/internal/sdnotify"
)

// listen opens a real unixgram socket, as systemd's notify socket is, and
// returns its path and the datagrams that arrive on it.
func listen(t *testing.T) (string, <-chan string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	out := make(chan string, 1024)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(out)
				return
			}
			out <- string(buf[:n])
		}
	}()
	return path, out
}

// next waits for the next datagram.
func next(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no datagram within 5 s")
		return ""
	}
}

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
	path, got := listen(t)
	n := sdnotify.New(path, 40*time.Millisecond)
	if err := n.Send("READY=1"); err != nil {
		t.Fatal(err)
	}
	if m := next(t, got); m != "READY=1" {
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
		if m := next(t, got); m != "WATCHDOG=1" {
			t.Fatalf("while healthy got %q, want WATCHDOG=1", m)
		}
	}
	failing.Store(true)
	// Pings already sent may still arrive; then the STATUS line, and after
	// it nothing but silence for as long as the store fails.
	for m := next(t, got); m != "STATUS=unhealthy, watchdog not pinged: "+storeErr.Error(); m = next(t, got) {
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
	select {
	case m := <-got:
		t.Fatalf("got %q while the store fails", m)
	default:
	}
	failing.Store(false)
	if m := next(t, got); m != "STATUS=healthy again" {
		t.Fatalf("after recovery got %q, want the STATUS line", m)
	}
	if m := next(t, got); m != "WATCHDOG=1" {
		t.Fatalf("after recovery got %q, want WATCHDOG=1", m)
	}
	cancel()
	<-done
	select {
	case m := <-got:
		if m != "WATCHDOG=1" {
			t.Fatalf("after Watch returned: %q", m)
		}
	default:
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
