package gateway

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway/registry"
	"github.com/anxin-care/anxin/mqttlisten"
)

// maxPacket is the limit on one MQTT packet from a device, and from any
// connection until its CONNECT has authenticated a bridge: a 4 KiB payload
// plus room for the topic and headers. A bigger packet is refused on the
// wire as soon as its header is read (mqttlisten.WithPacketLimit), before
// its body is; a payload just over 4 KiB is read and refused with a counted
// reason.
const maxPacket = devices.MaxPayload + 512

// maxBridgePacket is the limit on one MQTT packet from an authenticated
// bridge: Zigbee2MQTT's retained bridge/devices lists every device with its
// exposes, tens of kB for a real network. It is mochi's server-wide
// MaximumPacketSize; the per-connection limit keeps everyone else at
// maxPacket (see OnConnectAuthenticate).
const maxBridgePacket = 512 << 10

// clientWritesPending is how many packets may wait to be written to one
// client. A device is sent a few reassurances and commands at a time, an
// edge box those of its room; 128 is what mochi's large deployments run
// with (mochi-mqtt/server#189, #461). A client further behind than that
// has the message dropped, counted in anxin_mqtt_messages_dropped_total.
const clientWritesPending = 128

// maxSessionExpiry bounds how long the broker keeps a disconnected device's
// persistent session.
const maxSessionExpiry = 7 * 24 * time.Hour

// newBroker builds the embedded mochi broker with the device hook, serving
// devices on ln and, when tlsLn is not nil, on a TLS listener as well. It
// returns the listeners too, for the readiness check.
func newBroker(ln, tlsLn net.Listener, hook *deviceHook, log *slog.Logger) (*mqtt.Server, []*mqttlisten.Listener, error) {
	opts := &mqtt.Options{InlineClient: true,
		Logger: slog.New(quietHandler{log.Handler(), hook.g.refusals}).With("component", "mqtt")}
	caps := mqtt.NewDefaultServerCapabilities()
	// Retained status messages never expire: a button that reported
	// "online" once and then sat quietly on its heartbeat is still online
	// (mochi's default expiry is 24 h).
	caps.MaximumMessageExpiryInterval = 0
	caps.MaximumPacketSize = maxBridgePacket
	// A device offline for longer than this loses its queued commands (stale
	// by then); without a bound every session ever opened stays in memory.
	caps.MaximumSessionExpiryInterval = uint32(maxSessionExpiry / time.Second)
	// mochi checks the ACL before it resolves a topic alias: none is
	// accepted (see broker_acl.go). Its CONNACK already advertises 0.
	caps.TopicAliasMaximum = 0
	// mochi makes every client's write queue at connect, room for
	// MaximumClientWritesPending packets: 8,192 by default, 64 KiB a
	// connection, 80 % of the heap at 10,000 idle devices (issue 16).
	caps.MaximumClientWritesPending = clientWritesPending
	opts.Capabilities = caps
	srv := mqtt.New(opts)
	hook.srv = srv
	if err := srv.AddHook(hook, nil); err != nil {
		return nil, nil, err
	}
	var lns []*mqttlisten.Listener
	for _, l := range []struct {
		id string
		ln net.Listener
	}{{"devices", ln}, {"devices-tls", tlsLn}} {
		if l.ln == nil {
			continue
		}
		counter := hook.g.metrics.acceptErrors.WithLabelValues(l.id)
		ml := mqttlisten.New(l.id, l.ln, srv, mqttlisten.WithLogger(log), mqttlisten.WithPacketLimit(maxPacket),
			mqttlisten.WithAcceptErrors(func(error) { counter.Inc() }))
		if err := srv.AddListener(ml); err != nil {
			return nil, nil, err
		}
		lns = append(lns, ml)
	}
	return srv, lns, nil
}

// quietHandler keeps mochi's own log lines short and few. mochi logs a
// packet it failed to process with the whole packet, payload and all, at
// warning level: a client could grow the log by megabytes a second. Here a
// packet in a line is summarised (type, topic, size); the line for a publish
// the ACL refused is dropped (the hook logs it: OnPacketProcessed); other
// failed packets, which end their connection, are rate-limited per client
// like the hook's refusals.
type quietHandler struct {
	slog.Handler
	refusals *refusalLog
}

func (h quietHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "publish packet error" {
		return nil
	}
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	client := ""
	refused := false
	r.Attrs(func(a slog.Attr) bool {
		switch v := a.Value.Any().(type) {
		case packets.Packet:
			a = slog.Group(a.Key, "type", packets.PacketNames[v.FixedHeader.Type], "topic", v.TopicName, "size", len(v.Payload))
		case error:
			refused = refused || errors.Is(v, packets.ErrNotAuthorized)
		}
		if a.Key == "client" {
			client = a.Value.String()
		}
		if a.Value.Kind() == slog.KindString { // client ids, topics, errors a client caused
			a.Value = slog.StringValue(clip(a.Value.String(), maxLoggedValue))
		}
		out.AddAttrs(a)
		return true
	})
	if r.Message == "error processing packet" {
		if refused {
			return nil
		}
		if _, ok := h.refusals.allow("mqtt:"+client, r.Time); !ok {
			return nil
		}
	}
	return h.Handler.Handle(ctx, out)
}

func (h quietHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return quietHandler{h.Handler.WithAttrs(as), h.refusals}
}

func (h quietHandler) WithGroup(name string) slog.Handler {
	return quietHandler{h.Handler.WithGroup(name), h.refusals}
}

// deviceHook is where the broker meets the gateway: it authenticates
// devices, enforces the topic ACL, throttles floods and hands every publish
// to the ingest pipeline before the broker acknowledges it.
type deviceHook struct {
	mqtt.HookBase
	g   *Gateway
	srv *mqtt.Server

	// limiters are the devices' token buckets (limiterKey → *tokenBucket),
	// read without a lock on every message; each bucket has its own.
	limiters sync.Map

	connMu sync.Mutex
	conns  map[string]map[*mqtt.Client]struct{} // device → its connections
}

// limiterKey: events and the rest (telemetry, status) have a bucket each per
// device, so that a chatty sensor's telemetry never makes its own SOS wait.
type limiterKey struct {
	device string
	events bool
}

func (h *deviceHook) ID() string { return "anxin-devices" }

func (h *deviceHook) Provides(b byte) bool {
	return bytes.Contains([]byte{
		mqtt.OnConnect, mqtt.OnPacketRead, mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnPublish, mqtt.OnDisconnect, mqtt.OnPacketProcessed, mqtt.OnSessionEstablish, mqtt.OnSessionEstablished,
	}, []byte{b})
}

// maxKeepalive is the longest keep alive a client gets, and the one a
// client that asks for none (0) gets: mochi would otherwise never time out
// its connection, and one whose network vanished (a half-open socket)
// would hold its goroutines and file for ever and read as online. No
// device's heartbeat is that long (DESIGN.md §2: 60 s by default).
const maxKeepalive = 10 * 60

// OnConnect bounds the client's keep alive (maxKeepalive). An MQTT 5
// client is told in its CONNACK (Server Keep Alive); an MQTT 3.1.1 one
// cannot be, and a silent one is dropped after 1.5 times that.
func (h *deviceHook) OnConnect(cl *mqtt.Client, _ packets.Packet) error {
	if cl.State.Keepalive == 0 || cl.State.Keepalive > maxKeepalive {
		cl.State.Keepalive, cl.State.ServerKeepalive = maxKeepalive, true
	}
	return nil
}

// OnPacketRead refuses a PUBLISH to a "$" topic ($SYS/…) from a client.
// mochi drops one without an answer, so a QoS 1 sender would wait for a
// PUBACK for ever; here it is counted, logged and its connection ended
// with "not authorized", as for any topic outside the ACL.
func (h *deviceHook) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline || pk.FixedHeader.Type != packets.Publish || !strings.HasPrefix(pk.TopicName, "$") {
		return pk, nil
	}
	h.g.metrics.pubsRefused.WithLabelValues(refusedNotAuthorized).Inc()
	h.g.refusals.Warn(deviceOf(cl), "publish refused", "device", deviceOf(cl), "client_id", cl.ID,
		"topic", pk.TopicName, "reason", refusedNotAuthorized, "size", len(pk.Payload))
	code := packets.Code{Code: packets.ErrNotAuthorized.Code, Reason: "clients may not publish to $ topics"}
	_ = h.srv.DisconnectClient(cl, code)
	return pk, code
}

// OnConnectAuthenticate lets a device in with its id as user name, the
// password issued at provisioning, and its id as client id; a bridge with
// its configured user and password. The client id rule (clientIDAllowed) is
// the same for both. A client id of "{user}:{suffix}" is also accepted, so
// that a tool that listens and a tool that publishes (mosquitto_sub and
// mosquitto_pub) can act as one device at once without taking over each
// other's session. A CONNECT whose will breaks the publish rule is refused
// with "not authorized" and a reason, not with "bad user name or password".
func (h *deviceHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	acct := h.account(string(pk.Connect.Username))
	password := string(pk.Connect.Password)
	var credsOK bool
	if acct.bridge != nil {
		credsOK = acct.bridge.authenticate(password)
	} else {
		credsOK = acct.user != "" && h.g.reg.Authenticate(acct.user, password)
	}
	switch {
	case !credsOK:
		h.refuseConnect(cl, acct, refusedCredentials, "")
		return false
	case !acct.clientIDAllowed(cl.ID, pk):
		h.refuseConnect(cl, acct, refusedClientID, "")
		return false
	}
	if why := acct.willRefusal(pk); why != "" {
		h.refuseConnect(cl, acct, refusedWill, why)
		// mochi would answer false with "bad user name or password": answer
		// here with the reason, and close, so that its CONNACK goes nowhere.
		code := packets.Code{Code: packets.ErrNotAuthorized.Code, Reason: why}
		if cl.Properties.ProtocolVersion < 5 {
			code = packets.Err3NotAuthorized
		}
		_ = h.srv.SendConnack(cl, code, false, nil)
		cl.Stop(code)
		return false
	}
	if acct.bridge != nil {
		// cl.Net.Conn is the connection mqttlisten handed to mochi.
		if pl, ok := cl.Net.Conn.(mqttlisten.PacketLimiter); ok {
			pl.SetPacketLimit(maxBridgePacket)
		}
	}
	return true
}

// Reasons a CONNECT is refused, as counted.
const (
	refusedCredentials = "credentials"
	refusedClientID    = "client_id"
	refusedWill        = "will"
)

func (h *deviceHook) refuseConnect(cl *mqtt.Client, acct account, reason, detail string) {
	h.g.metrics.connectsRefused.WithLabelValues(reason).Inc()
	if reason != refusedWill {
		h.g.metrics.authFailures.Inc()
	}
	kind := "device"
	if acct.bridge != nil {
		kind = "bridge"
	}
	key := acct.user
	if reason == refusedCredentials {
		key = "remote:" + remoteHost(cl.Net.Remote) // a wrong or made-up user name: by where it comes from
	}
	h.g.refusals.Warn(key, "mqtt connect refused", kind, acct.user, "client_id", cl.ID, "reason", reason, "detail", detail,
		"remote", cl.Net.Remote)
}

func remoteHost(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// OnACLCheck applies the account's rule (broker_acl.go): what it may
// publish (write) and subscribe to.
func (h *deviceHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if cl.Net.Inline {
		return true
	}
	acct := h.accountOf(cl)
	if write {
		return acct.mayPublish(topic)
	}
	return acct.maySubscribe(topic)
}

// OnSessionEstablish counts the connection as one of its device's before
// mochi lets it take over an older session, so that the older one ending
// never finds the device without a connection.
func (h *deviceHook) OnSessionEstablish(cl *mqtt.Client, _ packets.Packet) {
	if cl.Net.Inline || h.accountOf(cl).bridge != nil {
		return
	}
	h.connMu.Lock()
	defer h.connMu.Unlock()
	if h.conns == nil {
		h.conns = map[string]map[*mqtt.Client]struct{}{}
	}
	if h.conns[deviceOf(cl)] == nil {
		h.conns[deviceOf(cl)] = map[*mqtt.Client]struct{}{}
	}
	h.conns[deviceOf(cl)][cl] = struct{}{}
}

func (h *deviceHook) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	if h.accountOf(cl).bridge != nil {
		h.g.log.Info("bridge connected", "bridge", deviceOf(cl), "remote", cl.Net.Remote)
		return
	}
	h.subscribeCmd(cl)
	h.g.reg.Heard(deviceOf(cl), h.g.now(), nil, nil)
	h.g.log.Debug("device connected", "device", deviceOf(cl), "client_id", cl.ID, "remote", cl.Net.Remote)
}

// subscribeCmd makes the device's own cmd topic, at QoS 1, part of its
// session from the moment it connects, before mochi reads its first packet.
// anxin answers a press while it handles the PUBLISH; a device whose
// SUBSCRIBE came after its press (or that never subscribes) would miss its
// "received" otherwise. Its own SUBSCRIBE later replaces this one. Second
// connections ({id}:{suffix}, tools) subscribe for themselves. An edge box
// gets the cmd topics of the devices behind it as well (of those behind it
// now: one moved behind it later is in its own SUBSCRIBE).
func (h *deviceHook) subscribeCmd(cl *mqtt.Client) {
	if cl.ID != deviceOf(cl) {
		return
	}
	ids := []string{deviceOf(cl)}
	if h.accountOf(cl).behind != nil {
		for _, d := range h.g.reg.Select(func(d *registry.Device) bool { return d.Active() && d.Edge == cl.ID }) {
			ids = append(ids, d.ID)
		}
	}
	for _, id := range ids {
		filter := devices.Topic(id, devices.ChannelCmd)
		if _, ok := cl.State.Subscriptions.Get(filter); ok {
			continue // kept in its persistent session
		}
		sub := packets.Subscription{Filter: filter, Qos: 1}
		if h.srv.Topics.Subscribe(cl.ID, sub) {
			atomic.AddInt64(&h.srv.Info.Subscriptions, 1)
		}
		cl.State.Subscriptions.Add(filter, sub)
	}
}

// deviceOf is the device a client authenticated as.
func deviceOf(cl *mqtt.Client) string { return string(cl.Properties.Username) }

// OnDisconnect marks a device offline when its last connection ends: a
// device is shown online only while one of its connections is up.
func (h *deviceHook) OnDisconnect(cl *mqtt.Client, err error, _ bool) {
	if cl.Net.Inline {
		return
	}
	if errors.Is(err, packets.ErrPacketTooLarge) {
		h.g.reject(deviceOf(cl), &devices.RejectError{Reason: devices.ReasonOversized, Detail: "packet over the broker's limit"})
	}
	if h.lastConnEnded(cl) {
		h.g.reg.SetOffline(deviceOf(cl))
	}
}

// lastConnEnded forgets cl and reports whether its device has no other
// connection up. A connection that was counted but never got its CONNACK
// out ends without OnDisconnect: it is dropped here once closed.
func (h *deviceHook) lastConnEnded(cl *mqtt.Client) bool {
	h.connMu.Lock()
	defer h.connMu.Unlock()
	set, ok := h.conns[deviceOf(cl)]
	if !ok {
		return false // a bridge, or a client refused at connect
	}
	delete(set, cl)
	for c := range set {
		if c.Closed() {
			delete(set, c)
		}
	}
	if len(set) > 0 {
		return false
	}
	delete(h.conns, deviceOf(cl))
	return true
}

// refusedNotAuthorized is the reason of a publish outside the ACL.
const refusedNotAuthorized = "not_authorized"

// OnPacketProcessed logs and counts a PUBLISH the ACL refused. mochi
// refuses it before OnPublish (an MQTT 3 client is disconnected, an MQTT 5
// one gets "not authorized" at QoS 1, a QoS 0 message is dropped); here,
// after it, the whole packet is known, so the line can give its size.
func (h *deviceHook) OnPacketProcessed(cl *mqtt.Client, pk packets.Packet, _ error) {
	if cl.Net.Inline || pk.FixedHeader.Type != packets.Publish || h.accountOf(cl).mayPublish(pk.TopicName) {
		return
	}
	h.g.metrics.pubsRefused.WithLabelValues(refusedNotAuthorized).Inc()
	h.g.refusals.Warn(deviceOf(cl), "publish refused", "device", deviceOf(cl), "client_id", cl.ID,
		"topic", pk.TopicName, "reason", refusedNotAuthorized, "size", len(pk.Payload))
}

// OnPublish runs on the publishing client's own goroutine, before the
// broker sends the PUBACK. For an event it returns only after the alarm is
// durable, so a PUBACK means the alarm survives a crash; while it waits only
// that device's connection waits.
func (h *deviceHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline {
		return pk, nil
	}
	arrived := h.g.now()
	device := deviceOf(cl)
	if b, ok := h.g.bridge(device); ok {
		return h.bridgePublish(cl, b, pk, arrived)
	}
	id, ch, err := devices.ParseTopic(pk.TopicName)
	if err != nil {
		h.g.reject(device, err)
		return pk, refusal(cl, pk.FixedHeader.Qos, packets.ErrTopicNameInvalid)
	}
	// The ACL let this account publish for id: the device itself, or one
	// behind the edge box that forwards it. Central handles it as the
	// device's own message.
	device = id
	if ch == devices.ChannelSync {
		return pk, h.edgeSyncPublish(cl, device, pk, arrived)
	}
	// Only status is retained state; an event is an edge and a reading is
	// gone with the next one. The message itself is still handled.
	pk.FixedHeader.Retain = pk.FixedHeader.Retain && ch == devices.ChannelStatus
	if !h.allow(device, ch) {
		h.g.reject(device, &devices.RejectError{Reason: devices.ReasonRateLimited, Detail: string(ch) + " over the rate limit"})
		return pk, refusal(cl, pk.FixedHeader.Qos, packets.ErrQuotaExceeded)
	}
	err = h.g.ingest(device, ch, pk.Payload, arrived)
	var rej *devices.RejectError
	switch {
	case errors.As(err, &rej):
		code := packets.ErrPayloadFormatInvalid
		if rej.Reason == devices.ReasonOversized {
			code = packets.ErrPacketTooLarge
		}
		return pk, refusal(cl, pk.FixedHeader.Qos, code)
	case err != nil:
		// Not durable: withhold the PUBACK and drop the connection, so the
		// device sends the event again when it reconnects.
		h.g.log.Error("event not stored; device will resend", "device", device, "err", err)
		cl.Stop(err)
		return pk, packets.ErrRejectPacket
	}
	return pk, nil
}

// refusal is how a refused publish is answered: an MQTT 5 device gets the
// reason code in its PUBACK; an MQTT 3 device, which has no way to hear a
// reason, gets a plain PUBACK so that it does not resend a payload that will
// never be accepted; a QoS 0 message has nothing to acknowledge and is
// dropped. Either way the message goes nowhere.
func refusal(cl *mqtt.Client, qos byte, code packets.Code) error {
	switch {
	case qos == 0:
		return packets.ErrRejectPacket // nothing to acknowledge; mochi would route it otherwise
	case cl.Properties.ProtocolVersion == 5:
		return code
	}
	return packets.CodeSuccessIgnore
}

// allow applies the per-device rate limit. Events over the limit are slowed,
// not dropped: the wait holds only this device's connection (TCP pushes back
// on it), and an alarm in the flood is still handled. Telemetry and status
// over the limit are dropped and counted.
func (h *deviceHook) allow(device string, ch devices.Channel) bool {
	key := limiterKey{device, ch == devices.ChannelEvent}
	v, ok := h.limiters.Load(key)
	if !ok {
		v, _ = h.limiters.LoadOrStore(key, newTokenBucket(h.g.cfg.EventRate, h.g.cfg.EventBurst, time.Now()))
	}
	tb := v.(*tokenBucket)
	tb.mu.Lock()
	wait := tb.reserve(time.Now(), key.events)
	tb.mu.Unlock()
	if wait < 0 {
		return false
	}
	if wait > 0 {
		h.g.metrics.throttled.Inc()
		time.Sleep(wait)
	}
	return true
}

// tokenBucket allows rate tokens per second with a burst.
type tokenBucket struct {
	mu     sync.Mutex // a leaf
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newTokenBucket(rate float64, burst int, now time.Time) *tokenBucket {
	return &tokenBucket{rate: rate, burst: float64(burst), tokens: float64(burst), last: now}
}

// reserve takes a token. With none left it returns how long to wait for
// one if mayWait, or -1 to refuse.
func (b *tokenBucket) reserve(now time.Time, mayWait bool) time.Duration {
	b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	if !mayWait {
		return -1
	}
	wait := time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
	b.tokens--
	return wait
}
