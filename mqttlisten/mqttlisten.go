// Package mqttlisten serves the embedded mochi broker on a net.Listener the
// caller opened (so ":0" works and the bound address is known) and closes it
// without mochi's own close path, which can deadlock.
//
// Why: mochi v2.7.9 closes a listener's clients through
// Clients.GetByListener, which takes the clients' read lock and then takes
// it again (via Clients.Len). If a client that is just ending asks for the
// write lock in between (Clients.Delete), the second read lock waits behind
// it and the first is never released: Server.Close hangs for ever. This
// listener disconnects the clients from a snapshot (Clients.GetAll, one
// read lock) instead, after it has stopped accepting, so that nothing can
// connect while the broker closes.
//
// It also counts each connection in mochi's ClientsWg before handing it
// over (see Serve), which mochi's own listeners do too late.
//
// Two things mochi's listeners lack: a deadline for the CONNECT packet (a
// socket that never sends one is closed after ConnectTimeout, instead of
// holding a descriptor for ever), and an accept loop that survives a failed
// Accept. When the process is out of file descriptors (EMFILE) Accept fails
// until a connection ends; mochi's loop returns on the first error and the
// broker never accepts again. Serve backs off instead, as net/http does
// (5 ms doubling to 1 s), reports each error to the caller, and Ready says
// the listener is not accepting until an Accept succeeds again.
//
// And mochi has one packet size limit for the whole server. WithPacketLimit
// wraps each connection in a reader that follows MQTT framing and closes it
// as soon as a packet's header says it is over that connection's limit,
// which a hook may raise once the CONNECT has authenticated an account
// (PacketLimiter; packetlimit.go).
//
// It depends only on mochi and sits at the top level, so the gateway and the
// simulator's test broker share it without the simulator depending on the
// gateway.
package mqttlisten

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// ConnectTimeout is how long a new connection may take to send its
// CONNECT packet (TLS handshake included) before it is closed.
const ConnectTimeout = 10 * time.Second

// Accept backoff after a failed Accept, as net/http's server does it.
const (
	minAcceptBackoff = 5 * time.Millisecond
	maxAcceptBackoff = time.Second
)

// ErrClosed is what Ready says once the listener is closed.
var ErrClosed = errors.New("mqtt listener closed")

// Listener is a mochi listeners.Listener over a net.Listener.
type Listener struct {
	id   string
	ln   net.Listener
	srv  *mqtt.Server
	once sync.Once

	connectTimeout time.Duration
	packetLimit    uint32 // 0: connections are not wrapped
	log            *slog.Logger
	onAcceptError  func(error)

	mu      sync.Mutex // orders Serve's accounting of a connection against Close; guards state
	closing bool
	state   error // what Ready reports
}

var _ listeners.Listener = (*Listener)(nil)

// Option changes a Listener from its defaults.
type Option func(*Listener)

// WithConnectTimeout sets how long a connection may take to send CONNECT
// (default ConnectTimeout).
func WithConnectTimeout(d time.Duration) Option { return func(l *Listener) { l.connectTimeout = d } }

// WithPacketLimit wraps every accepted connection so that a packet larger
// than limit (remaining length + 1, as mochi's MaximumPacketSize counts)
// closes it as soon as its header is read, before its body is. The broker's
// hooks may raise it per connection: mochi's Client.Net.Conn is the wrapped
// connection and implements PacketLimiter. Set mochi's server-wide
// MaximumPacketSize to the largest limit any connection may get.
func WithPacketLimit(limit uint32) Option { return func(l *Listener) { l.packetLimit = limit } }

// WithLogger sets where failed Accepts are logged (default slog.Default()).
func WithLogger(log *slog.Logger) Option { return func(l *Listener) { l.log = log } }

// WithAcceptErrors calls fn with every failed Accept, e.g. to count them.
func WithAcceptErrors(fn func(error)) Option { return func(l *Listener) { l.onAcceptError = fn } }

// New returns a listener named id serving ln for srv. Add it with
// srv.AddListener.
func New(id string, ln net.Listener, srv *mqtt.Server, opts ...Option) *Listener {
	l := &Listener{id: id, ln: ln, srv: srv, connectTimeout: ConnectTimeout, log: slog.Default(),
		onAcceptError: func(error) {}}
	for _, o := range opts {
		o(l)
	}
	return l
}

// Ready is nil while the listener accepts connections (from New on: the
// socket is bound and queues them); otherwise it says why not: closed, or
// the error of the Accept that is failing now.
func (l *Listener) Ready() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state
}

func (l *Listener) setState(err error) {
	l.mu.Lock()
	if !l.closing {
		l.state = err
	}
	l.mu.Unlock()
}

// Init does nothing: the caller opened ln.
func (l *Listener) Init(*slog.Logger) error { return nil }

// ID is the listener's name.
func (l *Listener) ID() string { return l.id }

// Address is the bound address, e.g. 127.0.0.1:41883.
func (l *Listener) Address() string { return l.ln.Addr().String() }

// Protocol is "tcp".
func (l *Listener) Protocol() string { return "tcp" }

// Serve accepts connections until the listener closes.
//
// Each connection is counted in mochi's ClientsWg here, before its
// goroutine starts: mochi only counts it inside that goroutine, which can
// be after Server.Close has begun to Wait on the group (a data race, and a
// "WaitGroup is reused" panic). Counting under mu, which Close takes, means
// no connection is counted once Close has returned.
func (l *Listener) Serve(establish listeners.EstablishFn) {
	wg := &l.srv.Listeners.ClientsWg
	var backoff time.Duration
	failures := 0
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			l.mu.Lock()
			closing := l.closing
			l.mu.Unlock()
			if closing || errors.Is(err, net.ErrClosed) {
				l.setState(ErrClosed)
				return
			}
			backoff = min(max(2*backoff, minAcceptBackoff), maxAcceptBackoff)
			failures++
			l.onAcceptError(err)
			l.setState(fmt.Errorf("mqtt listener %s not accepting: %w", l.id, err))
			if failures == 1 {
				l.log.Error("mqtt accept failed; retrying", "listener", l.id, "err", err)
			}
			time.Sleep(backoff)
			// The retry decides: an Accept that fails again sets the state
			// at once, and one that blocks has nothing queued to fail on
			// (the connection behind the error may have gone), so the
			// listener is accepting again even before one arrives.
			l.setState(nil)
			continue
		}
		if failures > 0 {
			l.log.Warn("mqtt accepting again", "listener", l.id, "failed_accepts", failures)
			backoff, failures = 0, 0
			l.setState(nil)
		}
		// mochi lifts this deadline (sets its keepalive's) once it has read
		// the CONNECT.
		_ = conn.SetReadDeadline(time.Now().Add(l.connectTimeout))
		if l.packetLimit > 0 {
			conn = newLimitConn(conn, l.packetLimit)
		}
		l.mu.Lock()
		if l.closing {
			l.mu.Unlock()
			conn.Close() // accepted as the broker closes: it would never be let go
			continue
		}
		wg.Add(1)
		l.mu.Unlock()
		go func() {
			defer wg.Done()
			establish(l.id, conn)
		}()
	}
}

// Close stops accepting, then disconnects this listener's clients. It does
// not call mochi's closeClients (see the package comment).
func (l *Listener) Close(listeners.CloseFn) {
	l.once.Do(func() {
		l.mu.Lock()
		l.closing, l.state = true, ErrClosed
		l.mu.Unlock()
		l.ln.Close()
		for _, cl := range l.srv.Clients.GetAll() {
			if cl.Net.Listener == l.id && !cl.Closed() {
				_ = l.srv.DisconnectClient(cl, packets.ErrServerShuttingDown)
			}
		}
	})
}
