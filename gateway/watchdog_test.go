package gateway_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anxin-care/anxin/internal/sdnotify/sdnotifytest"

	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/internal/sdnotify"
)

// TestSystemdWatchdogFollowsTheStore: a gateway run as by systemd
// (Type=notify, WatchdogSec) sends READY=1 once it serves, then WATCHDOG=1
// pings; when its disk fills and a commit fails it stops pinging (systemd
// would restart it) and says why in a STATUS line; once space returns the
// pings resume. The store is a real bbolt file on a full tmpfs (root).
func TestSystemdWatchdogFollowsTheStore(t *testing.T) {
	dataDir := mountTmpfs(t, "16m")
	notify := sdnotifytest.Listen(t)
	sock := notify.Path
	const watchdog = 200 * time.Millisecond
	g := gatewaytest.Start(t, gateway.Config{DataDir: dataDir},
		func(d *gateway.Deps) { d.Systemd = sdnotify.New(sock, watchdog) })
	if m := notify.Next(t, 10*time.Second); m != "READY=1" {
		t.Fatalf("first notification %q, want READY=1", m)
	}
	for range 3 {
		if m := notify.Next(t, 10*time.Second); m != "WATCHDOG=1" {
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
	for m := notify.Next(t, 10*time.Second); !strings.HasPrefix(m, "STATUS=unhealthy, watchdog not pinged: state store cannot commit"); m = notify.Next(t, 10*time.Second) {
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
	if m, ok := notify.Pending(); ok {
		t.Fatalf("notification %q while the store fails", m)
	}

	stopPressing()
	free()
	if m := notify.Next(t, 10*time.Second); m != "STATUS=healthy again" {
		t.Fatalf("after space returned: %q, want STATUS=healthy again", m)
	}
	if m := notify.Next(t, 10*time.Second); m != "WATCHDOG=1" {
		t.Fatalf("after space returned: %q, want WATCHDOG=1", m)
	}
	g.Close()
	for {
		if m := notify.Next(t, 10*time.Second); m == "STOPPING=1" {
			break
		} else if m != "WATCHDOG=1" {
			t.Fatalf("while closing: %q", m)
		}
	}
}
