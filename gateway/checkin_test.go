package gateway_test

import (
	"encoding/json"
	"os/exec"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/alerting/alertingtest"
	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
)

// TestShortPressCheckin: with checkin_short_press, a short press of the
// resident's call button (data.press_ms under 1 s) is the day's check-in,
// answered checked_in, and raises no call; a long press, a press that
// does not say how long it was, or a short press without the rule, raises
// the P1 call and is answered received.
func TestShortPressCheckin(t *testing.T) {
	for _, c := range []struct {
		name    string
		rule    bool
		data    string // the event's data
		checkin bool   // want: a check-in, no call alarm
	}{
		{"short press", true, `{"press_ms":300}`, true},
		{"long press", true, `{"press_ms":3000}`, false},
		{"press at the limit", true, `{"press_ms":1000}`, false},
		{"press without a duration", true, `{}`, false},
		{"duration not a number", true, `{"press_ms":"300"}`, false},
		{"short press without the rule", false, `{"press_ms":300}`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			clock := alertingtest.NewClock(careStart) // 08:00 in Asia/Shanghai
			g := careGateway(t, clock, map[string]any{"wellbeing": map[string]any{"checkin_by": "09:00", "checkin_short_press": c.rule}})
			pw := g.ProvisionWith(map[string]any{"id": "btn-1", "kind": "call_button", "resident": "wang-xy",
				"site": "home-12-bedroom", "installed": true})
			btn := g.ConnectDevice("btn-1", pw)
			if err := btn.Publish("event", `{"seq":1,"type":"call.press","data":`+c.data+`}`); err != nil {
				t.Fatal(err)
			}
			want := "received"
			if c.checkin {
				want = gateway.StateCheckedIn
			}
			if r := btn.Expect(1, want); r.State != want {
				t.Fatalf("answered %q, want %q", r.State, want)
			}
			calls := openOfType(g, alerting.TypeCall)
			if c.checkin && len(calls) != 0 {
				t.Fatalf("a check-in press raised %d call alarms", len(calls))
			}
			if !c.checkin && (len(calls) != 1 || calls[0].Priority != alerting.P1) {
				t.Fatalf("%d call alarms %+v, want one P1", len(calls), calls)
			}
			g.Supervise(clock.Advance(time.Hour + time.Minute)) // 09:01
			missed := len(openOfType(g, gateway.TypeMissedCheckin))
			// Under the rule every press of the resident's button counts as
			// the check-in (a call one raises its alarm as well).
			if wantMissed := map[bool]int{true: 0, false: 1}[c.rule]; missed != wantMissed {
				t.Fatalf("%d missed check-in alarms at 09:01, want %d", missed, wantMissed)
			}
		})
	}
}

// TestShortPressRuleNeedsCheckinBy: a short press counts only where a
// check-in is expected; the rule alone is refused, naming the field.
func TestShortPressRuleNeedsCheckinBy(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	g.SeedSites()
	var e struct{ Error, Field string }
	code := g.Admin.Do("PATCH", "/api/v1/residents/wang-xy",
		map[string]any{"wellbeing": map[string]any{"no_activity_hours": 4, "checkin_short_press": true}}, &e)
	if code != 400 || e.Field != "wellbeing.checkin_short_press" {
		t.Fatalf("short-press rule without checkin_by: HTTP %d %+v, want 400 on wellbeing.checkin_short_press", code, e)
	}
}

// TestCheckinButtonsNeverCall: a dedicated check-in button, marked so or
// of kind checkin_button, native or behind Zigbee2MQTT (sent by
// mosquitto_pub) or a vendor's JSON, is the resident's check-in and never
// raises a call alarm, however it is pressed.
func TestCheckinButtonsNeverCall(t *testing.T) {
	pub := gatewaytest.NeedBinary(t, "mosquitto_pub")
	clock := alertingtest.NewClock(careStart)
	g := gatewaytest.Start(t, gateway.Config{
		Adapters: []devices.AdapterConfig{{Type: "zigbee2mqtt"},
			{Type: "vendor_json", Config: json.RawMessage(`{"vendor": "acme", "topic": "acme/{device}/up",
				"rules": [{"field": "key", "when": ["sos"], "event": "call.press", "trigger": "every"}]}`)}},
		Bridges: []gateway.Bridge{{User: "z2m", Password: bridgePassword, Topics: []string{"zigbee2mqtt/#", "acme/#"}}},
	}, gatewaytest.WithClock(clock.Now))
	g.SeedSites()
	if code := g.Admin.Do("PATCH", "/api/v1/residents/wang-xy", map[string]any{"wellbeing": map[string]any{"checkin_by": "09:00"}}, nil); code != 200 {
		t.Fatalf("set the check-in rule: HTTP %d", code)
	}
	host, port := mqttHostPort(t, g.MQTTAddr())
	bridged := func(topic, payload string) {
		t.Helper()
		out, err := exec.Command(pub, "-h", host, "-p", port, "-i", "z2m", "-u", "z2m", "-P", bridgePassword,
			"-q", "1", "-t", topic, "-m", payload).CombinedOutput()
		if err != nil {
			t.Fatalf("mosquitto_pub %s: %v: %s", topic, err, out)
		}
	}
	checkedIn := func(t *testing.T) {
		t.Helper()
		if calls := openOfType(g, alerting.TypeCall); len(calls) != 0 {
			t.Fatalf("a check-in button's press raised a call alarm: %+v", calls[0])
		}
		// The deadline passes: the press was the day's check-in.
		g.Supervise(clock.Advance(time.Hour + time.Minute))
		if n := len(openOfType(g, gateway.TypeMissedCheckin)); n != 0 {
			t.Fatalf("%d missed check-in alarms after the press", n)
		}
		clock.Advance(23*time.Hour - time.Minute) // 08:00 the next day
		g.Admin = g.Login("admin", gatewaytest.AdminPassword)
	}
	base := map[string]any{"resident": "wang-xy", "site": "home-12-bedroom", "installed": true}
	with := func(m map[string]any) map[string]any {
		for k, v := range base {
			m[k] = v
		}
		return m
	}

	t.Run("native, kind checkin_button", func(t *testing.T) {
		ck := g.ConnectDevice("ck-1", g.ProvisionWith(with(map[string]any{"id": "ck-1", "kind": "checkin_button"})))
		if err := ck.Publish("event", `{"seq":1,"type":"call.press","data":{"press_ms":5000}}`); err != nil {
			t.Fatal(err)
		}
		ck.Expect(1, gateway.StateCheckedIn)
		checkedIn(t)
	})
	t.Run("zigbee2mqtt, marked checkin", func(t *testing.T) {
		g.ProvisionWith(with(map[string]any{"id": "ck-z", "kind": "call_button", "checkin": true, "format": "zigbee2mqtt", "ref": "ck_button"}))
		bridged("zigbee2mqtt/ck_button", `{"action":"sos","battery":90,"linkquality":96}`)
		checkedIn(t)
	})
	t.Run("zigbee2mqtt, kind checkin_button", func(t *testing.T) {
		g.ProvisionWith(with(map[string]any{"id": "ck-z2", "kind": "checkin_button", "format": "zigbee2mqtt", "ref": "ck_button_2"}))
		bridged("zigbee2mqtt/ck_button_2", `{"action":"emergency","battery":90}`)
		checkedIn(t)
	})
	t.Run("vendor json", func(t *testing.T) {
		g.ProvisionWith(with(map[string]any{"id": "ck-v", "kind": "checkin_button", "format": "vendor_json:acme", "ref": "A77"}))
		bridged("acme/A77/up", `{"key":"sos"}`)
		checkedIn(t)
	})
	t.Run("a call button of the same home still calls", func(t *testing.T) {
		g.ProvisionWith(with(map[string]any{"id": "sos-z", "kind": "call_button", "format": "zigbee2mqtt", "ref": "sos_button"}))
		bridged("zigbee2mqtt/sos_button", `{"action":"sos"}`)
		if calls := openOfType(g, alerting.TypeCall); len(calls) != 1 || calls[0].Device != "sos-z" {
			t.Fatalf("call alarms %+v after an SOS press, want one of sos-z", calls)
		}
	})
}
