package gateway_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/alerting/notify"
	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
)

// syncBuffer is a log that a test reads while the gateway writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRobotErrorsNeverLogSecrets: robots that answer an error echoing the
// URL they were called on, with its WeCom key or DingTalk access_token,
// timestamp and sign, and kilobytes more, never put those secrets into the
// log or onto the alarm's timeline, and what is logged of a body is bounded.
func TestRobotErrorsNeverLogSecrets(t *testing.T) {
	const key, token = "wxkey-7f3a9c1e-5b2d-4e8f", "ddtoken9b8c7d6e5f4a3b2c1d"
	pad := strings.Repeat("详细信息 ", 500)
	var mu sync.Mutex
	var signs []string
	leaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		echo := "http://" + r.Host + r.URL.String()
		if r.URL.Path == "/wecom" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, "invalid webhook url %s %s", echo, pad)
			return
		}
		mu.Lock()
		sign := r.URL.Query().Get("sign")
		signs = append(signs, sign, url.QueryEscape(sign))
		mu.Unlock()
		fmt.Fprintf(w, `{"errcode":310000,"errmsg":"sign not match, url %s, access_token=%s %s"}`, echo, token, pad)
	}))
	t.Cleanup(leaky.Close)

	var log syncBuffer
	jitter := 0.0
	cfg := gateway.Config{
		EscalationPolicies: alerting.EscalationPolicies{{Priority: alerting.P1,
			Steps: []alerting.Step{{After: 0, Targets: []string{"robot:wx", "robot:dd"}}}}},
		Notifiers: gateway.NotifiersConfig{
			WeCom:    map[string]notify.WeComConfig{"wx": {Key: key, BaseURL: leaky.URL + "/wecom"}},
			DingTalk: map[string]notify.DingTalkConfig{"dd": {AccessToken: token, Secret: "SECsigning-secret-1", BaseURL: leaky.URL + "/dingtalk"}},
			Backoff: gateway.BackoffConfig{Base: alerting.Duration(5 * time.Millisecond), Factor: 2,
				Max: alerting.Duration(20 * time.Millisecond), MaxAttempts: 3, Jitter: &jitter},
		},
	}
	g := gatewaytest.Start(t, cfg, gatewaytest.WithLog(&log))
	seedNetwork(t, g)
	id := press(t, install(t, g, "btn-12", "call_button", "home-12-bedroom"), "call.press")
	wx := entries(t, g, id, alerting.ActNotified, "robot:wx", 1)
	dd := entries(t, g, id, alerting.ActNotified, "robot:dd", 1)
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(log.String(), "notification attempt failed") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the failed attempts were not logged:\n%s", log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}

	mu.Lock()
	secrets := append([]string{key, token, "SECsigning-secret-1"}, signs...)
	mu.Unlock()
	var notes []string
	for _, e := range append(wx, dd...) {
		notes = append(notes, e.Note)
	}
	for where, text := range map[string]string{"log": log.String(), "timeline": strings.Join(notes, "\n")} {
		for _, s := range secrets {
			if s != "" && strings.Contains(text, s) {
				t.Errorf("the %s holds the secret %q:\n%s", where, s, text)
			}
		}
	}
	for _, line := range strings.Split(log.String(), "\n") {
		if strings.Contains(line, "notification attempt failed") && len(line) > 1024 {
			t.Errorf("a logged attempt is %d bytes long: %.300s…", len(line), line)
		}
	}
	t.Logf("timeline: %s", notes[0])
}
