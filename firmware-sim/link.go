package firmwaresim

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/url"
	"sync"
	"sync/atomic"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// link dials the broker for paho and keeps the live connection, so that
// PowerCut can drop it the way a pulled battery does: no DISCONNECT, just a
// dead socket. paho's own dialer does not expose the connection.
type link struct {
	mu   sync.Mutex
	conn *linkConn
	off  error // after a power cut or an uplink drop, every dial fails with it until restored
	// source is the local address to dial from (Config.SourceIP); set
	// before the first dial.
	source net.IP
}

func (l *link) dial(u *url.URL, o mqtt.ClientOptions) (net.Conn, error) {
	l.mu.Lock()
	off := l.off
	l.mu.Unlock()
	if off != nil {
		return nil, off
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.ConnectTimeout)
	defer cancel()
	nd := &net.Dialer{}
	if l.source != nil {
		nd.LocalAddr = &net.TCPAddr{IP: l.source}
	}
	var conn net.Conn
	var err error
	switch u.Scheme {
	case "ssl", "tls", "mqtts":
		conn, err = (&tls.Dialer{NetDialer: nd, Config: o.TLSConfig}).DialContext(ctx, "tcp", u.Host)
	default:
		conn, err = nd.DialContext(ctx, "tcp", u.Host)
	}
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.off != nil {
		_ = conn.Close()
		return nil, l.off
	}
	lc := &linkConn{Conn: conn}
	l.conn = lc
	return lc, nil
}

// errUplinkDown is what reads and writes fail with once the uplink is
// taken away. It must not read as "use of closed network connection":
// paho takes that for a close of its own and would only notice the loss
// at the next keepalive.
var errUplinkDown = errors.New("network unreachable: uplink down")

// linkConn is the live connection; after drop its reads and writes fail
// with errUplinkDown.
type linkConn struct {
	net.Conn
	dropped atomic.Bool
}

func (c *linkConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil && c.dropped.Load() {
		err = errUplinkDown
	}
	return n, err
}

func (c *linkConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if err != nil && c.dropped.Load() {
		err = errUplinkDown
	}
	return n, err
}

// down fails the live connection as a lost network does and refuses to
// dial until restore; unlike cut, the client sees a connection loss.
func (l *link) down() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.off = errUplinkDown
	if l.conn != nil {
		l.conn.dropped.Store(true)
		_ = l.conn.Close()
		l.conn = nil
	}
}

// cut closes the live connection and refuses to dial again.
func (l *link) cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.off = errPowerCut
	if l.conn != nil {
		_ = l.conn.Close()
		l.conn = nil
	}
}

// restore powers the radio back on.
func (l *link) restore() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.off = nil
}
