package notify_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/alerting/notify"
)

const secret = "a-shared-secret-of-32-characters"

// receiver is a webhook receiver that checks every request as a careful
// one would: the HMAC over the raw body, the idempotency key.
type receiver struct {
	t       *testing.T
	mu      sync.Mutex
	bodies  [][]byte
	keys    []string
	answers []int // status per request; 200 once they run out
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	want := "sha256=" + hex.EncodeToString(m.Sum(nil))
	if got := r.Header.Get("X-Anxin-Signature"); !hmac.Equal([]byte(got), []byte(want)) {
		rc.t.Errorf("signature %q, want %q", got, want)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		rc.t.Errorf("%s with Content-Type %q", r.Method, r.Header.Get("Content-Type"))
	}
	var b notify.WebhookBody
	if err := json.Unmarshal(body, &b); err != nil {
		rc.t.Errorf("body: %v", err)
	}
	if key := r.Header.Get("Idempotency-Key"); key == "" || key != b.IdempotencyKey {
		rc.t.Errorf("Idempotency-Key %q, body says %q", key, b.IdempotencyKey)
	}
	rc.mu.Lock()
	rc.bodies = append(rc.bodies, body)
	rc.keys = append(rc.keys, r.Header.Get("Idempotency-Key"))
	status := http.StatusOK
	if len(rc.answers) > 0 {
		status, rc.answers = rc.answers[0], rc.answers[1:]
	}
	rc.mu.Unlock()
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "7")
	}
	w.WriteHeader(status)
}

func (rc *receiver) requests() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.bodies)
}

func newWebhook(t *testing.T, url string, timeout time.Duration) *notify.Webhook {
	t.Helper()
	w, err := notify.NewWebhook(notify.WebhookConfig{URL: url, Secret: secret, Timeout: alerting.Duration(timeout)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestWebhookFailsThreeTimesThenDeliversOnce(t *testing.T) {
	rc := &receiver{t: t, answers: []int{500, 503, 502}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	clock := &fakeTime{now: raisedAt.Add(45 * time.Second)}
	rec, met := &recorder{}, &counters{}
	p, err := notify.New(notify.Config{
		Channels: map[string]alerting.Notifier{"webhook:county": newWebhook(t, srv.URL, 5*time.Second)},
		Backoff:  notify.Backoff{Base: 2 * time.Second, Factor: 2, Max: time.Minute, MaxAttempts: 5},
		Recorder: rec, Metrics: met, Now: clock.Now, Sleep: clock.Sleep,
	})
	if err != nil {
		t.Fatal(err)
	}
	n := note()
	n.Channel, n.Key = "webhook:county", "A-mho2xa-1/step/2/webhook:county"
	if err := p.Deliver(t.Context(), n); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	// Handed over again, later and twice at once: never sent again.
	if err := p.Deliver(t.Context(), n, n); err != nil {
		t.Fatalf("Deliver again: %v", err)
	}
	if got := rc.requests(); got != 4 {
		t.Fatalf("receiver saw %d requests, want 4", got)
	}
	if slices.Compact(slices.Clone(rc.keys))[0] != n.Key || len(slices.Compact(slices.Clone(rc.keys))) != 1 {
		t.Errorf("Idempotency-Key across retries %v, want %q each time", rc.keys, n.Key)
	}
	var got []string
	for _, a := range rec.all() {
		got = append(got, strings.Join([]string{a.Channel, a.Kind, string(a.Outcome), strconv.Itoa(a.Number), strconv.Itoa(a.Status),
			a.RetryIn.String(), a.At.Sub(raisedAt).String()}, " "))
	}
	want := []string{
		"webhook:county webhook retrying 1 500 2s 45s",
		"webhook:county webhook retrying 2 503 4s 47s",
		"webhook:county webhook retrying 3 502 8s 51s",
		"webhook:county webhook delivered 4 200 0s 59s",
	}
	if !slices.Equal(got, want) {
		t.Errorf("attempts\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if met.get("webhook:county webhook retrying") != 3 || met.get("webhook:county webhook delivered") != 1 ||
		met.get("webhook:county duplicate") != 2 {
		t.Errorf("metrics %v", met.m)
	}
	var b notify.WebhookBody
	if err := json.Unmarshal(rc.bodies[3], &b); err != nil || b.Attempt != 4 {
		t.Errorf("the fourth body says attempt %d (%v), want 4", b.Attempt, err)
	}
}

func TestWebhookAnswers(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		slow      bool
		retry     bool
		wantStat  int
		retryWait time.Duration // from HTTPError.RetryAfter
	}{
		{name: "2xx delivers", status: 204, wantStat: 204},
		{name: "400 gives up", status: 400, retry: false, wantStat: 400},
		{name: "401 gives up", status: 401, retry: false, wantStat: 401},
		{name: "404 gives up", status: 404, retry: false, wantStat: 404},
		{name: "408 retries", status: 408, retry: true, wantStat: 408},
		{name: "429 retries after Retry-After", status: 429, retry: true, wantStat: 429, retryWait: 7 * time.Second},
		{name: "500 retries", status: 500, retry: true, wantStat: 500},
		{name: "a timeout retries", slow: true, retry: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.slow {
					_, _ = io.Copy(io.Discard, r.Body)
					select {
					case <-r.Context().Done():
					case <-release:
					}
					return
				}
				if tt.status == 429 {
					w.Header().Set("Retry-After", "7")
				}
				w.WriteHeader(tt.status)
			}))
			defer srv.Close()
			defer close(release)
			timeout := 10 * time.Second // a loaded machine must not turn answers into timeouts
			if tt.slow {
				timeout = 100 * time.Millisecond
			}
			w := newWebhook(t, srv.URL+"/hook?token=s3cr3t-token", timeout)
			retry, err := w.Notify(t.Context(), note())
			if tt.status/100 == 2 {
				if err != nil {
					t.Fatalf("Notify: %v", err)
				}
				return
			}
			if err == nil || retry != tt.retry {
				t.Fatalf("Notify: retry %v err %v, want retry %v and an error", retry, err, tt.retry)
			}
			if strings.Contains(err.Error(), "s3cr3t-token") {
				t.Errorf("the error shows the URL's token: %v", err)
			}
			var he *notify.HTTPError
			if tt.wantStat != 0 && (!errors.As(err, &he) || he.Status != tt.wantStat || he.RetryAfter != tt.retryWait) {
				t.Errorf("error %#v, want status %d retry after %s", err, tt.wantStat, tt.retryWait)
			}
			if tt.slow && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error %v, want a deadline", err)
			}
		})
	}
}

func TestWebhookHonoursRetryAfter(t *testing.T) {
	rc := &receiver{t: t, answers: []int{429}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	clock := &fakeTime{now: raisedAt}
	p, err := notify.New(notify.Config{
		Channels: map[string]alerting.Notifier{"robot:qs-town": newWebhook(t, srv.URL, 5*time.Second)},
		Now:      clock.Now, Sleep: clock.Sleep, Rand: func() float64 { return 0.5 },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Deliver(t.Context(), note()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(clock.sleeps, []time.Duration{7 * time.Second}) {
		t.Fatalf("slept %v, want the receiver's 7s", clock.sleeps)
	}
}

func TestWebhookBody(t *testing.T) {
	n := note()
	n.Channel, n.Key, n.Attempt = "webhook:county", "A-mho2xa-1/step/2/webhook:county", 1
	n.Contacts = []alerting.Contact{{Name: "王强", Phone: "13900000009", Relation: "儿子"}}
	var got map[string]any
	b, _ := json.Marshal(notify.NewWebhookBody(n, nil))
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	const want = `{
	  "version": 1,
	  "idempotency_key": "A-mho2xa-1/step/2/webhook:county",
	  "kind": "step", "step": 2, "attempt": 1,
	  "channel": "webhook:county",
	  "targets": ["supervisor", "next_level"],
	  "event_time": "2026-11-23T02:00:45Z",
	  "alarm": {"id": "A-mho2xa-1", "priority": "P1", "type": "call", "type_name": "一键呼叫", "event": "call.press",
	            "state": "raised", "device": "btn-12", "count": 2, "raised_at": "2026-11-23T02:00:00Z",
	            "acknowledged_at": null, "owner": "", "age_seconds": 45},
	  "site": "qs-v12-bedroom",
	  "location": ["青山县", "青山镇", "青山村", "12号", "卧室"],
	  "routed_site": "qs-village",
	  "resident": {"name": "王秀英", "age": 82, "conditions": ["高血压"]},
	  "recipients": [{"id": "zhang", "name": "张伟", "phone": "13800000002", "site": "qs-town", "supervisor": true},
	                 {"id": "zhao", "name": "赵敏", "phone": "13800000003", "site": "qs-town"}],
	  "mentions": ["13800000002", "13800000003"],
	  "emergency_contacts": [{"name": "王强", "phone": "13900000009", "relation": "儿子"}],
	  "text": "【安心 P1 生命安全】一键呼叫:已 45 秒无人响应(第 2 步升级)\n位置:青山县 / 青山镇 / 青山村 / 12号 / 卧室\n老人:王秀英,82 岁,高血压\n时间:2026-11-23 10:00:00 触发,共 2 次\n告警:A-mho2xa-1 设备 btn-12\n紧急联系人:王强(儿子) 13900000009\n请立即处理:@13800000002 @13800000003"
	}`
	var w map[string]any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	gb, _ := json.MarshalIndent(got, "", "  ")
	wb, _ := json.MarshalIndent(w, "", "  ")
	if string(gb) != string(wb) {
		t.Errorf("body\n%s\nwant\n%s", gb, wb)
	}
}

func TestWebhookConfig(t *testing.T) {
	tests := []struct {
		cfg  notify.WebhookConfig
		want string
	}{
		{notify.WebhookConfig{URL: "", Secret: secret}, "webhook url is empty"},
		{notify.WebhookConfig{URL: "ftp://x", Secret: secret}, "webhook url: scheme must be http or https"},
		{notify.WebhookConfig{URL: "https:///path", Secret: secret}, "webhook url has no host"},
		{notify.WebhookConfig{URL: "https://x", Secret: "short"}, "webhook secret: must be at least 16 bytes"},
		{notify.WebhookConfig{URL: "https://x", Secret: secret, Timeout: -1}, "webhook timeout"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, notify.ErrBadConfig) {
			t.Errorf("Validate(%+v): %v, want %q", tt.cfg, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), tt.cfg.Secret) {
			t.Errorf("the error shows the secret: %v", err)
		}
	}
}
