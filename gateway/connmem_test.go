package gateway_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/gateway/registry"
)

// TestIdleConnectionMemory measures what one idle device connection costs
// the gateway (issue 16: 100,000 devices in 1.5 GiB). ANXIN_CONNMEM=N
// connects N provisioned devices over TCP with a hand-written MQTT 3.1.1
// CONNECT (no client library, so that the memory measured is the
// server's), waits for every CONNACK and a moment more, and logs the growth
// of the heap, the goroutine stacks and the process's RSS per connection.
// A measurement with no threshold: it runs only when asked, e.g.
//
//	ANXIN_CONNMEM=3000 go test -run TestIdleConnectionMemory -v ./gateway/
func TestIdleConnectionMemory(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("ANXIN_CONNMEM"))
	if n <= 0 {
		t.Skip("a measurement: set ANXIN_CONNMEM=N to connect N idle devices")
	}
	g := gatewaytest.Start(t, gateway.Config{})
	ds := make([]registry.Device, n)
	for i := range ds {
		ds[i] = registry.Device{ID: fmt.Sprintf("btn-%05d", i), Kind: "call_button"}
	}
	pws, errs, err := g.Registry().AddBatch(ds, registry.BatchOptions{By: "test", Now: time.Now()})
	if err != nil || errs[0] != nil {
		t.Fatal(err, errs[0])
	}
	before := memNow()
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i, d := range ds {
		c, err := net.Dial("tcp", g.MQTTAddr())
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, c)
		if _, err := c.Write(connectPacket(d.ID, pws[i], 600)); err != nil {
			t.Fatal(err)
		}
		ack := make([]byte, 4)
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, err := io.ReadFull(c, ack); err != nil || ack[0] != 0x20 || ack[3] != 0 {
			t.Fatalf("device %s: CONNACK % x, %v", d.ID, ack, err)
		}
	}
	connected := memNow()
	time.Sleep(3 * time.Second) // what grows after connect (the issue saw RSS rise)
	settled := memNow()
	for _, m := range []struct {
		name string
		at   memStats
	}{{"connected", connected}, {"3s later", settled}} {
		per := func(a, b uint64) float64 { return (float64(a) - float64(b)) / float64(n) / 1024 }
		t.Logf("%d idle connections, %s: per connection heap %.1f KiB, stacks %.1f KiB, RSS %.1f KiB; goroutines +%d",
			n, m.name, per(m.at.heap, before.heap), per(m.at.stack, before.stack), per(m.at.rss, before.rss),
			m.at.goroutines-before.goroutines)
	}
}

type memStats struct {
	heap, stack, rss uint64
	goroutines       int
}

func memNow() memStats {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memStats{heap: ms.HeapInuse, stack: ms.StackInuse, rss: rssBytes(), goroutines: runtime.NumGoroutine()}
}

// rssBytes is the process's resident set (Linux), 0 where unknown.
func rssBytes() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// connectPacket is an MQTT 3.1.1 CONNECT with a clean session, the device
// id as client id and user name, and keepalive seconds.
func connectPacket(id, password string, keepalive uint16) []byte {
	str := func(b *bytes.Buffer, s string) {
		b.WriteByte(byte(len(s) >> 8))
		b.WriteByte(byte(len(s)))
		b.WriteString(s)
	}
	var body bytes.Buffer
	str(&body, "MQTT")
	body.WriteByte(4)    // protocol level 3.1.1
	body.WriteByte(0xC2) // user name, password, clean session
	body.WriteByte(byte(keepalive >> 8))
	body.WriteByte(byte(keepalive))
	str(&body, id)
	str(&body, id)
	str(&body, password)
	return mqttPacket(0x10, body.Bytes())
}
