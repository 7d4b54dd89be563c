package gateway_test

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
)

// TestOpenAPIServed: a client generator can fetch the description from a
// running gateway without logging in, and it is valid OpenAPI 3.
func TestOpenAPIServed(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	resp, err := http.Get(g.BaseURL + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /api/v1/openapi.json: HTTP %d, %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	doc, err := openapi3.NewLoader().LoadFromData(body)
	if err != nil {
		t.Fatalf("served description does not load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("served description is not valid: %v", err)
	}
	if doc.Paths.Find("/api/v1/alarms/{id}/ack") == nil {
		t.Error("served description lacks /api/v1/alarms/{id}/ack")
	}
}
