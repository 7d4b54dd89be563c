// Package sdnotifytest stands in for systemd's side of sd_notify in tests:
// a real unixgram socket whose datagrams a test reads one by one.
package sdnotifytest

import (
	"net"
	"path/filepath"
	"testing"
	"time"
)

// Socket is a notify socket: its Path goes in $NOTIFY_SOCKET.
type Socket struct {
	Path string
	got  chan string
}

// Listen opens a notify socket in a temporary directory, closed when the
// test ends.
func Listen(t testing.TB) *Socket {
	t.Helper()
	s := &Socket{Path: filepath.Join(t.TempDir(), "notify.sock"), got: make(chan string, 4096)}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: s.Path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			s.got <- string(buf[:n])
		}
	}()
	return s
}

// Next is the next datagram, failing the test if none comes within d.
func (s *Socket) Next(t testing.TB, d time.Duration) string {
	t.Helper()
	select {
	case m := <-s.got:
		return m
	case <-time.After(d):
		t.Fatalf("no datagram on the notify socket within %s", d)
		return ""
	}
}

// Pending is a datagram that has arrived and not been read, if any: for
// "nothing was sent" after the test has waited for what it checks by
// other means.
func (s *Socket) Pending() (string, bool) {
	select {
	case m := <-s.got:
		return m, true
	default:
		return "", false
	}
}
