package gateway_test

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/internal/sdnotify"
)

// notifySocket is a real unixgram socket standing in for systemd's
// $NOTIFY_SOCKET, and the datagrams that arrive on it.
func notifySocket(t *testing.T) (string, <-chan string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	out := make(chan string, 4096)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			out <- string(buf[:n])
		}
	}()
	return path, out
}

func nextDatagram(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no datagram on the notify socket within 10 s")
		return ""
	}
}

// TestSystemdWatchdogFollowsTheStore: a gateway run as by systemd
// (Type=notify, WatchdogSec) sends READY=1 once it serves, then WATCHDOG=1
// pings; when its disk fills and a commit fails it stops pinging (systemd
// would restart it) and says why in a STATUS line; once space returns the
// pings resume. The store is a real bbolt file on a full tmpfs (root).
func TestSystemdWatchdogFollowsTheStore(t *testing.T) {
	dataDir := mountTmpfs(t, "16m")
	sock, got := notifySocket(t)
	const watchdog = 200 * time.Millisecond
	g := gatewaytest.Start(t, gateway.Config{DataDir: dataDir},
		func(d *gateway.Deps) { d.Systemd = sdnotify.New(sock, watchdog) })
	if m := nextDatagram(t, got); m != "READY=1" {
		t.Fatalf("first notification %q, want READY=1", m)
	}
	for range 3 {
		if m := nextDatagram(t, got); m != "WATCHDOG=1" {
			t.Fatalf("while healthy: %q, want WATCHDOG=1", m)
		}
	}

	// Devices keep pressing while the disk is full, as in the disk-full
	// test: their alarm writes fail, and so do the store's probe writes.
	devs := make([]*rawDevice, 8)
	for i := range devs {
		id := fmt.Sprintf("wd-%d", i)
		devs[i] = &rawDevice{addr: g.MQTTAddr(), id: id, password: g.Provision(id, "smoke_detector")}
	}
	free := fillDisk(t, dataDir)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, d := range devs {
		wg.Go(func() {
			defer d.close()
			for seq := 1; ; seq++ {
				d.publish(fmt.Sprintf(`{"seq":%d,"ts":%d,"type":"smoke.test"}`, seq, time.Now().UnixMilli()))
				select {
				case <-stop:
					return
				case <-time.After(10 * time.Millisecond):
				}
			}
		})
	}
	stopPressing := sync.OnceFunc(func() { close(stop); wg.Wait() })
	t.Cleanup(stopPressing)
	for m := nextDatagram(t, got); !strings.HasPrefix(m, "STATUS=unhealthy, watchdog not pinged: state store cannot commit"); m = nextDatagram(t, got) {
		if m != "WATCHDOG=1" {
			t.Fatalf("while the disk fills: %q", m)
		}
	}
	// Five more failed health checks, each a ping a healthy gateway sends:
	// none was sent.
	withheld := g.Metric("anxin_watchdog_pings_withheld_total")
	pollUntil(t, 10*time.Second, "five more withheld pings", func() bool {
		return g.Metric("anxin_watchdog_pings_withheld_total") >= withheld+5
	})
	select {
	case m := <-got:
		t.Fatalf("notification %q while the store fails", m)
	default:
	}

	stopPressing()
	free()
	if m := nextDatagram(t, got); m != "STATUS=healthy again" {
		t.Fatalf("after space returned: %q, want STATUS=healthy again", m)
	}
	if m := nextDatagram(t, got); m != "WATCHDOG=1" {
		t.Fatalf("after space returned: %q, want WATCHDOG=1", m)
	}
	g.Close()
	for {
		if m := nextDatagram(t, got); m == "STOPPING=1" {
			break
		} else if m != "WATCHDOG=1" {
			t.Fatalf("while closing: %q", m)
		}
	}
}
