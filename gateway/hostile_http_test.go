package gateway_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/anxin-care/anxin/gateway/httpapi"
)

// hostileHTTP is the HTTP side of the hostile corpus: a client that
// follows no redirect (a redirect is an answer to judge) and takes the
// admin's token where a case says as=admin.
type hostileHTTP struct {
	base, adminToken string
	client           *http.Client
}

func newHostileHTTP(base, adminToken string) *hostileHTTP {
	return &hostileHTTP{base: base, adminToken: adminToken, client: &http.Client{
		Timeout:       60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// countingReader counts what the client managed to send of a body.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// httpAnswer is what came back for one request.
type httpAnswer struct {
	status   int
	body     []byte
	location string
	sent     int64 // body bytes the client wrote before the answer
	err      error
}

func (h *hostileHTTP) do(method, target string, body io.Reader, size int64, admin bool, headers map[string]string) httpAnswer {
	var cr *countingReader
	if body != nil {
		cr = &countingReader{r: body}
		body = cr
	}
	req, err := http.NewRequest(method, h.base+target, body)
	if err != nil {
		return httpAnswer{err: err}
	}
	if body != nil && size > 0 {
		req.ContentLength = size
	}
	if admin {
		req.Header.Set("Authorization", "Bearer "+h.adminToken)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := h.client.Do(req)
	var a httpAnswer
	if cr != nil {
		a.sent = cr.n.Load()
	}
	if err != nil {
		a.err = err
		return a
	}
	defer resp.Body.Close()
	a.status, a.location = resp.StatusCode, resp.Header.Get("Location")
	a.body, a.err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return a
}

// maxErrorBody bounds a refusal's body: an error message names what was
// wrong, it does not echo a 100 kB id back.
const maxErrorBody = 2 << 10

// playHTTPCase sends a case's request and checks its expectations.
func (h *hostileHTTP) playHTTPCase(c corpusCase, vars *strings.Replacer) []string {
	var problems []string
	for _, st := range c.steps {
		if st.verb != "request" {
			return []string{fmt.Sprintf("line %d: unknown step %q", st.line, st.verb)}
		}
		method, _ := st.arg("method", vars)
		target, _ := st.arg("path", vars)
		_, admin := st.args["as"]
		headers := map[string]string{}
		if hv, ok := st.arg("header", vars); ok {
			k, v, _ := strings.Cut(hv, ": ")
			headers[k] = v
		}
		if ct, ok := st.arg("type", vars); ok {
			headers["Content-Type"] = ct
		}
		var body io.Reader
		var size int64
		if e, ok := st.args["body"]; ok {
			body, size = e.Reader(vars), int64(e.Len())
		}
		start := time.Now()
		a := h.do(method, target, body, size, admin, headers)
		took := time.Since(start)
		if a.err != nil {
			return append(problems, fmt.Sprintf("%s %.60s: no answer after %v (sent %d of %d bytes): %v", method, target, took.Round(time.Millisecond), a.sent, size, a.err))
		}
		for _, e := range c.expects {
			switch e.verb {
			case "status":
				want, _ := e.arg("code", vars)
				if !strings.Contains(","+want+",", ","+strconv.Itoa(a.status)+",") {
					problems = append(problems, fmt.Sprintf("HTTP %d (%.200s), want %s", a.status, a.body, want))
				}
			case "says":
				var apiErr httpapi.APIError
				json.Unmarshal(a.body, &apiErr)
				want, _ := e.arg("text", vars)
				if !strings.Contains(apiErr.Error, want) {
					problems = append(problems, fmt.Sprintf("error %.200q does not say %q", apiErr.Error, want))
				}
				if len(a.body) > maxErrorBody {
					problems = append(problems, fmt.Sprintf("the refusal is %d bytes long; an error names what was wrong in under %d", len(a.body), maxErrorBody))
				}
			case "unread":
				if size > 0 && a.sent > size/2 {
					problems = append(problems, fmt.Sprintf("the gateway let the client send %d of %d bytes before refusing", a.sent, size))
				}
			default:
				problems = append(problems, fmt.Sprintf("line %d: unknown expectation %q", e.line, e.verb))
			}
		}
	}
	return problems
}

// trickPrefixes are the paths every path trick is tried on: each route of
// the API (its {…} filled in), the ingest, health, metrics and the pages.
func trickPrefixes() []string {
	fill := regexp.MustCompile(`\{[^}]+\}`)
	seen := map[string]bool{}
	var out []string
	for _, r := range append(httpapi.Routes(), "GET /ingest/v1/ctwing_smoke", "GET /healthz", "GET /readyz", "GET /metrics",
		"GET /api/v1/openapi.json", "GET /console/", "GET /") {
		_, p, _ := strings.Cut(r, " ")
		p = fill.ReplaceAllString(p, "x")
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// leaks are what no path trick may ever show: /etc/passwd, the config
// file (its ingest token), or a device only an authenticated read shows.
var leaks = []string{"root:x:0:0", "$INGESTTOKEN", "$VICTIM"}

// playTricks tries every trick of the case on every prefix, anonymous and
// as admin. A trick may be answered with a redirect to a clean path, or a
// refusal (a JSON error under /api/); never a 5xx, never a leak, never, to
// an anonymous caller, anything an authenticated read shows.
func (h *hostileHTTP) playTricks(c corpusCase, vars *strings.Replacer) (tried int, problems []string) {
	for _, prefix := range trickPrefixes() {
		dir, base := path.Split(strings.TrimSuffix(prefix, "/"))
		dir = strings.TrimSuffix(dir, "/")
		for _, st := range c.steps {
			tmpl, _ := st.arg("path", vars)
			target := strings.NewReplacer("{P}", strings.TrimSuffix(prefix, "/"), "{D}", dir, "{B}", base).Replace(tmpl)
			if !strings.HasPrefix(target, "/") {
				target = "/" + target
			}
			for _, admin := range []bool{false, true} {
				tried++
				a := h.do("GET", target, nil, 0, admin, nil)
				who := "anonymous"
				if admin {
					who = "admin"
				}
				switch {
				case a.err != nil:
					problems = append(problems, fmt.Sprintf("%s GET %s: %v", who, target, a.err))
					continue
				case a.status >= 500:
					problems = append(problems, fmt.Sprintf("%s GET %s: HTTP %d %.200s", who, target, a.status, a.body))
				case a.status >= 300 && a.status < 400:
					if loc := strings.SplitN(a.location, "?", 2)[0]; path.Clean(loc) != loc && path.Clean(loc)+"/" != loc {
						problems = append(problems, fmt.Sprintf("%s GET %s: redirected to %q, not a clean path", who, target, a.location))
					}
				case a.status >= 400 && strings.HasPrefix(target, "/api/"):
					var apiErr httpapi.APIError
					if json.Unmarshal(a.body, &apiErr) != nil || apiErr.Error == "" {
						problems = append(problems, fmt.Sprintf("%s GET %s: HTTP %d without a JSON error: %.200s", who, target, a.status, a.body))
					}
				}
				for _, leak := range leaks {
					if leak = vars.Replace(leak); bytes.Contains(a.body, []byte(leak)) && (!admin || leak != vars.Replace("$VICTIM")) {
						problems = append(problems, fmt.Sprintf("%s GET %s: HTTP %d shows %q", who, target, a.status, leak))
					}
				}
			}
		}
	}
	return tried, problems
}
