package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/gateway/state"
)

// These tests speak to the gateway with Debian's mosquitto_pub and
// mosquitto_sub (package mosquitto-clients): a client nobody here wrote, so
// the device protocol is checked against someone else's reading of MQTT,
// not only against paho's. ./scripts/test.sh installs them; without them
// the tests skip, or fail when CI=true.

// TestMosquittoPressAndAck: a press published by mosquitto_pub raises the
// alarm, and mosquitto_sub, acting as the same device on a second
// connection ({id}:sub), hears "received"; when an operator acknowledges
// through the API it hears "acknowledged".
func TestMosquittoPressAndAck(t *testing.T) {
	pub := gatewaytest.NeedBinary(t, "mosquitto_pub")
	subBin := gatewaytest.NeedBinary(t, "mosquitto_sub")
	g := gatewaytest.Start(t, gateway.Config{})
	const id = "btn-mosq"
	pw := g.Provision(id, "call_button")
	op := g.AddUser("zhao", state.RoleOperator)
	host, port := mqttHostPort(t, g.MQTTAddr())
	device := []string{"-h", host, "-p", port, "-u", id, "-P", pw}

	sub := startMosquittoSub(t, subBin, append(device, "-i", id+":sub", "-t", "anxin/v1/"+id+"/cmd", "-q", "1", "-C", "1", "-W", "10"))
	press := fmt.Sprintf(`{"seq":7,"ts":%d,"type":"call.press"}`, time.Now().UnixMilli())
	if out, err := exec.Command(pub, append(device, "-i", id, "-t", "anxin/v1/"+id+"/event", "-q", "1", "-m", press)...).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub: %v\n%s", err, out)
	}
	received := sub.reassurance(t)
	if received.Type != "reassure" || received.Seq != 7 || received.State != "received" || !strings.HasPrefix(received.Alarm, "A-") {
		t.Fatalf("mosquitto_sub got %+v, want reassure seq 7 received A-…", received)
	}
	var a alerting.Alarm
	if code := op.Do("GET", "/api/v1/alarms/"+received.Alarm, nil, &a); code != 200 {
		t.Fatalf("GET alarm %s: HTTP %d", received.Alarm, code)
	}
	if a.Device != id || a.Type != alerting.TypeCall || a.Priority != alerting.P1 || a.State != alerting.Raised || a.Count != 1 || a.Seq != 7 {
		t.Fatalf("alarm from mosquitto_pub: %+v", a)
	}

	sub = startMosquittoSub(t, subBin, append(device, "-i", id+":sub", "-t", "anxin/v1/"+id+"/cmd", "-q", "1", "-C", "1", "-W", "10"))
	if code := op.Do("POST", "/api/v1/alarms/"+a.ID+"/ack", map[string]string{"note": "on the phone with her"}, nil); code != 200 {
		t.Fatalf("ack: HTTP %d", code)
	}
	acked := sub.reassurance(t)
	if acked.Seq != 7 || acked.Alarm != a.ID || acked.State != "acknowledged" {
		t.Fatalf("mosquitto_sub got %+v after ack, want seq 7 alarm %s acknowledged", acked, a.ID)
	}
}

// TestMosquittoRejects: over MQTT 5, a payload over 4 KiB and one that is
// not JSON are refused with their reasons counted on /metrics, raise
// nothing, and a device on another connection is served throughout.
func TestMosquittoRejects(t *testing.T) {
	pub := gatewaytest.NeedBinary(t, "mosquitto_pub")
	g := gatewaytest.Start(t, gateway.Config{})
	const bad = "btn-bad"
	badPW := g.Provision(bad, "call_button")
	good := g.ConnectDevice("btn-good", g.Provision("btn-good", "call_button"))
	host, port := mqttHostPort(t, g.MQTTAddr())

	big := fmt.Sprintf(`{"seq":1,"ts":%d,"type":"call.press","data":{"pad":"`, time.Now().UnixMilli())
	big += strings.Repeat("x", 5000-len(big)-3) + `"}}`
	// What mosquitto_pub itself sees: an oversized packet makes the broker
	// close the connection before reading it; a malformed payload is read
	// and refused with MQTT 5's reason code 0x99.
	cases := []struct {
		name, payload string
		reason        string
		pubFails      bool
		pubSays       string
	}{
		{"oversized", big, "oversized", true, ""},
		{"malformed", `{"seq":2,"ts":1732345678123,"type":`, "malformed_json", false, "payload format invalid"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := g.Metric(`anxin_rejections_total{reason="` + c.reason + `"}`)
			cmd := exec.Command(pub, "-V", "mqttv5", "-h", host, "-p", port, "-i", bad, "-u", bad, "-P", badPW,
				"-t", "anxin/v1/"+bad+"/event", "-q", "1", "-s")
			cmd.Stdin = strings.NewReader(c.payload)
			out, err := cmd.CombinedOutput()
			t.Logf("mosquitto_pub -V mqttv5 (%d bytes): err %v, output %q", len(c.payload), err, bytes.TrimSpace(out))
			if (err != nil) != c.pubFails || !strings.Contains(strings.ToLower(string(out)), c.pubSays) {
				t.Errorf("mosquitto_pub: err %v, output %q; want failure %v and %q", err, out, c.pubFails, c.pubSays)
			}
			pollUntil(t, 5*time.Second, c.reason+" rejection counted", func() bool {
				return g.Metric(`anxin_rejections_total{reason="`+c.reason+`"}`) == before+1
			})
			seq := good.Press("call.press")
			good.Expect(seq, "received")
		})
	}
	for _, a := range g.Engine().Open() {
		if a.Device == bad {
			t.Fatalf("refused payload raised alarm %+v", a)
		}
	}
}

// mosquittoSub is a running mosquitto_sub.
type mosquittoSub struct {
	payloads chan string
	exited   chan struct{} // closed once it has exited and all it printed is read

	mu         sync.Mutex
	transcript strings.Builder // everything it printed, for failure messages
	err        error
}

// startMosquittoSub runs mosquitto_sub with -d, and returns once the broker
// has acknowledged its subscription, so nothing published after is missed.
// stdbuf makes its stdout line-buffered: into a pipe, stdio would hold the
// SUBACK line back until the program exits.
func startMosquittoSub(t *testing.T, bin string, args []string) *mosquittoSub {
	t.Helper()
	stdbuf := gatewaytest.NeedBinary(t, "stdbuf")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, stdbuf, append([]string{"-oL", bin, "-d"}, args...)...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	s := &mosquittoSub{payloads: make(chan string, 8), exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatalf("mosquitto_sub: %v", err)
	}
	go func() {
		err := cmd.Wait()
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
		pw.Close()
	}()
	subscribed := make(chan struct{})
	go func() {
		defer close(s.exited)
		sc := bufio.NewScanner(pr)
		announced := false
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.transcript.WriteString(line + "\n")
			s.mu.Unlock()
			switch {
			case strings.HasPrefix(line, "{"):
				s.payloads <- line
			case !announced && strings.Contains(line, "received SUBACK"):
				announced = true
				close(subscribed)
			}
		}
	}()
	select {
	case <-subscribed:
	case <-s.exited:
		t.Fatalf("mosquitto_sub exited before subscribing: %s", s.result())
	case <-time.After(10 * time.Second):
		t.Fatalf("mosquitto_sub: no SUBACK within 10 s: %s", s.result())
	}
	return s
}

// result is how mosquitto_sub ended and what it printed.
func (s *mosquittoSub) result() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("exit %v, output:\n%s", s.err, s.transcript.String())
}

// reassurance waits for mosquitto_sub to exit after its one message (-C 1)
// and returns that message.
func (s *mosquittoSub) reassurance(t *testing.T) gateway.Reassure {
	t.Helper()
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		t.Fatalf("mosquitto_sub still running after 15 s: %s", s.result())
	}
	s.mu.Lock()
	err := s.err
	s.mu.Unlock()
	var r gateway.Reassure
	select {
	case line := <-s.payloads:
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("mosquitto_sub printed %q: %v", line, err)
		}
	default:
		t.Fatalf("mosquitto_sub got no message: %s", s.result())
	}
	if err != nil {
		t.Fatalf("mosquitto_sub: %s", s.result())
	}
	return r
}

func mqttHostPort(t *testing.T, addr string) (host, port string) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return host, port
}
