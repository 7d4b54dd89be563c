package mqttlisten_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/anxin-care/anxin/mqttlisten"
)

// TestCloseWhileClientsChurn: the broker closes, every time, while clients
// keep connecting and disconnecting (mochi's own listener can hang here).
func TestCloseWhileClientsChurn(t *testing.T) {
	for round := range 5 {
		srv := mqtt.New(&mqtt.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err := srv.AddHook(new(allowAll), nil); err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.AddListener(mqttlisten.New("t", ln, srv)); err != nil {
			t.Fatal(err)
		}
		if err := srv.Serve(); err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; ; n++ {
					select {
					case <-stop:
						return
					default:
					}
					c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + ln.Addr().String()).
						SetClientID(fmt.Sprintf("c-%d-%d", i, n)).SetConnectTimeout(time.Second).SetAutoReconnect(false))
					if tok := c.Connect(); tok.WaitTimeout(time.Second) && tok.Error() == nil {
						c.Disconnect(0)
					}
				}
			}()
		}
		time.Sleep(100 * time.Millisecond)
		closed := make(chan error, 1)
		go func() { closed <- srv.Close() }()
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: the broker did not close within 10 s while clients churned", round)
		}
		close(stop)
		wg.Wait()
	}
}

type allowAll struct{ mqtt.HookBase }

func (allowAll) ID() string { return "allow" }

func (allowAll) Provides(b byte) bool { return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck }

func (allowAll) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }

func (allowAll) OnACLCheck(*mqtt.Client, string, bool) bool { return true }

// serve starts a broker that lets everyone in, on a listener made by wrap
// around a loopback one, and closes it when the test ends.
func serve(t *testing.T, wrap func(net.Listener) net.Listener, opts ...mqttlisten.Option) (*mqttlisten.Listener, string) {
	t.Helper()
	srv := mqtt.New(&mqtt.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := srv.AddHook(new(allowAll), nil); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := mqttlisten.New("t", wrap(ln), srv, opts...)
	if err := srv.AddListener(l); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return l, ln.Addr().String()
}

// connect sends an MQTT 3.1.1 CONNECT (keepalive 60 s) on c and reads the
// CONNACK's 4 bytes.
func connect(t *testing.T, c net.Conn, id string) error {
	t.Helper()
	var buf bytes.Buffer
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: 4,
		Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), ClientIdentifier: id, Clean: true, Keepalive: 60}}
	if err := pk.ConnectEncode(&buf); err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(buf.Bytes()); err != nil {
		return err
	}
	ack := make([]byte, 4)
	if _, err := io.ReadFull(c, ack); err != nil {
		return err
	}
	if ack[0] != 0x20 || ack[3] != 0 {
		return fmt.Errorf("CONNACK % x", ack)
	}
	return nil
}

// TestConnectDeadline: sockets that never send CONNECT are closed after the
// connect timeout; one that sent its CONNECT in time stays open.
func TestConnectDeadline(t *testing.T) {
	const timeout = 300 * time.Millisecond
	_, addr := serve(t, func(ln net.Listener) net.Listener { return ln }, mqttlisten.WithConnectTimeout(timeout))
	good, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	if err := connect(t, good, "good"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for range 50 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
				t.Errorf("a socket without CONNECT was not closed by the broker: %v", err)
			}
		}()
	}
	wg.Wait()
	if d := time.Since(start); d < timeout {
		t.Errorf("silent sockets closed after %v, before the %v timeout", d, timeout)
	}
	// The connected client, past the connect timeout, still gets its PINGRESP.
	good.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := good.Write([]byte{0xc0, 0}); err != nil {
		t.Fatal(err)
	}
	resp := make([]byte, 2)
	if _, err := io.ReadFull(good, resp); err != nil || resp[0] != 0xd0 {
		t.Fatalf("connected client after the connect timeout: % x, %v; want a PINGRESP", resp, err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// flakyListener fails every Accept with EMFILE while failing is set, as a
// process at its descriptor limit does.
type flakyListener struct {
	net.Listener
	failing atomic.Bool
}

func (f *flakyListener) Accept() (net.Conn, error) {
	if f.failing.Load() {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return f.Listener.Accept()
}

// TestAcceptErrorsBackOff: failing Accepts are reported, backed off and
// retried; Ready says the listener is not accepting while they fail, and a
// client connects once they stop.
func TestAcceptErrorsBackOff(t *testing.T) {
	var flaky *flakyListener
	var errs atomic.Int64
	l, addr := serve(t, func(ln net.Listener) net.Listener {
		flaky = &flakyListener{Listener: ln}
		flaky.failing.Store(true)
		return flaky
	}, mqttlisten.WithAcceptErrors(func(error) { errs.Add(1) }))
	deadline := time.Now().Add(5 * time.Second)
	for errs.Load() < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("%d accept errors reported in 5 s, want 5", errs.Load())
		}
		time.Sleep(time.Millisecond)
	}
	if err := l.Ready(); err == nil || !errors.Is(err, syscall.EMFILE) {
		t.Fatalf("Ready while Accept fails: %v, want the EMFILE", err)
	}
	c, err := net.Dial("tcp", addr) // waits in the kernel's backlog
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	flaky.failing.Store(false)
	if err := connect(t, c, "after"); err != nil {
		t.Fatalf("no CONNACK once Accept works again: %v", err)
	}
	if err := l.Ready(); err != nil {
		t.Fatalf("Ready after recovery: %v", err)
	}
	if n := errs.Load(); n > 20 {
		t.Errorf("%d accept errors in a short while: no backoff", n)
	}
}
