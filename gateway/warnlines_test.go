package gateway_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
)

// maxWarnLine is how long a WARN or ERROR line from bad input may be: a
// line a person reads in journalctl, not a packet or a struct.
const maxWarnLine = 300

// TestBadInputWarnLinesAreShort drives every known way a device or a
// stranger sends bad input (a refused publish, bad CONNECTs, an oversize
// packet, bad and huge JSON, a huge login name) in both log formats, and checks each WARN and
// ERROR line the gateway writes: short, and no Go struct or map dump.
func TestBadInputWarnLinesAreShort(t *testing.T) {
	for _, format := range []string{gateway.LogText, gateway.LogJSON} {
		t.Run(format, func(t *testing.T) {
			var log logBuffer
			g := gatewaytest.Start(t, gateway.Config{LogFormat: format},
				gatewaytest.WithLogger(gateway.NewLogger(&log, "info", format)))
			pw := g.Provision("btn-a", "call_button")
			g.Provision("btn-b", "call_button")
			big := strings.Repeat("x", 3800)

			// Bad CONNECTs: a wrong password, an unknown user, a client id
			// that is not the device's, a huge made-up user name.
			for _, c := range []gatewaytest.RawConnect{
				{ClientID: "btn-a", User: "btn-a", Pass: "wrong-password"},
				{ClientID: "nobody", User: "nobody", Pass: "x"},
				{ClientID: "someone-else", User: "btn-a", Pass: pw},
				{ClientID: big[:1000], User: big[:1000], Pass: big[:1000]},
			} {
				raw := gatewaytest.DialRaw(t, g.MQTTAddr())
				if ack, err := raw.Connect(c); err == nil && ack.ReasonCode == 0 {
					t.Fatalf("CONNECT %.20s… accepted", c.User)
				}
			}
			// A CONNECT that is not MQTT at all.
			raw := gatewaytest.DialRaw(t, g.MQTTAddr())
			raw.Conn.Write([]byte{0x10, 0x0c, 0, 4, 'X', 'Q', 'T', 'T', 9, 0xc2, 0, 60, 0, 0})
			raw.WaitClosed(5 * time.Second)

			// A login with a made-up name of 200 bytes.
			if code := g.Anonymous().Do("POST", "/api/v1/login", map[string]string{"user": big[:200] + "张", "password": "x"}, nil); code != 401 {
				t.Errorf("login with a 200-byte name: HTTP %d, want 401", code)
			}

			// A publish outside the ACL, with a big payload.
			raw = gatewaytest.DialRaw(t, g.MQTTAddr())
			if ack, err := raw.Connect(gatewaytest.RawConnect{ClientID: "btn-a", User: "btn-a", Pass: pw}); err != nil || ack.ReasonCode != 0 {
				t.Fatalf("connect: %v %+v", err, ack)
			}
			raw.Publish("anxin/v1/btn-b/event", 1, false, []byte(big), 1)
			raw.WaitClosed(5 * time.Second)

			// An oversize packet.
			raw = gatewaytest.DialRaw(t, g.MQTTAddr())
			if ack, err := raw.Connect(gatewaytest.RawConnect{ClientID: "btn-a", User: "btn-a", Pass: pw}); err != nil || ack.ReasonCode != 0 {
				t.Fatalf("connect: %v %+v", err, ack)
			}
			raw.Publish("anxin/v1/btn-a/event", 1, false, bytes.Repeat([]byte("y"), 6000), 1)
			raw.WaitClosed(5 * time.Second)

			// Bad JSON, and JSON that echoes a device's long strings back:
			// each from a device of its own, so that no line is held back
			// by the per-device rate of refusal lines.
			for i, p := range []struct{ channel, payload string }{
				{"event", `press!` + big[:1000]},
				{"event", `{"seq":1,"type":"` + big[:3500] + `"}`},
				{"event", `{"seq":2,"type":"call.press","data":{"` + big[:3000] + `":1}}`},
				{"event", `{"seq":"` + big[:3500] + `","type":"call.press"}`},
				{"event", `{"seq":3,"type":"call.press","ts":"` + big[:3500] + `"}`},
				{"telemetry", `{"battery":"` + big[:3500] + `"}`},
				{"status", `{"online":"` + big[:3500] + `"}`},
			} {
				id := fmt.Sprintf("btn-json-%d", i)
				dev := g.ConnectDevice(id, g.Provision(id, "call_button"))
				if err := dev.Publish(p.channel, p.payload); err != nil {
					t.Fatal(err)
				}
				dev.Expect(dev.Press("call.press"), "received") // the bad one before it was handled
			}

			warns := 0
			for line := range strings.Lines(log.String()) {
				line = strings.TrimSuffix(line, "\n")
				level := ""
				if format == gateway.LogJSON {
					var rec struct{ Level string }
					if err := json.Unmarshal([]byte(line), &rec); err != nil {
						t.Errorf("not a JSON line: %.200s", line)
						continue
					}
					level = rec.Level
				} else if _, after, ok := strings.Cut(line, " level="); ok {
					level, _, _ = strings.Cut(after, " ")
				}
				if level != "WARN" && level != "ERROR" {
					continue
				}
				warns++
				if len(line) > maxWarnLine {
					t.Errorf("a %s line of %d bytes (want under %d): %.400s", level, len(line), maxWarnLine, line)
				}
				for _, dump := range []string{"&{", "map[", "{[", "0xc0"} {
					if strings.Contains(line, dump) {
						t.Errorf("a %s line with Go value syntax %q: %s", level, dump, line)
					}
				}
			}
			if warns < 13 {
				t.Errorf("only %d WARN lines for all that bad input; the log:\n%s", warns, log.String())
			}
		})
	}
}
