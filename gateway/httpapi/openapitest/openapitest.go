// Package openapitest checks real answers of the API against its OpenAPI
// description (gateway/httpapi/openapi.yaml) with kin-openapi. The
// gateway's test helpers (gatewaytest) pass every answer they receive
// through Check, so the integration tests keep the description true.
package openapitest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/anxin-care/anxin/gateway/httpapi"
)

var router = sync.OnceValues(func() (routers.Router, error) {
	doc, err := openapi3.NewLoader().LoadFromData(httpapi.OpenAPIYAML())
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, err
	}
	return legacy.NewRouter(doc)
})

// Validate says whether an answer to req fits the description: nil when it
// does, or when the description has no such route (a test of an unknown
// endpoint), or when the answer is a stream.
func Validate(req *http.Request, status int, header http.Header, body []byte) error {
	r, err := router()
	if err != nil {
		return fmt.Errorf("openapi.yaml: %w", err)
	}
	// Match on path and method only, whatever host the test server has.
	probe := req.Clone(context.Background())
	probe.URL.Scheme, probe.URL.Host, probe.Host = "", "", ""
	route, params, err := r.FindRoute(probe)
	if err != nil {
		return nil
	}
	if strings.HasPrefix(header.Get("Content-Type"), "text/event-stream") {
		return nil
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: probe, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		},
		Status: status,
		Header: header,
		Body:   io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true,
			MultiError:            true,
		},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return fmt.Errorf("%s %s → HTTP %d does not fit openapi.yaml: %w\nbody: %.400s", req.Method, req.URL.Path, status, err, body)
	}
	return nil
}

// Check fails t when an answer to req does not fit the description.
func Check(t testing.TB, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	if err := Validate(req, status, header, body); err != nil {
		t.Error(err)
	}
}
