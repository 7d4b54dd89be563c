package devices

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*/expected.json from what the adapters do now")

// Golden cases live in testdata/<case>/:
//
//	config.json    optional AdapterConfig; absent means {"type": "zigbee2mqtt"}
//	topic          the topic of the messages
//	kind           optional provisioned device kind
//	state.json     optional AdapterState the gateway had persisted before
//	input.jsonl    one payload per line; '#' lines are comments, except the
//	               directives "#wait 90s" (advance the clock), "#retained"
//	               (the next message is a retained replay), "#restart" (the
//	               gateway restarts: state through JSON, a fresh adapter) and
//	               "#topic T" (later messages go to T)
//	expected.json  what each message produced, or the config's init_error
//
// A Zigbee2MQTT case may publish on the bridge's topics (#topic
// zigbee2mqtt/bridge/devices): they are classified, and bridge/devices
// gives the model table later messages are decoded with. An ingest case
// (testdata/ingest_<platform>_<case>) has instead:
//
//	platform       ctwing or onenet; each input line is a pushed body
//	integration    the {integration} of the URL and of the config's topic
//	secret         optional: the token a OneNET body must be signed with
//
// Messages arrive one second apart from goldenStart unless #wait says more.
var goldenStart = time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)

type goldenStep struct {
	topic    string
	payload  string
	retained bool
	restart  bool
	at       time.Time
}

type goldenCase struct {
	config AdapterConfig
	kind   Kind
	state  AdapterState
	steps  []goldenStep
	// platform, integration and secret make an ingest case: each input
	// line is a body an IoT platform pushed to /ingest/v1/{integration},
	// checked with secret (OneNET signs its bodies), decoded into pushes
	// whose messages go through the vendor rules of config.
	platform, integration, secret string
}

type goldenResult struct {
	InitError string          `json:"init_error,omitempty"`
	Messages  []goldenMessage `json:"messages,omitempty"`
}

type goldenMessage struct {
	Topic       string     `json:"topic"`
	Payload     string     `json:"payload"`
	Retained    bool       `json:"retained,omitempty"`
	Error       string     `json:"error,omitempty"`
	Events      []Event    `json:"events,omitempty"`
	Telemetry   *Telemetry `json:"telemetry,omitempty"`
	Status      *Status    `json:"status,omitempty"`
	FieldErrors []string   `json:"field_errors,omitempty"`
	// Bridge, Listing and Skipped record a Zigbee2MQTT bridge topic: what
	// it was classified as and, for bridge/devices, the table it gave.
	Bridge  string       `json:"bridge,omitempty"`
	Listing []Z2MListing `json:"listing,omitempty"`
	Skipped []string     `json:"skipped,omitempty"`
	// Auth and Push record an ingest case: the signature check of a pushed
	// body and each push decoded from it.
	Auth string `json:"auth,omitempty"`
	Push *Push  `json:"push,omitempty"`
}

func readGoldenCase(t *testing.T, dir string) goldenCase {
	t.Helper()
	c := goldenCase{config: AdapterConfig{Type: "zigbee2mqtt"}}
	readOptional := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		return b
	}
	if b := readOptional("config.json"); b != nil {
		if err := json.Unmarshal(b, &c.config); err != nil {
			t.Fatalf("config.json: %v", err)
		}
	}
	if b := readOptional("state.json"); b != nil {
		if err := json.Unmarshal(b, &c.state); err != nil {
			t.Fatalf("state.json: %v", err)
		}
	}
	c.kind = Kind(strings.TrimSpace(string(readOptional("kind"))))
	c.platform = strings.TrimSpace(string(readOptional("platform")))
	c.integration = strings.TrimSpace(string(readOptional("integration")))
	c.secret = strings.TrimSpace(string(readOptional("secret")))
	topic := strings.TrimSpace(string(readOptional("topic")))
	in := readOptional("input.jsonl")
	at := goldenStart
	var retained, restart bool
	sc := bufio.NewScanner(bytes.NewReader(in))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
		case strings.HasPrefix(line, "#wait "):
			d, err := time.ParseDuration(strings.TrimPrefix(line, "#wait "))
			if err != nil {
				t.Fatalf("input.jsonl: %v", err)
			}
			at = at.Add(d)
		case line == "#retained":
			retained = true
		case line == "#restart":
			restart = true
		case strings.HasPrefix(line, "#topic "):
			topic = strings.TrimPrefix(line, "#topic ")
		case strings.HasPrefix(line, "#"):
		default:
			at = at.Add(time.Second)
			c.steps = append(c.steps, goldenStep{topic: topic, payload: line, retained: retained, restart: restart, at: at})
			retained, restart = false, false
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return c
}

// runGolden feeds a case through its adapter. With restartAlways, every
// message is decoded by a fresh adapter from a state that went through JSON,
// as if the gateway restarted before each one.
func runGolden(t *testing.T, c goldenCase, restartAlways bool) goldenResult {
	t.Helper()
	a, err := NewAdapter(c.config)
	if err != nil {
		return goldenResult{InitError: err.Error()}
	}
	state := c.state
	seq := state.Seq
	var res goldenResult
	var models Z2MDevices // the gateway's table from bridge/devices; survives restarts
	for i, s := range c.steps {
		if s.restart || restartAlways {
			b, err := json.Marshal(state)
			if err != nil {
				t.Fatal(err)
			}
			state = AdapterState{}
			if err := json.Unmarshal(b, &state); err != nil {
				t.Fatal(err)
			}
			if a, err = NewAdapter(c.config); err != nil {
				t.Fatal(err)
			}
		}
		in := Input{Topic: s.topic, Payload: []byte(s.payload), Kind: c.kind, Retained: s.retained, Received: s.at}
		if z, ok := a.(*Zigbee2MQTT); ok {
			if b := z.Bridge(s.topic); b != BridgeNone {
				m := goldenMessage{Topic: s.topic, Payload: s.payload, Retained: s.retained, Bridge: b.String()}
				if b == BridgeDevices {
					devs, skipped, err := DecodeZ2MDevices(in.Payload)
					if err != nil {
						checkReject(t, err)
						m.Error = err.Error()
					} else {
						models, m.Listing = devs, devs.Listing()
					}
					for _, sk := range skipped {
						checkReject(t, sk)
						m.Skipped = append(m.Skipped, sk.Error())
					}
				}
				res.Messages = append(res.Messages, m)
				continue
			}
			ref, _ := z.Match(s.topic)
			in.Model = models.Model(ref)
		}
		if c.platform != "" {
			res.Messages = append(res.Messages, runIngestStep(t, c, a, s, &state, &seq)...)
			continue
		}
		if _, ok := a.Match(s.topic); !ok {
			t.Fatalf("message %d: adapter does not match topic %q", i+1, s.topic)
		}
		res.Messages = append(res.Messages, decodeGolden(t, a, in, &state, &seq))
	}
	return res
}

// decodeGolden decodes one message against the state and records it.
func decodeGolden(t *testing.T, a Adapter, in Input, state *AdapterState, seq *uint64) goldenMessage {
	t.Helper()
	dec, next, err := a.Decode(in, *state)
	m := goldenMessage{Topic: in.Topic, Payload: string(in.Payload), Retained: in.Retained,
		Events: dec.Events, Telemetry: dec.Telemetry, Status: dec.Status}
	if err != nil {
		checkReject(t, err)
		m.Error = err.Error()
	}
	for _, fe := range dec.FieldErrors {
		checkReject(t, fe)
		m.FieldErrors = append(m.FieldErrors, fe.Error())
	}
	for _, ev := range dec.Events {
		if !ev.Type.Known() {
			t.Errorf("%s: event type %q is not in the vocabulary", in.Topic, ev.Type)
		}
		if ev.Seq <= *seq {
			t.Errorf("%s: seq %d does not follow %d", in.Topic, ev.Seq, *seq)
		}
		*seq = ev.Seq
	}
	*state = next
	return m
}

// runIngestStep plays one pushed body as the gateway would: check the
// signature (OneNET), decode the pushes, give data and event pushes to the
// vendor rules and turn online and offline into a status.
func runIngestStep(t *testing.T, c goldenCase, a Adapter, s goldenStep, state *AdapterState, seq *uint64) []goldenMessage {
	t.Helper()
	head := goldenMessage{Payload: s.payload}
	if c.platform == "onenet" {
		head.Auth = "ok"
		if err := VerifyOneNET(c.secret, []byte(s.payload)); err != nil {
			checkReject(t, err)
			head.Auth = err.Error()
			return []goldenMessage{head}
		}
	}
	pushes, err := DecodePush(c.platform, []byte(s.payload))
	if err != nil {
		checkReject(t, err)
		head.Error = err.Error()
		return []goldenMessage{head}
	}
	out := []goldenMessage{head}
	for _, p := range pushes {
		m := goldenMessage{Push: &p}
		switch p.Type {
		case PushData, PushEvent:
			m = decodeGolden(t, a, p.Input(c.integration, "", c.kind, s.at), state, seq)
			m.Push = &p
		case PushOnline, PushOffline:
			m.Status = p.Status(p.Device, s.at)
		}
		out = append(out, m)
	}
	return out
}

// checkReject asserts the adapter contract on errors: a *RejectError with a
// Reason from the fixed list.
func checkReject(t testing.TB, err error) {
	t.Helper()
	var re *RejectError
	if !errors.As(err, &re) {
		t.Fatalf("error %v (%T) is not a *RejectError", err, err)
	}
	if !slices.Contains(Reasons(), re.Reason) {
		t.Fatalf("error %v has unknown reason %q", err, re.Reason)
	}
}

func goldenDirs(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() && e.Name() != "fuzz" { // testdata/fuzz is go test's fuzz corpus
			dirs = append(dirs, filepath.Join("testdata", e.Name()))
		}
	}
	if len(dirs) == 0 {
		t.Fatal("no golden cases in testdata")
	}
	return dirs
}

func TestGolden(t *testing.T) {
	for _, dir := range goldenDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			got, err := json.MarshalIndent(runGolden(t, readGoldenCase(t, dir), false), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join(dir, "expected.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s (run go test -run TestGolden -update and review the diff)\ngot:\n%s", path, got)
			}
		})
	}
}

// TestGoldenRestartBeforeEveryMessage replays every case as if the gateway
// restarted before each message: the output must not change, so the state
// the gateway persists is all an adapter remembers.
func TestGoldenRestartBeforeEveryMessage(t *testing.T) {
	for _, dir := range goldenDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			c := readGoldenCase(t, dir)
			want, err := json.Marshal(runGolden(t, c, false))
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.Marshal(runGolden(t, c, true))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("restarting changes the output:\nwithout: %s\nwith:    %s", want, got)
			}
		})
	}
}

func TestNewAdapter(t *testing.T) {
	tests := []struct {
		name    string
		config  string
		wantErr string
	}{
		{"zigbee2mqtt defaults", `{"type": "zigbee2mqtt"}`, ""},
		{"zigbee2mqtt null config", `{"type": "zigbee2mqtt", "config": null}`, ""},
		{"unknown type", `{"type": "zigbee"}`, `adapter type "zigbee" is not known (known: vendor_json, zigbee2mqtt)`},
		{"unknown field", `{"type": "zigbee2mqtt", "config": {"base_topik": "z2m"}}`, `adapter "zigbee2mqtt": json: unknown field "base_topik"`},
		{"unknown field in a rule", `{"type": "vendor_json", "config": {"vendor": "acme", "topic": "a/{device}",
			"rules": [{"field": "a", "telemetry": "battery"}, {"field": "b", "evnet": "call.press"}]}}`,
			`adapter "vendor_json": vendor "acme" rule 2: json: unknown field "evnet"`},
		{"wrong type in a zigbee2mqtt rule", `{"type": "zigbee2mqtt", "config": {"rules": [{"field": "x", "when": "fall"}]}}`,
			`adapter "zigbee2mqtt": rule 1: json: cannot unmarshal`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c AdapterConfig
			if err := json.Unmarshal([]byte(tt.config), &c); err != nil {
				t.Fatal(err)
			}
			_, err := NewAdapter(c)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("NewAdapter: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.wantErr)):
				t.Fatalf("NewAdapter error = %v, want prefix %q", err, tt.wantErr)
			}
		})
	}
}

// checkDecoded asserts what every Decode must hold, for the fuzzers.
func checkDecoded(t *testing.T, prior AdapterState, dec Decoded, next AdapterState, err error) {
	t.Helper()
	if err != nil {
		checkReject(t, err)
		if !stateEqual(prior, next) {
			t.Fatalf("a refused payload changed the state: %+v → %+v", prior, next)
		}
		if len(dec.Events) > 0 || dec.Telemetry != nil {
			t.Fatalf("a refused payload produced output: %+v", dec)
		}
	}
	for _, fe := range dec.FieldErrors {
		checkReject(t, fe)
	}
	seq := prior.Seq
	for _, ev := range dec.Events {
		if !ev.Type.Known() {
			t.Fatalf("event type %q is not in the vocabulary", ev.Type)
		}
		if ev.Seq <= seq && prior.Seq < maxAdapterSeq {
			t.Fatalf("seq %d does not follow %d", ev.Seq, seq)
		}
		seq = ev.Seq
		if _, err := json.Marshal(ev); err != nil {
			t.Fatalf("event does not marshal: %v", err)
		}
	}
	if err == nil && next.Seq != seq {
		t.Fatalf("state seq %d, last event seq %d", next.Seq, seq)
	}
	if tm := dec.Telemetry; tm != nil {
		for k, v := range tm.Fields {
			if !KnownField(k) || math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("telemetry %s=%v", k, v)
			}
		}
	}
	if err == nil && (!slices.IsSorted(next.On) || len(slices.Compact(slices.Clone(next.On))) != len(next.On)) {
		t.Fatalf("state.On is not a sorted set: %q", next.On)
	}
}

func stateEqual(a, b AdapterState) bool {
	return a.Seq == b.Seq && slices.Equal(a.On, b.On) && a.Last == b.Last && a.LastAt.Equal(b.LastAt)
}

// checkRedelivery decodes the same message again right away, as a QoS 1
// redelivery: it must produce no events, whatever the message.
func checkRedelivery(t *testing.T, a Adapter, in Input, state AdapterState) {
	t.Helper()
	dec, _, err := a.Decode(in, state)
	if err == nil && len(dec.Events) > 0 {
		t.Fatalf("a redelivered message raised %d events again: %+v", len(dec.Events), dec.Events)
	}
}

// seedFuzz adds the payloads of the golden cases whose topics the adapter
// matches.
func seedFuzz(f *testing.F, a Adapter, add func(topic string, payload []byte)) {
	f.Helper()
	dirs, _ := filepath.Glob(filepath.Join("testdata", "*", "input.jsonl"))
	for _, p := range dirs {
		b, err := os.ReadFile(filepath.Join(filepath.Dir(p), "topic"))
		if err != nil {
			continue
		}
		topic := strings.TrimSpace(string(b))
		if _, ok := a.Match(topic); !ok {
			continue
		}
		in, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		for line := range strings.Lines(string(in)) {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				add(topic, []byte(line))
			}
		}
	}
}
