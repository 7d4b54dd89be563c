package gateway_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
)

// TestPprofListener: profiles are served only when debug.pprof_listen is
// set, on their own listener (never on the API's), on loopback when the
// address names only a port; a bad address is refused naming the field.
func TestPprofListener(t *testing.T) {
	get := func(t *testing.T, url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, c := range []struct {
		name, listen string
		served       bool
	}{
		{"off by default", "", false},
		{"loopback given", "127.0.0.1:0", true},
		{"port alone binds loopback", ":0", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := gatewaytest.Start(t, gateway.Config{Debug: gateway.DebugConfig{PprofListen: c.listen}})
			if code, _ := get(t, g.BaseURL+"/debug/pprof/"); code == http.StatusOK {
				t.Fatalf("the API's listener serves profiles")
			}
			addr := g.PprofAddr()
			if !c.served {
				if addr != "" {
					t.Fatalf("pprof listening on %s with debug.pprof_listen unset", addr)
				}
				return
			}
			if !strings.HasPrefix(addr, "127.0.0.1:") {
				t.Fatalf("pprof on %s, want loopback", addr)
			}
			for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap?debug=1", "/debug/pprof/mutex?debug=1"} {
				if code, body := get(t, "http://"+addr+path); code != http.StatusOK || body == "" {
					t.Fatalf("GET %s: %d %.80q", path, code, body)
				}
			}
		})
	}
	t.Run("bad address refused", func(t *testing.T) {
		err := gateway.Config{Debug: gateway.DebugConfig{PprofListen: "6060"}}.Validate()
		if err == nil || !strings.Contains(err.Error(), "debug.pprof_listen") {
			t.Fatalf("validate: %v, want an error naming debug.pprof_listen", err)
		}
	})
}
