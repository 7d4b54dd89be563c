// Package gatewaytest starts a real gateway inside a test and talks to it as
// operators and devices do: over HTTP and over MQTT on 127.0.0.1 with
// random ports, with a temporary data directory and an admin user.
package gatewaytest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/httpapi"
	"github.com/anxin-care/anxin/gateway/httpapi/openapitest"
	"github.com/anxin-care/anxin/gateway/state"
	"github.com/anxin-care/anxin/internal/pgtest"
)

// AdminPassword is the password of the "admin" user every test gateway has.
const AdminPassword = "test-admin-password"

// Gateway is a running test gateway.
type Gateway struct {
	*gateway.Gateway
	t       testing.TB
	Dir     string
	Cfg     gateway.Config
	deps    gateway.Deps
	BaseURL string
	Admin   *Client
}

// Option changes how a test gateway starts.
type Option func(*gateway.Deps)

// WithLog sends the gateway's log, from level info, to w instead of the
// test's output (e.g. to measure it).
func WithLog(w io.Writer) Option {
	return func(d *gateway.Deps) {
		d.Logger = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
}

// WithLogger gives the gateway log as its logger (e.g. a JSON one).
func WithLogger(log *slog.Logger) Option { return func(d *gateway.Deps) { d.Logger = log } }

// WithClock runs the gateway on a fake clock.
func WithClock(now func() time.Time) Option { return func(d *gateway.Deps) { d.Now = now } }

// WithElapsed gives the gateway a fake monotonic clock beside WithClock's
// wall clock (alertingtest.Clock.Elapsed), so that tests can jump the wall
// clock alone.
func WithElapsed(elapsed func() time.Duration) Option {
	return func(d *gateway.Deps) { d.Elapsed = elapsed }
}

// EnvState names the environment variable that runs every test gateway
// whose config names no state backend and no data directory on that
// backend instead of bbolt: ANXIN_TEST_STATE=postgres go test ./gateway/
// runs the gateway's tests on PostgreSQL (each its own database, see
// pgtest; the package's TestMain must run pgtest.Main). A test that
// chooses its data directory (a full disk, a state file fixture) is about
// the bbolt file and stays on it.
const EnvState = "ANXIN_TEST_STATE"

// Backends are the state backends a test can run a gateway on.
var Backends = []string{state.BackendBbolt, state.BackendPostgres}

// State is the state config of backend for a test: bbolt in the data
// directory, or a new database on the test binary's PostgreSQL.
func State(t testing.TB, backend string) state.Config {
	t.Helper()
	if backend == state.BackendPostgres {
		return state.Config{Backend: backend, Postgres: state.PostgresConfig{DSN: pgtest.NewDatabase(t)}}
	}
	return state.Config{Backend: backend}
}

// Start runs a gateway on loopback with the given config (addresses and
// data dir are filled in) and stops it when the test ends.
func Start(t testing.TB, cfg gateway.Config, opts ...Option) *Gateway {
	t.Helper()
	if b := os.Getenv(EnvState); cfg.State.Backend == "" && cfg.DataDir == "" && b != "" {
		cfg.State = State(t, b)
	}
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	cfg.MQTTAddr, cfg.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
	db, err := state.OpenConfig(context.Background(), cfg.State, cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.AddUser("admin", state.RoleAdmin, AdminPassword, time.Now()); err != nil && !errors.Is(err, state.ErrUserExists) {
		t.Fatal(err)
	}
	db.Close()
	var deps gateway.Deps
	for _, o := range opts {
		o(&deps)
	}
	return restart(t, cfg, deps)
}

func restart(t testing.TB, cfg gateway.Config, deps gateway.Deps) *Gateway {
	t.Helper()
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	g, err := gateway.Start(context.Background(), cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	tg := &Gateway{Gateway: g, t: t, Dir: cfg.DataDir, Cfg: cfg, deps: deps, BaseURL: "http://" + g.HTTPAddr()}
	tg.Admin = tg.Login("admin", AdminPassword)
	return tg
}

// Restart closes the gateway and starts a new one on the same data directory.
func (g *Gateway) Restart() *Gateway {
	g.t.Helper()
	g.Close()
	return restart(g.t, g.Cfg, g.deps)
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Client is an API client with a bearer token, or, logged in as the
// console does (LoginCookie), with a session cookie and its CSRF token.
type Client struct {
	t     testing.TB
	base  string
	Token string
	// Cookie is the anxin_session cookie's value; CSRF is sent as
	// X-CSRF-Token when set.
	Cookie, CSRF string
}

// LoginCookie logs a user in as the console does ({"cookie": true}): the
// client then authenticates with the session cookie and sends its CSRF
// token. The test fails unless the login sets the cookie.
func (g *Gateway) LoginCookie(user, password string) *Client {
	g.t.Helper()
	b, _ := json.Marshal(map[string]any{"user": user, "password": password, "cookie": true})
	resp, err := http.Post(g.BaseURL+"/api/v1/login", "application/json", bytes.NewReader(b))
	if err != nil {
		g.t.Fatalf("login %s: %v", user, err)
	}
	defer resp.Body.Close()
	var out struct{ CSRF string }
	json.NewDecoder(resp.Body).Decode(&out)
	c := &Client{t: g.t, base: g.BaseURL, CSRF: out.CSRF}
	for _, ck := range resp.Cookies() {
		if ck.Name == httpapi.SessionCookie {
			c.Cookie = ck.Value
		}
	}
	if resp.StatusCode != 200 || c.Cookie == "" || c.CSRF == "" {
		g.t.Fatalf("login %s with a cookie: HTTP %d, cookie %v, csrf %q", user, resp.StatusCode, resp.Cookies(), out.CSRF)
	}
	return c
}

// On is a copy of the client, credentials and all, that talks to g: the
// same person after g restarted on another port.
func (c *Client) On(g *Gateway) *Client {
	cp := *c
	cp.base, cp.t = g.BaseURL, g.t
	return &cp
}

// authorize sets the client's credentials on req.
func (c *Client) authorize(req *http.Request) {
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if c.Cookie != "" {
		req.AddCookie(&http.Cookie{Name: httpapi.SessionCookie, Value: c.Cookie})
	}
	if c.CSRF != "" {
		req.Header.Set(httpapi.CSRFHeader, c.CSRF)
	}
}

// Login logs a user in, failing the test if that fails.
func (g *Gateway) Login(user, password string) *Client {
	g.t.Helper()
	return LoginAt(g.t, g.BaseURL, user, password)
}

// Anonymous is a client without a token.
func (g *Gateway) Anonymous() *Client { return &Client{t: g.t, base: g.BaseURL} }

// Do sends a JSON request and decodes the JSON answer into out (if not
// nil), returning the HTTP status.
func (c *Client) Do(method, path string, body, out any) int {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	c.authorize(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	openapitest.Check(c.t, req, resp.StatusCode, resp.Header, b)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: HTTP %d, body %q: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

// AddUser creates a user through the API as admin and logs them in.
func (g *Gateway) AddUser(name string, role state.Role) *Client {
	g.t.Helper()
	pw := name + "-long-password"
	if code := g.Admin.Do("POST", "/api/v1/users", map[string]any{"name": name, "role": role, "password": pw}, nil); code != 201 {
		g.t.Fatalf("add user %s: HTTP %d", name, code)
	}
	return g.Login(name, pw)
}

// Provision adds a device through the API and returns its password.
func (g *Gateway) Provision(id, kind string) string {
	g.t.Helper()
	return g.ProvisionWith(map[string]any{"id": id, "kind": kind})
}

// ProvisionWith adds a device with the given POST /api/v1/devices body.
func (g *Gateway) ProvisionWith(body map[string]any) string {
	g.t.Helper()
	var out struct {
		Password string
		Error    string
	}
	if code := g.Admin.Do("POST", "/api/v1/devices", body, &out); code != 201 {
		g.t.Fatalf("provision %v: HTTP %d: %s", body, code, out.Error)
	}
	return out.Password
}

// Device is a paho MQTT client acting as one device.
type Device struct {
	ID     string
	Client paho.Client
	Cmds   chan gateway.Reassure
	t      testing.TB
	seq    uint64
	// Configs are the "config" commands the device received.
	Configs chan gateway.DeviceConfig
}

// ConnectDevice connects as device id with password and subscribes to its cmd topic.
func (g *Gateway) ConnectDevice(id, password string) *Device {
	g.t.Helper()
	d, err := g.TryConnect(id, id, password)
	if err != nil {
		g.t.Fatalf("connect %s: %v", id, err)
	}
	return d
}

// TryConnect connects with explicit client id, user and password.
func (g *Gateway) TryConnect(clientID, user, password string) (*Device, error) {
	d := &Device{ID: user, Cmds: make(chan gateway.Reassure, 64), Configs: make(chan gateway.DeviceConfig, 16), t: g.t}
	opts := paho.NewClientOptions().AddBroker("tcp://" + g.MQTTAddr()).SetClientID(clientID).
		SetUsername(user).SetPassword(password).SetCleanSession(true).SetAutoReconnect(false).
		SetConnectRetry(false).SetConnectTimeout(5 * time.Second).SetOrderMatters(false)
	d.Client = paho.NewClient(opts)
	tok := d.Client.Connect()
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		return nil, fmt.Errorf("connect: %v", tok.Error())
	}
	sub := d.Client.Subscribe("anxin/v1/"+user+"/cmd", 1, func(_ paho.Client, m paho.Message) {
		var r gateway.Reassure
		if json.Unmarshal(m.Payload(), &r) != nil {
			return
		}
		if r.Type == "config" {
			var c gateway.DeviceConfig
			if json.Unmarshal(m.Payload(), &c) == nil {
				select {
				case d.Configs <- c:
				default: // a test that does not read them
				}
			}
			return
		}
		d.Cmds <- r
	})
	sub.WaitTimeout(5 * time.Second)
	g.t.Cleanup(func() { d.Client.Disconnect(0) })
	return d, nil
}

// Publish sends a raw payload on one of the device's channels at QoS 1 and
// waits for the PUBACK.
func (d *Device) Publish(channel string, payload string) error {
	tok := d.Client.Publish("anxin/v1/"+d.ID+"/"+channel, 1, false, payload)
	if !tok.WaitTimeout(5 * time.Second) {
		return fmt.Errorf("no PUBACK in 5 s")
	}
	return tok.Error()
}

// Press sends an event of type typ with the next seq and returns the seq.
func (d *Device) Press(typ string) uint64 {
	d.t.Helper()
	d.seq++
	p := fmt.Sprintf(`{"seq":%d,"ts":%d,"type":%q}`, d.seq, time.Now().UnixMilli(), typ)
	if err := d.Publish("event", p); err != nil {
		d.t.Fatalf("%s press: %v", d.ID, err)
	}
	return d.seq
}

// Expect waits for a reassurance with seq and state.
func (d *Device) Expect(seq uint64, state string) gateway.Reassure {
	d.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case r := <-d.Cmds:
			if r.Seq == seq && r.State == state {
				return r
			}
		case <-deadline:
			d.t.Fatalf("%s: no reassurance %q for seq %d within 5 s", d.ID, state, seq)
		}
	}
}

// Stream is a live connection to GET /api/v1/stream. Events has every
// message with data, alarms and reloads, in the order the gateway sent
// them.
type Stream struct {
	Events chan StreamFrame
	cancel context.CancelFunc
	once   sync.Once
}

// StreamFrame is one message of the stream: its SSE id and event, for
// an "alarm" or "nobody_reached" event its data decoded (the alarm), and
// the raw data.
type StreamFrame struct {
	ID, Event string
	httpapi.StreamMessage
	Data string
}

// Stream opens the live stream with the client's token.
func (c *Client) Stream() *Stream {
	c.t.Helper()
	return c.Resume("")
}

// Resume opens the live stream as a client reconnecting after lastID does
// (the Last-Event-ID header, as EventSource sends it); "" is a fresh start.
func (c *Client) Resume(lastID string) *Stream {
	c.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", c.base+"/api/v1/stream", nil)
	c.authorize(req)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		cancel()
		c.t.Fatalf("stream: %v %v", err, resp)
	}
	s := &Stream{Events: make(chan StreamFrame, 256), cancel: cancel}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var f StreamFrame
		var data string
		for sc.Scan() {
			line := sc.Text()
			if field, value, ok := strings.Cut(line, ": "); ok {
				switch field {
				case "id":
					f.ID = value
				case "event":
					f.Event = value
				case "data":
					data = value
				}
				continue
			}
			if line != "" {
				continue
			}
			if data != "" {
				f.Data = data
				if (f.Event == "alarm" || f.Event == "nobody_reached") && json.Unmarshal([]byte(data), &f.StreamMessage) != nil {
					f.Event = "undecodable"
				}
				s.Events <- f
			}
			f, data = StreamFrame{}, ""
		}
	}()
	c.t.Cleanup(s.Close)
	return s
}

// Close ends the stream.
func (s *Stream) Close() { s.once.Do(s.cancel) }

// NextFrame waits for the next message, whatever it is.
func (s *Stream) NextFrame(t testing.TB) StreamFrame {
	t.Helper()
	select {
	case f := <-s.Events:
		return f
	case <-time.After(5 * time.Second):
		t.Fatal("stream: no message within 5 s")
		return StreamFrame{}
	}
}

// Next waits for the next message whose entry has action.
func (s *Stream) Next(t testing.TB, action string) StreamFrame {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case m := <-s.Events:
			if m.Event == "alarm" && string(m.Entry.Action) == action {
				return m
			}
		case <-deadline:
			t.Fatalf("stream: no %q within 5 s", action)
		}
	}
}

// Watch is a live connection to GET /api/v1/devices/{id}/watch.
type Watch struct {
	Events chan WatchEvent
	cancel context.CancelFunc
}

// WatchEvent is one event of a device watch: its kind and raw JSON data.
type WatchEvent struct {
	Kind string
	Data json.RawMessage
}

// Watch follows one device's watch stream.
func (c *Client) Watch(device string) *Watch {
	c.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", c.base+"/api/v1/devices/"+device+"/watch", nil)
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		cancel()
		c.t.Fatalf("watch %s: %v %v", device, err, resp)
	}
	w := &Watch{Events: make(chan WatchEvent, 256), cancel: cancel}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var kind string
		for sc.Scan() {
			line := sc.Text()
			if k, ok := strings.CutPrefix(line, "event: "); ok {
				kind = k
			} else if data, ok := strings.CutPrefix(line, "data: "); ok {
				w.Events <- WatchEvent{Kind: kind, Data: json.RawMessage(data)}
			}
		}
	}()
	c.t.Cleanup(cancel)
	return w
}

// NextKind waits for the next event of kind.
func (w *Watch) NextKind(t testing.TB, kind string) WatchEvent {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case e := <-w.Events:
			if e.Kind == kind {
				return e
			}
		case <-deadline:
			t.Fatalf("watch: no %q within 5 s", kind)
		}
	}
}
