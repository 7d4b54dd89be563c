package gateway_test

import (
	"strings"
	"testing"
	"time"

	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/edge"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
)

// TestEdgeUplinkOverTLS: a box reaches central's TLS listener with the CA
// it is given and forwards a press there; a box that does not trust
// central's certificate stays down and says why.
func TestEdgeUplinkOverTLS(t *testing.T) {
	certFile, keyFile, _ := selfSigned(t)
	central := gatewaytest.Start(t, gateway.Config{MQTTTLSAddr: "127.0.0.1:0", TLSCertFile: certFile, TLSKeyFile: keyFile})
	central.SeedSites()
	boxPW := central.ProvisionWith(map[string]any{"id": "box-1", "kind": "edge_box", "site": "home-12"})
	central.ProvisionWith(map[string]any{"id": "btn-1", "kind": "call_button", "site": "home-12-bedroom", "edge": "box-1"})

	startBox := func(ca string) *gatewaytest.Gateway {
		return gatewaytest.Start(t, gateway.Config{Edge: edge.Config{BoxID: "box-1",
			Central: edge.CentralConfig{URL: "ssl://" + central.MQTTTLSAddr(), Password: boxPW, CAFile: ca}}})
	}
	waitStatus := func(box *gatewaytest.Gateway, what string, ok func(edge.Status) bool) edge.Status {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			s, _ := box.EdgeStatus()
			if ok(s) {
				return s
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: status %+v", what, s)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	t.Run("untrusted certificate", func(t *testing.T) {
		box := startBox("")
		s := waitStatus(box, "an error about the certificate", func(s edge.Status) bool { return s.LastError != "" })
		if s.Uplink != "down" || !strings.Contains(s.LastError, "certificate") {
			t.Fatalf("status %+v: want down, with a certificate error", s)
		}
		box.Close()
	})
	t.Run("trusted", func(t *testing.T) {
		box := startBox(certFile)
		waitStatus(box, "uplink up", func(s edge.Status) bool { return s.Uplink == "up" })
		dev := box.ConnectDevice("btn-1", box.Provision("btn-1", "call_button"))
		dev.Press("call.press")
		waitStatus(box, "queue sent", func(s edge.Status) bool { return s.QueueDepth == 0 })
		if open := central.Engine().Open(); len(open) != 1 || open[0].Device != "btn-1" {
			t.Fatalf("central's open alarms %+v: want btn-1's call", open)
		}
	})
}
