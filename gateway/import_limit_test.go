package gateway_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/gateway/httpapi"
)

// TestImportRefusesTooManyRowsWhileStreaming: a 200,000-row upload (about
// 4 MB, under the byte limit) is refused with a clear error as soon as the
// 10,001st row is read, not after parsing the whole file. The client
// sends the first 60,000 rows and then holds back the rest until it has
// the answer (or 10 s pass): the answer must come while the body is still
// streaming.
func TestImportRefusesTooManyRowsWhileStreaming(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	const rows, first = 200_000, 60_000
	pr, pw := io.Pipe()
	answered := make(chan struct{})
	var resumed atomic.Bool
	var written atomic.Int64
	go func() {
		defer pw.Close()
		n, _ := io.WriteString(pw, "id,kind\n")
		written.Add(int64(n))
		for i := range rows {
			if i == first {
				select {
				case <-answered:
					return
				case <-time.After(10 * time.Second):
					resumed.Store(true)
				}
			}
			n, err := fmt.Fprintf(pw, "b%06d,call_button\n", i)
			if err != nil {
				return
			}
			written.Add(int64(n))
		}
	}()
	req, _ := http.NewRequest("POST", g.BaseURL+"/api/v1/devices/import", pr)
	req.Header.Set("Authorization", "Bearer "+g.Admin.Token)
	req.Header.Set("Content-Type", "text/csv")
	resp, err := http.DefaultClient.Do(req)
	close(answered)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var res httpapi.ImportResult
	json.NewDecoder(resp.Body).Decode(&res)
	t.Logf("answer after the client wrote %d bytes: HTTP %d %q", written.Load(), resp.StatusCode, res.Error)
	if resumed.Load() {
		t.Fatalf("the gateway answered only after reading the whole file")
	}
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(res.Error, "10000 rows") {
		t.Fatalf("HTTP %d %q, want 413 naming the limit of 10000 rows", resp.StatusCode, res.Error)
	}
	var list struct{ Devices []json.RawMessage }
	if g.Admin.Do("GET", "/api/v1/devices", nil, &list); len(list.Devices) != 0 {
		t.Fatalf("%d devices were imported", len(list.Devices))
	}
}
