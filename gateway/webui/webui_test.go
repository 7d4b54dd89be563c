package webui

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandlerServesPagesWithHeaders(t *testing.T) {
	h := Handler()
	for _, tc := range []struct {
		path, method string
		status       int
		ctype        string
	}{
		{"/", "GET", 200, "text/html"},
		{"/login", "GET", 200, "text/html"},
		{"/static/js/console.mjs", "GET", 200, "text/javascript"},
		{"/static/css/console.css", "GET", 200, "text/css"},
		{"/static/i18n/console.en.json", "GET", 200, "application/json"},
		{"/static/nothing.js", "GET", 404, ""},
		{"/static/../webui.go", "GET", 404, ""},
		{"/elsewhere", "GET", 404, ""},
		{"/", "POST", 405, ""},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d", rec.Code, tc.status)
			}
			if csp := rec.Header().Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'self'") {
				t.Errorf("Content-Security-Policy %q", csp)
			}
			if tc.status != 200 {
				return
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, tc.ctype) {
				t.Errorf("Content-Type %q, want %s", ct, tc.ctype)
			}
			if cc := rec.Header().Get("Cache-Control"); cc != "no-cache" {
				t.Errorf("Cache-Control %q", cc)
			}
			etag := rec.Header().Get("ETag")
			if etag == "" {
				t.Fatal("no ETag")
			}
			req := httptest.NewRequest("GET", tc.path, nil)
			req.Header.Set("If-None-Match", etag)
			rec = httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusNotModified {
				t.Errorf("revalidation: status %d, want 304", rec.Code)
			}
		})
	}
}
