package httpapi

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"go.yaml.in/yaml/v3"
)

// openAPIYAML is the description of the API (openapi.yaml beside this
// file), kept true by TestOpenAPIDescribesEveryRoute and by every
// integration test, whose responses gatewaytest validates against it.
//
//go:embed openapi.yaml
var openAPIYAML []byte

// OpenAPIYAML returns the API's OpenAPI 3 description as written.
func OpenAPIYAML() []byte { return openAPIYAML }

var openAPIJSON = sync.OnceValues(func() ([]byte, error) {
	var doc any
	if err := yaml.Unmarshal(openAPIYAML, &doc); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	return json.MarshalIndent(doc, "", "  ")
})

// OpenAPIJSON returns the API's OpenAPI 3 description as JSON, as served
// at GET /api/v1/openapi.json.
func OpenAPIJSON() ([]byte, error) { return openAPIJSON() }

// serveOpenAPI serves the description. It needs no login: it says what
// the API is, nothing of what the gateway holds.
func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	b, err := OpenAPIJSON()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(b)
}
