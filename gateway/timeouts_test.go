package gateway_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/gateway/state"
)

// TestStreamDropsClientThatNeverReads: an SSE client that opens the stream
// and never reads is dropped once a frame cannot be written within
// stream_write_timeout (here 300 ms), instead of holding a connection and a
// goroutine for ever. The client's receive buffer is made small so that
// the kernel's buffers fill after a few hundred kilobytes; notes on an
// alarm make ever larger frames (each carries the timeline).
func TestStreamDropsClientThatNeverReads(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{StreamWriteTimeout: alerting.Duration(300 * time.Millisecond)})
	op := g.AddUser("li", state.RoleOperator)
	dev := g.ConnectDevice("btn-101", g.Provision("btn-101", "call_button"))
	alarm := dev.Expect(dev.Press("call.press"), "received").Alarm

	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
	}}
	conn, err := d.Dial("tcp", g.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /api/v1/stream HTTP/1.1\r\nHost: anxin\r\nAuthorization: Bearer %s\r\n\r\n", op.Token)

	note := map[string]string{"note": strings.Repeat("门没锁，邻居去看了。", 30)}
	deadline := time.Now().Add(30 * time.Second)
	notes := 0
	for g.Metric("anxin_stream_write_timeouts_total") == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after %d notes the client that never reads is still connected", notes)
		}
		if code := op.Do("POST", "/api/v1/alarms/"+alarm+"/notes", note, nil); code != 200 {
			t.Fatalf("note %d: HTTP %d", notes, code)
		}
		notes++
	}
	t.Logf("dropped after %d notes", notes)
	// The gateway closed its end: what was buffered drains, then the stream ends.
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, conn); err != nil && !errors.Is(err, syscall.ECONNRESET) {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatal("the stream's connection is still open after the write timeout")
		}
		t.Fatal(err)
	}
	if n := g.Metric("anxin_stream_clients"); n != 0 {
		t.Fatalf("anxin_stream_clients = %v after the drop", n)
	}
}
