package notify_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting/notify"
)

// whsecSecret is a Standard Webhooks secret: "whsec_" and base64 of 32 bytes.
var whsecSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))

// signedRequest is one request a Webhook made, as a receiver got it.
type signedRequest struct {
	header http.Header
	body   []byte
}

// sendOne posts one notification through a Webhook with cfg at the time
// now, and returns the request the receiver saw.
func sendOne(t *testing.T, cfg notify.WebhookConfig, now time.Time) signedRequest {
	t.Helper()
	got := make(chan signedRequest, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- signedRequest{r.Header.Clone(), body}
	}))
	defer srv.Close()
	cfg.URL = srv.URL
	cfg.Now = func() time.Time { return now }
	w, err := notify.NewWebhook(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Notify(context.Background(), note()); err != nil {
		t.Fatal(err)
	}
	return <-got
}

// independentSignature computes webhook-signature from the Standard
// Webhooks description alone, without anxin's code.
func independentSignature(secret, id, ts string, body []byte) string {
	key := []byte(secret)
	if b64, ok := strings.CutPrefix(secret, "whsec_"); ok {
		key, _ = base64.StdEncoding.DecodeString(b64)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "." + string(body)))
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// TestWebhookStandardSignature: every request carries webhook-id (the
// notification key), webhook-timestamp (the clock's seconds) and a
// webhook-signature that an independent implementation computes alike, for
// a plain and a whsec_ secret; the old body-only header comes along unless
// legacy_signature is false.
func TestWebhookStandardSignature(t *testing.T) {
	now := time.Date(2026, 11, 23, 2, 0, 30, 0, time.UTC)
	no := false
	for _, tc := range []struct {
		name       string
		secret     string
		legacy     *bool
		wantLegacy bool
	}{
		{"plain secret", secret, nil, true},
		{"whsec secret", whsecSecret, nil, true},
		{"legacy off", whsecSecret, &no, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := sendOne(t, notify.WebhookConfig{Secret: tc.secret, LegacySignature: tc.legacy}, now)
			id, ts := req.header.Get("webhook-id"), req.header.Get("webhook-timestamp")
			if want := note().Key; id != want {
				t.Errorf("webhook-id %q, want the notification key %q", id, want)
			}
			if want := strconv.FormatInt(now.Unix(), 10); ts != want {
				t.Errorf("webhook-timestamp %q, want %q", ts, want)
			}
			if got, want := req.header.Get("webhook-signature"), independentSignature(tc.secret, id, ts, req.body); got != want {
				t.Errorf("webhook-signature %q, want %q", got, want)
			}
			legacy := req.header.Get("X-Anxin-Signature")
			if tc.wantLegacy && legacy != notify.Signature(tc.secret, req.body) {
				t.Errorf("X-Anxin-Signature %q, want the body-only signature", legacy)
			}
			if !tc.wantLegacy && legacy != "" {
				t.Errorf("X-Anxin-Signature %q sent with legacy_signature false", legacy)
			}
			if err := notify.Verify(tc.secret, req.header, req.body, now.Add(time.Minute), 0); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

// TestWebhookSecretConfig: a whsec_ secret must hold base64 of a key long
// enough; the error never shows the secret.
func TestWebhookSecretConfig(t *testing.T) {
	for _, tc := range []struct {
		name, secret, want string
	}{
		{"not base64", "whsec_!!!not-base64-at-all!!!", "standard base64"},
		{"short key", "whsec_" + base64.StdEncoding.EncodeToString([]byte("short")), "at least 16 bytes"},
		{"short plain", "short", "at least 16 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := notify.WebhookConfig{URL: "https://example.org/h", Secret: tc.secret}.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate: %v, want an error saying %q", err, tc.want)
			}
			if strings.Contains(err.Error(), tc.secret) {
				t.Errorf("the error shows the secret: %v", err)
			}
		})
	}
}

// readmeExample returns the fenced block that follows
// "<!-- example: NAME -->" in the repository's README.
func readmeExample(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), "<!-- example: "+name+" -->\n")
	if !ok {
		t.Fatalf("README has no example %q", name)
	}
	_, code, _ := strings.Cut(after, "```")
	_, code, _ = strings.Cut(code, "\n") // the language
	code, _, ok = strings.Cut(code, "```")
	if !ok {
		t.Fatalf("README example %q has no closing fence", name)
	}
	return code
}

// tool finds a program the test needs, failing with CI=true when it is
// missing and skipping otherwise.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found (scripts/test.sh installs it): %v", name, err)
		}
		t.Skipf("%s not found: %v", name, err)
	}
	return p
}

// TestReadmePythonVerifier runs the README's Python verifier on real
// requests: it accepts a fresh one and refuses a tampered body, a stale or
// future timestamp and a wrong secret.
func TestReadmePythonVerifier(t *testing.T) {
	python := tool(t, "python3")
	code := readmeExample(t, "verify-webhook-python")
	driver := code + `
import json, sys
for case in json.load(sys.stdin):
    ok = verify(case["secret"], case["headers"], base64.b64decode(case["body"]))
    print("ok" if ok else "refused")
`
	now := time.Now()
	type pyCase struct {
		name    string
		Secret  string            `json:"secret"`
		Headers map[string]string `json:"headers"`
		Body    []byte            `json:"body"`
		want    string
	}
	var cases []pyCase
	for _, s := range []string{secret, whsecSecret} {
		fresh := sendOne(t, notify.WebhookConfig{Secret: s}, now)
		stale := sendOne(t, notify.WebhookConfig{Secret: s}, now.Add(-6*time.Minute))
		future := sendOne(t, notify.WebhookConfig{Secret: s}, now.Add(6*time.Minute))
		tampered := append([]byte{}, fresh.body...)
		tampered[len(tampered)-2] ^= 1
		cases = append(cases,
			pyCase{name: "fresh", Secret: s, Headers: flat(fresh.header), Body: fresh.body, want: "ok"},
			pyCase{name: "tampered body", Secret: s, Headers: flat(fresh.header), Body: tampered, want: "refused"},
			pyCase{name: "stale timestamp", Secret: s, Headers: flat(stale.header), Body: stale.body, want: "refused"},
			pyCase{name: "future timestamp", Secret: s, Headers: flat(future.header), Body: future.body, want: "refused"},
			pyCase{name: "wrong secret", Secret: "another-secret-of-32-characters!", Headers: flat(fresh.header), Body: fresh.body, want: "refused"},
		)
	}
	in, _ := json.Marshal(cases)
	cmd := exec.Command(python, "-c", driver)
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	got := strings.Fields(string(out))
	if len(got) != len(cases) {
		t.Fatalf("python printed %q for %d cases", out, len(cases))
	}
	for i, c := range cases {
		if got[i] != c.want {
			t.Errorf("%s (secret %.6s…): the README's verifier says %s, want %s", c.name, c.Secret, got[i], c.want)
		}
	}
}

func flat(h http.Header) map[string]string {
	out := map[string]string{}
	for k := range h {
		out[strings.ToLower(k)] = h.Get(k)
	}
	return out
}

// TestReadmeOpensslSignature: the README's openssl line prints the
// webhook-signature of a real request, and another one for a tampered body.
func TestReadmeOpensslSignature(t *testing.T) {
	bash := tool(t, "bash")
	tool(t, "openssl")
	line := strings.TrimSpace(readmeExample(t, "verify-webhook-openssl"))
	whsecLine := strings.Replace(line, `-hmac "$SECRET"`,
		`-mac HMAC -macopt hexkey:$(printf %s "${SECRET#whsec_}" | base64 -d | od -An -v -tx1 | tr -d ' \n')`, 1)
	for _, tc := range []struct {
		name, secret, line string
	}{
		{"plain secret", secret, line},
		{"whsec secret", whsecSecret, whsecLine},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := sendOne(t, notify.WebhookConfig{Secret: tc.secret}, time.Now())
			run := func(body []byte) string {
				dir := t.TempDir()
				if err := os.WriteFile(filepath.Join(dir, "body.json"), body, 0o600); err != nil {
					t.Fatal(err)
				}
				cmd := exec.Command(bash, "-c", tc.line)
				cmd.Dir = dir
				cmd.Env = append(os.Environ(), "ID="+req.header.Get("webhook-id"),
					"TS="+req.header.Get("webhook-timestamp"), "SECRET="+tc.secret)
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("%s: %v\n%s", tc.line, err, out)
				}
				return strings.TrimSpace(string(out))
			}
			if got, want := run(req.body), req.header.Get("webhook-signature"); got != want {
				t.Errorf("openssl says %q, the request's webhook-signature is %q", got, want)
			}
			tampered := append([]byte{}, req.body...)
			tampered[0] = ' '
			if got := run(tampered); got == req.header.Get("webhook-signature") {
				t.Errorf("openssl gives the same signature for a tampered body")
			}
		})
	}
}

// TestVerify: the Go verifier refuses what the README says a receiver
// must refuse.
func TestVerify(t *testing.T) {
	now := time.Date(2026, 11, 23, 2, 0, 30, 0, time.UTC)
	req := sendOne(t, notify.WebhookConfig{Secret: whsecSecret}, now)
	tampered := append([]byte{}, req.body...)
	tampered[1] ^= 1
	for _, tc := range []struct {
		name string
		body []byte
		at   time.Time
		want error
	}{
		{"fresh", req.body, now.Add(4 * time.Minute), nil},
		{"tampered body", tampered, now, notify.ErrBadSignature},
		{"stale", req.body, now.Add(5*time.Minute + time.Second), notify.ErrStale},
		{"from the future", req.body, now.Add(-5*time.Minute - time.Second), notify.ErrStale},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := notify.Verify(whsecSecret, req.header, tc.body, tc.at, 0)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Errorf("Verify: %v, want %v", err, tc.want)
			}
		})
	}
}

// FuzzVerify: whatever headers and body a stranger sends, Verify answers
// with an error or nil, never a panic, and accepts only a real signature.
func FuzzVerify(f *testing.F) {
	now := time.Date(2026, 11, 23, 2, 0, 30, 0, time.UTC)
	good, _ := notify.StandardSignature(whsecSecret, "A-1/step/1/webhook:x", "1795399230", []byte(`{"a":1}`))
	f.Add("A-1/step/1/webhook:x", "1795399230", good, []byte(`{"a":1}`))
	f.Add("", "", "", []byte{})
	f.Add("id", "-99999999999999999999", "v1,xx v1,", []byte("x"))
	f.Add("id", "1795399230", "v1,"+strings.Repeat("A", 5000), []byte("x"))
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", ts)
		h.Set("webhook-signature", sig)
		err := notify.Verify(whsecSecret, h, body, now, 0)
		if err == nil {
			want, _ := notify.StandardSignature(whsecSecret, id, ts, body)
			if !strings.Contains(" "+sig+" ", " "+want+" ") && !slices.Contains(strings.Fields(sig), want) {
				t.Fatalf("accepted a signature %q that is not %q", sig, want)
			}
		}
	})
}
