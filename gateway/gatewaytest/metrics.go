package gatewaytest

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// Metric reads one sample from the /metrics of the gateway at base (e.g.
// http://127.0.0.1:8080), by its exact name and labels as the text format
// writes them, e.g. `anxin_rejections_total{reason="oversized"}`; a series
// that is not there reads 0.
func Metric(t testing.TB, base, series string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %q: %v", series, v, err)
			}
			return f
		}
	}
	return 0
}

// Metric reads one sample from this gateway's /metrics (see Metric).
func (g *Gateway) Metric(series string) float64 {
	g.t.Helper()
	return Metric(g.t, g.BaseURL, series)
}

// LoginAt logs in to a gateway running elsewhere (another process), at base.
func LoginAt(t testing.TB, base, user, password string) *Client {
	t.Helper()
	c := &Client{t: t, base: base}
	var out struct{ Token string }
	if code := c.Do("POST", "/api/v1/login", map[string]string{"user": user, "password": password}, &out); code != 200 {
		t.Fatalf("login %s at %s: HTTP %d", user, base, code)
	}
	c.Token = out.Token
	return c
}
