package openapitest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/anxin-care/anxin/gateway/httpapi/openapitest"
)

// TestValidate: the checker refuses an answer that does not fit, so that
// the integration tests passing through it mean something.
func TestValidate(t *testing.T) {
	json := http.Header{"Content-Type": {"application/json"}}
	cases := []struct {
		name, method, path string
		status             int
		header             http.Header
		body               string
		bad                string // "" when it fits; else a part of the error
	}{
		{"alarm list", "GET", "/api/v1/alarms", 200, json, `{"alarms":[],"count":0}`, ""},
		{"alarm list as null", "GET", "/api/v1/alarms", 200, json, `{"alarms":null,"count":0}`, "not nullable"},
		{"count missing", "GET", "/api/v1/alarms", 200, json, `{"alarms":[]}`, "count"},
		{"wrong type", "GET", "/api/v1/devices/d1", 200, json, `{"id":"d1","kind":"call_button","format":"native","state":"active","health":{"online":"yes"}}`, "online"},
		{"error answer", "GET", "/api/v1/devices/nope", 404, json, `{"error":"device not found: nope"}`, ""},
		{"error without error", "GET", "/api/v1/devices/nope", 404, json, `{"message":"x"}`, "error"},
		{"unknown route is not judged", "GET", "/api/v1/nope", 404, json, `{"error":"no such endpoint"}`, ""},
		{"stream is not judged", "GET", "/api/v1/stream", 200, http.Header{"Content-Type": {"text/event-stream"}}, "id: 1\n", ""},
		{"undescribed status", "GET", "/healthz", 500, json, `{}`, "status"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, "http://127.0.0.1:1234"+c.path, nil)
			err := openapitest.Validate(req, c.status, c.header, []byte(c.body))
			switch {
			case c.bad == "" && err != nil:
				t.Errorf("refused: %v", err)
			case c.bad != "" && err == nil:
				t.Errorf("accepted; want an error about %s", c.bad)
			case c.bad != "" && !strings.Contains(err.Error(), c.bad):
				t.Errorf("error %v; want it to mention %s", err, c.bad)
			}
		})
	}
}
