package gateway_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
)

// The crash storm: the gateway is killed with SIGKILL at a random moment
// of every round while devices press, send telemetry and an operator
// acknowledges and resolves, then restarted on the same data directory.
// The devices are raw MQTT clients that count a press as delivered only on
// the PUBACK of the very connection it was sent on (paho counts a resent
// message as acknowledged after a reconnect, so it cannot be the judge),
// and resend the press that was in flight at the kill, as real firmware
// does.
const (
	stormDevices = 8
	// stormRounds kill -9s; ANXIN_STORM_ROUNDS asks for more (a soak).
	stormRounds = 20
	// stormKillAfter: each round lasts a random time in this range.
	stormKillMin, stormKillMax = 300 * time.Millisecond, 1200 * time.Millisecond
	// stormPace is how often a device presses; between presses it sends
	// stormTelemetry QoS 0 telemetry messages.
	stormPace      = 15 * time.Millisecond
	stormTelemetry = 3
	// The test's P1 policy: two steps, so that "no step twice" and "the
	// steps resume" both have something to check.
	stormStep1, stormStep2 = time.Second, 2 * time.Second
)

// TestCrashStorm: after stormRounds kills at random moments, every press a
// device saw PUBACKed is counted exactly once in its alarms (each resent
// press was recognised), every operator action the API answered 200 is on
// its alarm's timeline, no escalation step fired twice on any alarm, and
// the alarms left unacknowledged got every step.
func TestCrashStorm(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a real anxin process; skipped with -short")
	}
	rounds := stormRounds
	if v := os.Getenv("ANXIN_STORM_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("ANXIN_STORM_ROUNDS=%q: want a number of rounds", v)
		}
		rounds = n
	}
	begin := time.Now()
	const adminPW = "storm-test-admin-password"
	bin, dir, args := prepareAnxin(t, adminPW, fmt.Sprintf(`{
		"escalation": {"P1": {"steps": [{"after": %q, "targets": ["supervisor"]}, {"after": %q, "targets": ["next_level"]}]}},
		"event_rate": 1000, "event_burst": 1000
	}`, stormStep1, stormStep2))

	proc := startAnxin(t, bin, filepath.Join(dir, "anxin-0.log"), args)
	admin := gatewaytest.LoginAt(t, proc.base, "admin", adminPW)
	fleet := make([]*stormDevice, stormDevices)
	for i := range fleet {
		id := fmt.Sprintf("storm-%02d", i)
		fleet[i] = &stormDevice{id: id, password: provision(t, admin, id, devices.KindCallButton), acked: map[uint64]bool{}}
	}
	op := &stormOperator{}
	addr := strings.TrimPrefix(proc.mqtt, "tcp://")

	var kills, restartTotal time.Duration
	for round := 1; round <= rounds; round++ {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for _, d := range fleet {
			wg.Go(func() { d.run(addr, stop, false) })
		}
		admin = gatewaytest.LoginAt(t, proc.base, "admin", adminPW)
		wg.Go(func() { op.run(proc.base, admin.Token, stop) })
		time.Sleep(stormKillMin + rand.N(stormKillMax-stormKillMin))
		proc.kill(t)
		close(stop)
		waitGroup(t, &wg, 15*time.Second, "devices and the operator to notice the kill")
		killed := time.Now()
		proc = startAnxin(t, bin, filepath.Join(dir, fmt.Sprintf("anxin-%d.log", round)), args)
		restartTotal += proc.ready.Sub(killed)
		kills++
	}

	// A last round without a kill: every device resends the press that was
	// in flight, if any, and presses no more.
	admin = gatewaytest.LoginAt(t, proc.base, "admin", adminPW)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, d := range fleet {
		wg.Go(func() { d.run(addr, stop, true) })
	}
	waitGroup(t, &wg, 15*time.Second, "every device to have its in-flight press PUBACKed")
	close(stop)
	quiet := time.Now()

	all, presses, acked, resent := checkPresses(t, admin, fleet)
	actions := checkActions(t, op, all)

	// No step twice; and the alarms nobody took got both steps, including
	// those whose steps fell due while the gateway was down.
	time.Sleep(time.Until(quiet.Add(stormStep2 + time.Second)))
	pollUntil(t, 10*time.Second, "the open alarms' escalation steps", func() bool {
		admin.Do("GET", "/api/v1/alarms?state=all&limit=10000", nil, &all)
		for _, a := range all.Alarms {
			if a.State == alerting.Raised && steps(a)[2] == 0 {
				return false
			}
		}
		return true
	})
	unacked := 0
	for _, a := range all.Alarms {
		for step, n := range steps(a) {
			if n > 1 {
				t.Errorf("alarm %s: step %d fired %d times", a.ID, step, n)
			}
		}
		if a.State == alerting.Raised {
			unacked++
			if s := steps(a); s[1] != 1 || s[2] != 1 {
				t.Errorf("alarm %s, raised %s and never taken: steps %v, want 1 and 2 once each", a.ID, a.Raised.Format(time.StampMilli), s)
			}
		}
	}
	t.Logf("%d kill -9s at random moments; restart to /healthz %s on average; %d presses sent, %d PUBACKed (%d of them in flight at a kill and sent again), all counted once in %d alarms (%d left unacknowledged, each escalated once per step); %d operator actions answered 200, all on their timelines; test took %s",
		kills, (restartTotal / kills).Round(time.Millisecond), presses, acked, resent, len(all.Alarms), unacked, len(actions), time.Since(begin).Round(time.Second))
}

// steps counts an alarm's escalated entries by step.
func steps(a alerting.Alarm) map[int]int {
	out := map[int]int{}
	for _, e := range a.Timeline {
		if e.Action == alerting.ActEscalated {
			out[e.Step]++
		}
	}
	return out
}

// stormDevice is a call button on a raw MQTT connection. Its seq survives
// the gateway's restarts (as a real button's does); a press is acked only
// on the PUBACK of the connection it was sent on.
type stormDevice struct {
	id, password string

	mu      sync.Mutex
	seq     uint64
	pending []byte // the press in flight, resent first on the next connection
	pendSeq uint64
	acked   map[uint64]bool
	resent  int // presses in flight at a kill, sent again on the next connection
}

// run connects and presses until stop or until the connection fails; with
// drain, it only resends the press in flight, if any, and returns.
func (d *stormDevice) run(addr string, stop <-chan struct{}, drain bool) {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return
	}
	defer conn.Close()
	go func() { <-stop; conn.Close() }()
	r := bufio.NewReader(conn)
	connect := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: 4,
		Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), ClientIdentifier: d.id, Clean: true, Keepalive: 30,
			Username: []byte(d.id), UsernameFlag: true, Password: []byte(d.password), PasswordFlag: true}}
	if stormWrite(conn, &connect, connect.ConnectEncode) != nil {
		return
	}
	if pk, err := stormRead(r, conn, 5*time.Second); err != nil || pk.FixedHeader.Type != packets.Connack || pk.ReasonCode != 0 {
		return
	}
	var id uint16
	d.mu.Lock()
	if d.pending != nil {
		d.resent++
	}
	d.mu.Unlock()
	for {
		d.mu.Lock()
		if drain && d.pending == nil {
			d.mu.Unlock()
			return
		}
		if d.pending == nil {
			d.seq++
			d.pendSeq = d.seq
			d.pending = fmt.Appendf(nil, `{"seq":%d,"ts":%d,"type":"call.press"}`, d.seq, time.Now().UnixMilli())
		}
		payload, seq := d.pending, d.pendSeq
		d.mu.Unlock()
		id = id%65535 + 1
		pub := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, ProtocolVersion: 4,
			TopicName: "anxin/v1/" + d.id + "/event", Payload: payload, PacketID: id}
		if stormWrite(conn, &pub, pub.PublishEncode) != nil {
			return
		}
		for {
			pk, err := stormRead(r, conn, 10*time.Second)
			if err != nil {
				return
			}
			if pk.FixedHeader.Type == packets.Publish && pk.FixedHeader.Qos == 1 { // the gateway's reassurance
				ack := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, ProtocolVersion: 4, PacketID: pk.PacketID}
				if stormWrite(conn, &ack, ack.PubackEncode) != nil {
					return
				}
			}
			if pk.FixedHeader.Type == packets.Puback && pk.PacketID == id {
				break
			}
		}
		d.mu.Lock()
		d.acked[seq] = true
		d.pending = nil
		d.mu.Unlock()
		for i := range stormTelemetry {
			tel := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish}, ProtocolVersion: 4,
				TopicName: "anxin/v1/" + d.id + "/telemetry",
				Payload:   fmt.Appendf(nil, `{"ts":%d,"battery":%d,"rssi":-60}`, time.Now().UnixMilli(), 90-i)}
			if stormWrite(conn, &tel, tel.PublishEncode) != nil {
				return
			}
		}
		select {
		case <-stop:
			return
		case <-time.After(stormPace):
		}
	}
}

func stormWrite(conn net.Conn, pk *packets.Packet, encode func(*bytes.Buffer) error) error {
	var buf bytes.Buffer
	if err := encode(&buf); err != nil {
		return err
	}
	conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := conn.Write(buf.Bytes())
	return err
}

// stormRead reads one CONNACK, PUBACK or PUBLISH (the gateway's
// reassurance on the device's cmd topic); anything else is an error.
func stormRead(r *bufio.Reader, conn net.Conn, timeout time.Duration) (packets.Packet, error) {
	conn.SetReadDeadline(time.Now().Add(timeout))
	var pk packets.Packet
	b, err := r.ReadByte()
	if err != nil {
		return pk, err
	}
	if err := pk.FixedHeader.Decode(b); err != nil {
		return pk, err
	}
	n, _, err := packets.DecodeLength(r)
	if err != nil {
		return pk, err
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return pk, err
	}
	pk.ProtocolVersion = 4
	switch pk.FixedHeader.Type {
	case packets.Connack:
		return pk, pk.ConnackDecode(body)
	case packets.Puback:
		return pk, pk.PubackDecode(body)
	case packets.Publish:
		return pk, pk.PublishDecode(body)
	}
	return pk, errors.New("unexpected packet")
}

// stormOperator acknowledges and resolves open alarms through the API,
// recording each action the API answered 200.
type stormOperator struct {
	mu   sync.Mutex
	done []stormAction
}

type stormAction struct {
	alarm  string
	action alerting.Action
}

func (o *stormOperator) run(base, token string, stop <-chan struct{}) {
	c := &opClient{base: base, token: token}
	for {
		select {
		case <-stop:
			return
		case <-time.After(40 * time.Millisecond):
		}
		var open struct{ Alarms []alerting.Alarm }
		if c.do("GET", "/api/v1/alarms?state=open", "", &open) != 200 || len(open.Alarms) == 0 {
			continue
		}
		a := open.Alarms[rand.N(len(open.Alarms))]
		// Leave some alarms alone so that their escalation runs on.
		if a.Device == "storm-00" || a.Device == "storm-01" {
			continue
		}
		path, body, act := "/ack", `{"note":"storm"}`, alerting.ActAcknowledged
		if a.State == alerting.Acknowledged {
			path, body, act = "/resolve", `{"outcome":"assisted"}`, alerting.ActResolved
		}
		if c.do("POST", "/api/v1/alarms/"+a.ID+path, body, nil) == 200 {
			o.mu.Lock()
			o.done = append(o.done, stormAction{alarm: a.ID, action: act})
			o.mu.Unlock()
		}
	}
}

// opClient is an API client for a goroutine that must not fail the test
// when the gateway is killed under it: it returns 0 for no answer.
type opClient struct{ base, token string }

func (c *opClient) do(method, path, body string, out any) int {
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	client := http.Client{Timeout: 5 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0
	}
	if out != nil && json.Unmarshal(b, out) != nil {
		return 0
	}
	return resp.StatusCode
}

// alarmList is the API's answer to GET /api/v1/alarms.
type alarmList struct{ Alarms []alerting.Alarm }

// checkPresses fails the test unless every press a device of fleet saw
// PUBACKed is counted exactly once in its alarms and none is still in
// flight. It returns every alarm and how many presses were sent, PUBACKed
// and resent after a kill.
func checkPresses(t *testing.T, admin *gatewaytest.Client, fleet []*stormDevice) (all alarmList, presses, acked, resent int) {
	t.Helper()
	if code := admin.Do("GET", "/api/v1/alarms?state=all&limit=10000", nil, &all); code != 200 {
		t.Fatalf("alarms: HTTP %d", code)
	}
	count := map[string]int{}
	for _, a := range all.Alarms {
		count[a.Device] += a.Count
	}
	for _, d := range fleet {
		d.mu.Lock()
		n := len(d.acked)
		resent += d.resent
		pending := d.pending != nil
		d.mu.Unlock()
		presses += int(d.seq)
		acked += n
		if pending {
			t.Errorf("%s: a press still unacknowledged after the last round", d.id)
		}
		if count[d.id] != n {
			t.Errorf("%s: %d presses PUBACKed, its alarms count %d events: a press lost or counted twice", d.id, n, count[d.id])
		}
	}
	return all, presses, acked, resent
}

// checkActions fails the test unless every action op saw answered 200 is
// on its alarm's timeline in all; it returns those actions.
func checkActions(t *testing.T, op *stormOperator, all alarmList) []stormAction {
	t.Helper()
	byID := map[string]alerting.Alarm{}
	for _, a := range all.Alarms {
		byID[a.ID] = a
	}
	op.mu.Lock()
	actions := slices.Clone(op.done)
	op.mu.Unlock()
	for _, act := range actions {
		a, ok := byID[act.alarm]
		if !ok {
			t.Errorf("alarm %s, %s by the operator (HTTP 200), is gone", act.alarm, act.action)
			continue
		}
		if !slices.ContainsFunc(a.Timeline, func(e alerting.Entry) bool {
			return e.Action == act.action && e.Actor == "operator:admin"
		}) {
			t.Errorf("alarm %s: %s answered 200 but is not on the timeline", act.alarm, act.action)
		}
	}
	return actions
}
