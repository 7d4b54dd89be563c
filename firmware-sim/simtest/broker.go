// Package simtest holds test helpers for firmware-sim and for anyone who
// drives simulated devices in a test: an embedded MQTT broker on a random
// 127.0.0.1 port and a fake gateway that answers events with reassurances.
//
// It is the only place under firmware-sim that imports mochi-mqtt, and only
// tests import it. The fake gateway decodes every payload with the real
// devices.DecodeNative, so a test that passes here also proves the simulator
// speaks the wire format the gateway accepts.
package simtest

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"testing"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/anxin-care/anxin/mqttlisten"
)

// Broker is an embedded broker that lets every client in.
type Broker struct {
	URL    string // tcp://127.0.0.1:port
	Server *mochi.Server
}

// StartBroker starts a broker on 127.0.0.1:0 and closes it when t ends.
func StartBroker(t testing.TB) *Broker {
	t.Helper()
	srv := mochi.New(&mochi.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := srv.AddHook(new(allowAll), nil); err != nil {
		t.Fatalf("add allow hook: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	// Not mochi's TCP listener: its close path can deadlock (see mqttlisten).
	tcp := mqttlisten.New("t", ln, srv)
	if err := srv.AddListener(tcp); err != nil {
		t.Fatalf("listen: %v", err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatalf("serve: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return &Broker{URL: "tcp://" + tcp.Address(), Server: srv}
}

// allowAll lets every client connect and use every topic. It is mochi's
// auth.AllowHook in five lines, without that package's YAML dependency.
type allowAll struct{ mochi.HookBase }

func (h *allowAll) ID() string { return "allow-all" }

func (h *allowAll) Provides(b byte) bool {
	return bytes.Contains([]byte{mochi.OnConnectAuthenticate, mochi.OnACLCheck}, []byte{b})
}

func (h *allowAll) OnConnectAuthenticate(*mochi.Client, packets.Packet) bool { return true }

func (h *allowAll) OnACLCheck(*mochi.Client, string, bool) bool { return true }

// Retained returns the retained message of topic, nil if none.
func (b *Broker) Retained(topic string) []byte {
	for _, pk := range b.Server.Topics.Messages(topic) {
		return pk.Payload
	}
	return nil
}
