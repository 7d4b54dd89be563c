package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/gateway/state"
)

// presser is a device on the box's broker that presses with its own seq
// and, like real firmware, sends a press again (same seq) until it gets
// its PUBACK, reconnecting as often as it takes.
type presser struct {
	id, password string
	addr         func() string
	client       paho.Client
}

func (p *presser) publish(t *testing.T, payload string, deadline time.Time) {
	for time.Now().Before(deadline) {
		if p.client == nil || !p.client.IsConnected() {
			o := paho.NewClientOptions().AddBroker("tcp://" + p.addr()).SetClientID(p.id).
				SetUsername(p.id).SetPassword(p.password).SetAutoReconnect(false).
				SetConnectTimeout(2 * time.Second).SetCleanSession(true)
			c := paho.NewClient(o)
			if tok := c.Connect(); !tok.WaitTimeout(3*time.Second) || tok.Error() != nil {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			p.client = c
		}
		tok := p.client.Publish("anxin/v1/"+p.id+"/event", 1, false, payload)
		if tok.WaitTimeout(3*time.Second) && tok.Error() == nil {
			return // PUBACK: the box has it on disk
		}
		p.client.Disconnect(0)
		p.client = nil
	}
	t.Errorf("%s: no PUBACK for %s before the deadline", p.id, payload)
}

func (p *presser) close() {
	if p.client != nil {
		p.client.Disconnect(100)
	}
}

// boxConfig writes the box's config: its own broker and API on fixed
// addresses (devices and the test come back to them after a restart),
// the uplink to central, and the test-only fake pins for its LED and
// buzzer, whose levels go to pinsFile.
func boxConfig(t *testing.T, dir, mqtt, http, central, boxPW, pinsFile string) string {
	t.Helper()
	path := filepath.Join(dir, "anxin.yaml")
	writeFile(t, path, fmt.Sprintf(`mqtt_addr: %s
http_addr: %s
data_dir: %s
edge:
  box_id: box-1
  central:
    url: tcp://%s
    password: %s
  heartbeat: 2s
  confirm_timeout: 2s
  fake_pins_file: %s
  pins:
    led: GPIO27
    buzzer: GPIO18
`, mqtt, http, filepath.Join(dir, "data"), central, boxPW, pinsFile))
	return path
}

// TestEdgeOutage, with real processes: central stops; smoke on the box's
// broker sounds the buzzer at once; 50 presses across 5 devices, judged by
// their PUBACKs, while the box is killed with SIGKILL and started again;
// the LED shows "not yet delivered"; a nurse acknowledges an alarm on the
// box's own API. Central starts again: every press is at central exactly
// once, in order per device, and the nurse's acknowledgement is on
// central's timeline.
func TestEdgeOutage(t *testing.T) {
	const perDevice = 10
	bin := buildAt(t, ".")
	centralDir := t.TempDir()
	addAdmin(t, bin, centralDir)
	centralMQTT := freeAddr(t)
	centralArgs := []string{"-mqtt", centralMQTT, "-http", "127.0.0.1:0", "-data-dir", centralDir}
	central := runAnxin(t, bin, centralArgs...)
	admin := gatewaytest.LoginAt(t, central.base(), "admin", gatewaytest.AdminPassword)
	devs := map[string]string{"smoke-1": "smoke_detector"}
	for i := 1; i <= 5; i++ {
		devs[fmt.Sprintf("dev-%d", i)] = "call_button"
	}
	boxPW := centralSite(t, admin, devs)

	boxDir := t.TempDir()
	addAdmin(t, bin, filepath.Join(boxDir, "data"))
	pinsFile := filepath.Join(boxDir, "pins.log")
	boxMQTT, boxHTTP := freeAddr(t), freeAddr(t)
	cfg := boxConfig(t, boxDir, boxMQTT, boxHTTP, centralMQTT, boxPW, pinsFile)
	box := runAnxin(t, bin, "-config", cfg)
	boxAdmin := gatewaytest.LoginAt(t, box.base(), "admin", gatewaytest.AdminPassword)
	local := map[string]string{}
	for id, kind := range devs {
		local[id] = provisionAt(t, boxAdmin, map[string]any{"id": id, "kind": kind})
	}
	eventually(t, 15*time.Second, "box connected to central", func() bool { return edgeStatus(t, box.base()).Uplink == "up" })

	central.stop()
	eventually(t, 15*time.Second, "box sees the uplink down", func() bool { return edgeStatus(t, box.base()).Uplink == "down" })

	// Smoke with no uplink: the buzzer sounds at once.
	smoke := &presser{id: "smoke-1", password: local["smoke-1"], addr: func() string { return boxMQTT }}
	defer smoke.close()
	sent := time.Now()
	smoke.publish(t, fmt.Sprintf(`{"seq":1,"ts":%d,"type":"smoke.alarm"}`, sent.UnixMilli()), time.Now().Add(10*time.Second))
	pubacked := time.Now()
	if s := edgeStatus(t, box.base()); s.Buzzer != "hazard" {
		t.Fatalf("right after the smoke alarm's PUBACK the buzzer is %q, want hazard", s.Buzzer)
	}
	if bz := readFakePins(t, pinsFile)["GPIO18"]; len(bz) == 0 || !bz[len(bz)-1].at.After(sent) ||
		!slicesHasHighBetween(bz, sent, pubacked) {
		t.Fatalf("the buzzer pin did not go high between the smoke alarm's PUBLISH and its PUBACK: %v", bz)
	}

	eventually(t, 5*time.Second, "the buzzer pin sounds the temporal-three pattern (500 ms tones)", func() bool {
		return showsPattern(readFakePins(t, pinsFile)["GPIO18"], []time.Duration{ms(500), ms(500), ms(500), ms(500), ms(500)}, ms(100))
	})

	// 50 presses across 5 devices; the box is killed and restarted once
	// after the first 20 PUBACKs.
	var acked atomic.Int32
	var wg sync.WaitGroup
	deadline := time.Now().Add(90 * time.Second)
	for i := 1; i <= 5; i++ {
		p := &presser{id: fmt.Sprintf("dev-%d", i), password: local[fmt.Sprintf("dev-%d", i)], addr: func() string { return boxMQTT }}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer p.close()
			for seq := 1; seq <= perDevice; seq++ {
				p.publish(t, fmt.Sprintf(`{"seq":%d,"ts":%d,"type":"call.press"}`, seq, time.Now().UnixMilli()), deadline)
				acked.Add(1)
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	eventually(t, 30*time.Second, "20 presses acknowledged", func() bool { return acked.Load() >= 20 })
	box.kill()
	box = runAnxin(t, bin, "-config", cfg)
	wg.Wait()
	if n := acked.Load(); n != 50 {
		t.Fatalf("%d presses acknowledged by the box, want 50", n)
	}
	if s := edgeStatus(t, box.base()); s.QueueDepth < 50 {
		t.Fatalf("box queue holds %d, want the 50 presses and more (smoke) while central is down", s.QueueDepth)
	}
	eventually(t, 10*time.Second, "the LED shows \"not yet delivered\" (100 on, 100 off, 100 on, 700 off)", func() bool {
		return showsPattern(readFakePins(t, pinsFile)["GPIO27"], []time.Duration{ms(100), ms(100), ms(100), ms(700)}, ms(60))
	})
	if s := edgeStatus(t, box.base()); s.Buzzer != "hazard" {
		t.Errorf("after the restart the buzzer is %q: the open smoke alarm should sound again", s.Buzzer)
	}

	// The night nurse acknowledges dev-1's call on the box during the outage.
	boxAdmin = gatewaytest.LoginAt(t, box.base(), "admin", gatewaytest.AdminPassword)
	localCall := alarmsOf(t, boxAdmin, "dev-1")
	if len(localCall) != 1 || localCall[0].State != alerting.Raised {
		t.Fatalf("dev-1 on the box: %+v, want one raised call", localCall)
	}
	if code := boxAdmin.Do("POST", "/api/v1/alarms/"+localCall[0].ID+"/ack", map[string]string{"note": "on my way, room 3"}, nil); code != 200 {
		t.Fatalf("ack on the box: HTTP %d", code)
	}

	// Central comes back.
	central = runAnxin(t, bin, centralArgs...)
	admin = gatewaytest.LoginAt(t, central.base(), "admin", gatewaytest.AdminPassword)
	eventually(t, 60*time.Second, "every press at central and the box's queue empty", func() bool {
		for i := 1; i <= 5; i++ {
			as := alarmsOf(t, admin, fmt.Sprintf("dev-%d", i))
			if len(as) != 1 || as[0].Count != perDevice {
				return false
			}
		}
		return edgeStatus(t, box.base()).QueueDepth == 0
	})
	call := alarmsOf(t, admin, "dev-1")[0]
	if call.State != alerting.Acknowledged || !timelineHas(call, "acknowledged at box box-1", "on my way, room 3") {
		t.Fatalf("dev-1's call at central: %s, timeline %+v; want the box's acknowledgement on it", call.State, call.Timeline)
	}
	if s := alarmsOf(t, admin, "smoke-1"); len(s) != 1 || s[0].Type != alerting.TypeSmoke {
		t.Fatalf("smoke-1 at central: %+v", s)
	}

	// Exactly once and in order: central's idempotency records, one per
	// (device, seq), were written in seq order for every device.
	central.stop()
	db, err := state.Open(centralDir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := 1; i <= 5; i++ {
		dev := fmt.Sprintf("dev-%d", i)
		var prev time.Time
		for seq := uint64(1); seq <= perDevice+1; seq++ {
			s, ok, err := db.Seen(dev, seq)
			if err != nil {
				t.Fatal(err)
			}
			if seq == perDevice+1 {
				if ok {
					t.Errorf("%s: central has a seq %d nobody pressed", dev, seq)
				}
				break
			}
			if !ok {
				t.Fatalf("%s seq %d never reached central", dev, seq)
			}
			if s.At.Before(prev) {
				t.Errorf("%s seq %d reached central at %s, before seq %d (%s)", dev, seq, s.At, seq-1, prev)
			}
			prev = s.At
		}
	}
	if b, _ := os.ReadFile(pinsFile); len(b) == 0 {
		t.Fatal("no pin levels recorded")
	}
}

func slicesHasHighBetween(ts []transition, from, to time.Time) bool {
	for _, x := range ts {
		if x.high && !x.at.Before(from) && !x.at.After(to) {
			return true
		}
	}
	return false
}

func timelineHas(a alerting.Alarm, parts ...string) bool {
	for _, e := range a.Timeline {
		ok := e.Action == alerting.ActAcknowledged
		for _, p := range parts {
			ok = ok && strings.Contains(e.Note, p)
		}
		if ok {
			return true
		}
	}
	return false
}
