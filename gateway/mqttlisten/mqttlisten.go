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
// It depends only on mochi, so the gateway and the simulator's test broker
// share it.
package mqttlisten

import (
	"log/slog"
	"net"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Listener is a mochi listeners.Listener over a net.Listener.
type Listener struct {
	id   string
	ln   net.Listener
	srv  *mqtt.Server
	once sync.Once

	mu      sync.Mutex // orders Serve's accounting of a connection against Close
	closing bool
}

var _ listeners.Listener = (*Listener)(nil)

// New returns a listener named id serving ln for srv. Add it with
// srv.AddListener.
func New(id string, ln net.Listener, srv *mqtt.Server) *Listener {
	return &Listener{id: id, ln: ln, srv: srv}
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
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			return
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
		l.closing = true
		l.mu.Unlock()
		l.ln.Close()
		for _, cl := range l.srv.Clients.GetAll() {
			if cl.Net.Listener == l.id && !cl.Closed() {
				_ = l.srv.DisconnectClient(cl, packets.ErrServerShuttingDown)
			}
		}
	})
}
