package gateway_test

import (
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/gateway/httpapi"
	"github.com/anxin-care/anxin/gateway/registry"
	"github.com/anxin-care/anxin/gateway/state"
)

func TestDeviceAuthentication(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	pwA := g.Provision("band-a", "safety_band")
	g.Provision("band-b", "safety_band")
	tests := []struct {
		name, clientID, user, password string
		ok                             bool
	}{
		{"right password", "band-a", "band-a", pwA, true},
		{"second connection of the same device", "band-a:listen", "band-a", pwA, true},
		{"wrong password", "band-a", "band-a", pwA + "x", false},
		{"empty password", "band-a", "band-a", "", false},
		{"unknown device", "band-z", "band-z", pwA, false},
		{"A's password for B", "band-b", "band-b", pwA, false},
		{"client id of another device", "band-b", "band-a", pwA, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := g.TryConnect(tt.clientID, tt.user, tt.password)
			if (err == nil) != tt.ok {
				t.Fatalf("connect ok = %v (err %v), want %v", err == nil, err, tt.ok)
			}
			if d != nil {
				d.Client.Disconnect(0)
			}
		})
	}
	t.Run("second connection keeping a session", func(t *testing.T) {
		// Every suffix would stay in the broker's memory: refused.
		c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + g.MQTTAddr()).SetClientID("band-a:keep").
			SetUsername("band-a").SetPassword(pwA).SetCleanSession(false).SetConnectTimeout(5 * time.Second))
		if tok := c.Connect(); tok.WaitTimeout(5*time.Second) && tok.Error() == nil {
			c.Disconnect(0)
			t.Fatal("a suffixed client id with a persistent session was let in")
		}
	})
}

func TestDeviceACL(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	pwA := g.Provision("band-a", "safety_band")
	pwB := g.Provision("band-b", "safety_band")
	b := g.ConnectDevice("band-b", pwB)

	t.Run("A cannot read B's cmd", func(t *testing.T) {
		a := g.ConnectDevice("band-a", pwA)
		tok := a.Client.Subscribe("anxin/v1/band-b/cmd", 1, nil).(*paho.SubscribeToken)
		tok.WaitTimeout(5 * time.Second)
		if code := tok.Result()["anxin/v1/band-b/cmd"]; code != 0x80 {
			t.Fatalf("SUBACK for B's cmd: %#x, want 0x80 (refused)", code)
		}
		for _, filter := range []string{"anxin/v1/+/cmd", "anxin/#", "#"} {
			tok := a.Client.Subscribe(filter, 1, nil).(*paho.SubscribeToken)
			tok.WaitTimeout(5 * time.Second)
			if code := tok.Result()[filter]; code != 0x80 {
				t.Errorf("SUBACK for %q: %#x, want 0x80", filter, code)
			}
		}
	})
	t.Run("A cannot publish as B", func(t *testing.T) {
		a := g.ConnectDevice("band-a", pwA)
		tok := a.Client.Publish("anxin/v1/band-b/event", 1, false, `{"seq":1,"type":"band.sos"}`)
		tok.WaitTimeout(3 * time.Second)
		// MQTT 3.1.1 has no refusal code: the broker drops the connection.
		deadline := time.Now().Add(3 * time.Second)
		for a.Client.IsConnectionOpen() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if a.Client.IsConnectionOpen() {
			t.Error("A is still connected after publishing as B")
		}
		if n := len(g.Engine().Open()); n != 0 {
			t.Fatalf("%d alarms raised by a forged publish", n)
		}
		select {
		case r := <-b.Cmds:
			t.Fatalf("B received %+v for an event it never sent", r)
		default:
		}
	})
	t.Run("B still works", func(t *testing.T) {
		b.Expect(b.Press("band.sos"), "received")
	})
}

func TestAPIAuthorization(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	op := g.AddUser("li", state.RoleOperator)
	inst := g.AddUser("zhao", state.RoleInstaller)
	dev := g.ConnectDevice("btn-1", g.Provision("btn-1", "call_button"))
	alarm := dev.Expect(dev.Press("call.press"), "received").Alarm
	wrong := g.Anonymous()
	wrong.Token = "not-a-token"

	tests := []struct {
		name   string
		client *gatewaytest.Client
		method string
		path   string
		body   any
		want   int
	}{
		{"no token", g.Anonymous(), "GET", "/api/v1/alarms", nil, 401},
		{"bad token", wrong, "GET", "/api/v1/alarms", nil, 401},
		{"no token on the stream", g.Anonymous(), "GET", "/api/v1/stream", nil, 401},
		{"operator reads alarms", op, "GET", "/api/v1/alarms", nil, 200},
		{"operator may not provision", op, "POST", "/api/v1/devices", map[string]any{"id": "x-1", "kind": "call_button"}, 403},
		{"operator may not remove devices", op, "DELETE", "/api/v1/devices/btn-1", nil, 403},
		{"operator may not add users", op, "POST", "/api/v1/users", map[string]any{"name": "m", "role": "admin", "password": "0123456789ab"}, 403},
		{"installer may not handle alarms", inst, "POST", "/api/v1/alarms/" + alarm + "/ack", nil, 403},
		{"installer provisions", inst, "POST", "/api/v1/devices", map[string]any{"id": "x-2", "kind": "smoke_detector"}, 201},
		{"wrong password", g.Anonymous(), "POST", "/api/v1/login", map[string]string{"user": "li", "password": "nope-nope-nope"}, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e httpapi.APIError
			code := tt.client.Do(tt.method, tt.path, tt.body, &e)
			if code != tt.want {
				t.Fatalf("HTTP %d, want %d", code, tt.want)
			}
			if code >= 400 && e.Error == "" {
				t.Fatal("error response without a JSON error message")
			}
		})
	}
}

func TestBadRequests(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	dev := g.ConnectDevice("btn-1", g.Provision("btn-1", "call_button"))
	alarm := dev.Expect(dev.Press("call.press"), "received").Alarm
	tests := []struct {
		name, method, path string
		body               any
		want               int
		says               string
	}{
		{"resolve without outcome", "POST", "/api/v1/alarms/" + alarm + "/resolve", map[string]string{}, 400, "outcome"},
		{"resolve with unknown outcome", "POST", "/api/v1/alarms/" + alarm + "/resolve", map[string]string{"outcome": "fine"}, 400, "outcome"},
		{"unknown field", "POST", "/api/v1/alarms/" + alarm + "/ack", map[string]string{"nte": "x"}, 400, "nte"},
		{"unknown alarm", "POST", "/api/v1/alarms/A-none/ack", nil, 404, "A-none"},
		{"empty note", "POST", "/api/v1/alarms/" + alarm + "/notes", map[string]string{"note": ""}, 400, "note"},
		{"bad state filter", "GET", "/api/v1/alarms?state=sleeping", nil, 400, "sleeping"},
		{"device with bad kind", "POST", "/api/v1/devices", map[string]string{"id": "d-1", "kind": "toaster"}, 400, "toaster"},
		{"device with bad id", "POST", "/api/v1/devices", map[string]string{"id": "a/b#", "kind": "call_button"}, 400, "device id"},
		{"device twice", "POST", "/api/v1/devices", map[string]string{"id": "btn-1", "kind": "call_button"}, 409, "exists"},
		{"unknown endpoint", "GET", "/api/v1/nothing", nil, 404, "no such endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e httpapi.APIError
			if code := g.Admin.Do(tt.method, tt.path, tt.body, &e); code != tt.want {
				t.Fatalf("HTTP %d (%q), want %d", code, e.Error, tt.want)
			}
			if !strings.Contains(e.Error, tt.says) {
				t.Fatalf("error %q does not say %q", e.Error, tt.says)
			}
		})
	}
	// Acknowledging twice is a conflict, not a silent success.
	g.Admin.Do("POST", "/api/v1/alarms/"+alarm+"/ack", nil, nil)
	if code := g.Admin.Do("POST", "/api/v1/alarms/"+alarm+"/ack", nil, nil); code != 409 {
		t.Fatalf("second ack: HTTP %d, want 409", code)
	}
}

// online reads whether the API shows device id online.
func online(t *testing.T, g *gatewaytest.Gateway, id string) bool {
	t.Helper()
	var d struct{ Health registry.Health }
	if code := g.Admin.Do("GET", "/api/v1/devices/"+id, nil, &d); code != 200 {
		t.Fatalf("GET device %s: HTTP %d", id, code)
	}
	return d.Health.Online
}

// waitOnline waits until the API shows device id online (or offline).
func waitOnline(t *testing.T, g *gatewaytest.Gateway, id string, want bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for online(t, g, id) != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s online = %v after 5 s, want %v", id, !want, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestClientIDBelongsToAccount: a client id belongs to one account, bridge
// or device: the Zigbee2MQTT bridge's credentials with device B's client id
// are refused, and B keeps its session and its answers. A device shown
// online is one with a connection up.
func TestClientIDBelongsToAccount(t *testing.T) {
	g := z2mGateway(t)
	pwB := g.Provision("band-b", "safety_band")
	b := g.ConnectDevice("band-b", pwB)
	waitOnline(t, g, "band-b", true)

	for _, id := range []string{"band-b", "band-b:x", "other"} {
		raw := gatewaytest.DialRaw(t, g.MQTTAddr())
		ack, err := raw.Connect(gatewaytest.RawConnect{ClientID: id, User: "z2m", Pass: bridgePassword})
		if err == nil && ack.ReasonCode == 0 {
			t.Fatalf("the bridge's login with client id %q was accepted", id)
		}
	}
	if !b.Client.IsConnectionOpen() {
		t.Fatal("B was kicked off by a bridge login with its client id")
	}
	b.Expect(b.Press("band.sos"), "received")
	if bridge, err := g.TryConnect("z2m:state", "z2m", bridgePassword); err != nil {
		t.Fatalf("the bridge with its own client id: %v", err)
	} else {
		bridge.Client.Disconnect(0)
	}

	// A second connection of B ends: B is still online, its first
	// connection is up. Then that one ends too: offline.
	tool, err := g.TryConnect("band-b:tool", "band-b", pwB)
	if err != nil {
		t.Fatal(err)
	}
	if err := tool.Publish("telemetry", `{"battery":80}`); err != nil {
		t.Fatal(err)
	}
	connected := func(n float64) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for g.Metric("anxin_mqtt_clients_connected") != n {
			if time.Now().After(deadline) {
				t.Fatalf("broker clients connected: %v, want %v", g.Metric("anxin_mqtt_clients_connected"), n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	connected(2)
	b.Client.Disconnect(0)
	connected(1)
	if !online(t, g, "band-b") {
		t.Fatal("B shown offline while its second connection is up")
	}
	tool.Client.Disconnect(0)
	waitOnline(t, g, "band-b", false)
}

// TestOnlineFollowsTakeover: a device that reconnects while its old
// connection is still open takes its session over and stays online; when
// the new connection ends, it is offline.
func TestOnlineFollowsTakeover(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	pw := g.Provision("btn-c", "call_button")
	first := gatewaytest.DialRaw(t, g.MQTTAddr())
	if ack, err := first.Connect(gatewaytest.RawConnect{ClientID: "btn-c", User: "btn-c", Pass: pw}); err != nil || ack.ReasonCode != 0 {
		t.Fatalf("connect: %v %+v", err, ack)
	}
	waitOnline(t, g, "btn-c", true)
	second := gatewaytest.DialRaw(t, g.MQTTAddr())
	if ack, err := second.Connect(gatewaytest.RawConnect{ClientID: "btn-c", User: "btn-c", Pass: pw}); err != nil || ack.ReasonCode != 0 {
		t.Fatalf("reconnect: %v %+v", err, ack)
	}
	first.WaitClosed(5 * time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for g.Metric("anxin_mqtt_clients_connected") != 1 { // the old connection's end is handled
		if time.Now().After(deadline) {
			t.Fatalf("clients connected: %v, want 1", g.Metric("anxin_mqtt_clients_connected"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !online(t, g, "btn-c") {
		t.Fatal("btn-c shown offline while its new connection is up")
	}
	second.Conn.Close()
	waitOnline(t, g, "btn-c", false)
}
