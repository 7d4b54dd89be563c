package gateway_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/alerting/notify"
	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/gateway/state"
)

// Dependencies failing (issue 13, point 3): the receivers of
// notifications. The tests run on real time with the retry schedule scaled
// down 200 times (a minute is 300 ms): DefaultBackoff's 2 s, 4 s … once a
// minute, 20 attempts over ≈15 minutes become 10 ms, 20 ms … once every
// 300 ms over ≈4.5 s; an outage of "five minutes" lasts 1.5 s.
const (
	scaledBase     = 10 * time.Millisecond
	scaledMax      = 300 * time.Millisecond
	scaledOutage   = 1500 * time.Millisecond // ≈ 5 minutes at 1:200
	scaledHTTPWait = 100 * time.Millisecond  // a notifier's timeout (10 s by default)
)

// endpointMode is how a flaky receiver answers.
type endpointMode int

const (
	answerOK endpointMode = iota
	answer500
	hang // answer nothing until the caller gives up
)

// flakyEndpoint is a webhook receiver (/hook) and a WeCom robot (/wecom)
// that can answer 500 or hang; it keeps every request.
type flakyEndpoint struct {
	srv *httptest.Server

	mu   sync.Mutex
	mode endpointMode
	got  []flakyRequest
}

type flakyRequest struct {
	channel string
	at      time.Time
	body    string
	key     string // the webhook's Idempotency-Key
	status  int    // 0: the caller gave up first
}

func newFlakyEndpoint(t *testing.T) *flakyEndpoint {
	e := &flakyEndpoint{}
	e.srv = httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *flakyEndpoint) set(m endpointMode) {
	e.mu.Lock()
	e.mode = m
	e.mu.Unlock()
}

func (e *flakyEndpoint) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r := flakyRequest{channel: "webhook:county", at: time.Now(), body: string(body), key: req.Header.Get(notify.IdempotencyHeader)}
	if req.URL.Path == "/wecom" {
		r.channel = "robot:village"
	}
	e.mu.Lock()
	mode := e.mode
	e.mu.Unlock()
	switch mode {
	case hang:
		<-req.Context().Done()
	case answer500:
		r.status = http.StatusInternalServerError
		http.Error(w, "upstream unavailable", r.status)
	default:
		r.status = http.StatusOK
		io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`)
	}
	e.mu.Lock()
	e.got = append(e.got, r)
	e.mu.Unlock()
}

// requests returns what channel received about alarm.
func (e *flakyEndpoint) requests(channel, alarm string) []flakyRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []flakyRequest
	for _, r := range e.got {
		if r.channel == channel && strings.Contains(r.body, alarm) {
			out = append(out, r)
		}
	}
	return out
}

// attempts returns the alarm's timeline entries of step 1 to channel.
func attempts(t *testing.T, g *gatewaytest.Gateway, id, channel string) (notified, notes []alerting.Entry) {
	t.Helper()
	for _, e := range alarm(t, g, id).Timeline {
		if len(e.Targets) == 0 || e.Targets[0] != channel {
			continue
		}
		switch e.Action {
		case alerting.ActNotified:
			notified = append(notified, e)
		case alerting.ActNote:
			notes = append(notes, e)
		}
	}
	return notified, notes
}

// TestNotifiersDownForMinutes: the county's webhook and the village's
// WeCom robot answer 500, or nothing at all, for "five minutes" while five
// call buttons are pressed. Presses are answered as fast as ever; every
// notification is retried with growing waits, each attempt on its alarm's
// timeline and in the metrics; once the receivers are back each alarm
// still raised reaches each of them exactly once; an alarm acknowledged
// during the outage is not sent, and its timeline says why. A receiver
// down past the retry budget gets a bounded number of attempts, the last
// one "failed" on the timeline, in the metrics and in the log.
func TestNotifiersDownForMinutes(t *testing.T) {
	for _, tc := range []struct {
		name        string
		mode        endpointMode
		maxAttempts int
		outage      time.Duration
		delivered   bool
	}{
		{"answering 500", answer500, 20, scaledOutage, true},
		{"timing out", hang, 20, scaledOutage, true},
		{"down past the retry budget", answer500, 5, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ep := newFlakyEndpoint(t)
			jitter := 0.0
			log := &lockedBuffer{}
			g := gatewaytest.Start(t, gateway.Config{
				EscalationPolicies: alerting.EscalationPolicies{{Priority: alerting.P1,
					Steps: []alerting.Step{{After: 0, Targets: []string{"webhook:county", "robot:village"}}}}},
				Notifiers: gateway.NotifiersConfig{
					Webhooks: map[string]notify.WebhookConfig{"county": {URL: ep.srv.URL + "/hook", Secret: webhookSecret,
						Timeout: alerting.Duration(scaledHTTPWait)}},
					WeCom: map[string]notify.WeComConfig{"village": {Key: "village", BaseURL: ep.srv.URL + "/wecom",
						Timeout: alerting.Duration(scaledHTTPWait)}},
					Backoff: gateway.BackoffConfig{Base: alerting.Duration(scaledBase), Factor: 2, Max: alerting.Duration(scaledMax),
						MaxAttempts: tc.maxAttempts, Jitter: &jitter},
				},
			}, gatewaytest.WithLog(log))
			g.SeedSites()
			op := g.AddUser("li", state.RoleOperator)

			ep.set(tc.mode)
			down := time.Now()
			var ids []string
			var slowest time.Duration
			for i := range 5 {
				id := fmt.Sprintf("btn-%d", i)
				dev := g.ConnectDevice(id, g.ProvisionWith(map[string]any{"id": id, "kind": "call_button", "site": "home-12-bedroom"}))
				at := time.Now()
				ids = append(ids, dev.Expect(dev.Press("call.press"), "received").Alarm)
				slowest = max(slowest, time.Since(at))
			}
			if slowest > time.Second {
				t.Errorf("a press took %v to be answered while the receivers were down", slowest)
			}
			// The operator takes the first alarm during the outage: its
			// notifications stop at their next retry.
			taken, raised := ids[0], ids[1:]
			if code := op.Do("POST", "/api/v1/alarms/"+taken+"/ack", nil, nil); code != 200 {
				t.Fatalf("ack %s: HTTP %d", taken, code)
			}
			if tc.outage > 0 {
				time.Sleep(tc.outage - time.Since(down)) // the outage is the fault under test, not a wait for a result
				ep.set(answerOK)
			}
			up := time.Since(down)

			channels := []string{"webhook:county", "robot:village"}
			want := float64(len(raised) * len(channels))
			outcome := "delivered"
			if !tc.delivered {
				outcome = "failed"
			}
			series := func(ch, o string) string {
				kind := "webhook"
				if ch == "robot:village" {
					kind = "wecom"
				}
				return fmt.Sprintf(`anxin_notifications_total{channel=%q,kind=%q,outcome=%q}`, ch, kind, o)
			}
			deadline := time.Now().Add(15 * time.Second)
			for {
				got := g.Metric(series(channels[0], outcome)) + g.Metric(series(channels[1], outcome))
				if got == want {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%v notifications %s within 15 s, want %v", got, outcome, want)
				}
				time.Sleep(20 * time.Millisecond)
			}

			var retried, total int
			for _, id := range raised {
				for _, ch := range channels {
					notified, _ := attempts(t, g, id, ch)
					reqs := ep.requests(ch, id)
					total += len(reqs)
					n := len(notified)
					if n < 2 || n > tc.maxAttempts || n != len(reqs) {
						t.Fatalf("%s %s: %d attempts on the timeline, %d requests; want the same number, 2 to %d", id, ch, n, len(reqs), tc.maxAttempts)
					}
					last := notified[n-1].Note
					if !strings.Contains(last, fmt.Sprintf("attempt %d", n)) || !strings.Contains(last, ": "+outcome) {
						t.Errorf("%s %s: last attempt %q, want attempt %d %s", id, ch, last, n, outcome)
					}
					ok := 0
					for i, r := range reqs {
						if r.status == http.StatusOK {
							ok++
						}
						if ch == "webhook:county" && r.key != id+"/step/1/webhook:county" {
							t.Errorf("%s request %d: Idempotency-Key %q", id, i+1, r.key)
						}
						// Backed off: the wait after attempt i+1 is at least
						// Base·2^i, never more than Max (plus the attempt itself).
						if i > 0 {
							gap := r.at.Sub(reqs[i-1].at)
							wait := min(scaledBase<<(i-1), scaledMax)
							if gap < wait || gap > scaledMax+scaledHTTPWait+250*time.Millisecond {
								t.Errorf("%s %s: %v between attempts %d and %d, want from %v to about %v", id, ch, gap, i, i+1, wait, scaledMax)
							}
						}
					}
					if tc.delivered && ok != 1 {
						t.Errorf("%s %s: answered 200 %d times, want once", id, ch, ok)
					}
					retried += n - 1
				}
			}
			var retrying float64
			for _, ch := range channels {
				retrying += g.Metric(series(ch, "retrying"))
			}
			t.Logf("%s: receivers back after %v; %d alarms × 2 channels %s after %d requests (%d retries); slowest press → received %v",
				tc.name, up.Round(time.Millisecond), len(raised), outcome, total, retried, slowest)
			if retrying < float64(retried) {
				t.Errorf("anxin_notifications_total{outcome=retrying} = %v, want at least the %d retries of the raised alarms", retrying, retried)
			}
			if !tc.delivered {
				waitLog(t, log, "notification given up")
			}

			// The acknowledged alarm: its step is not sent once it is
			// taken (past the budget it may have been given up before).
			for _, ch := range channels {
				if !tc.delivered {
					break
				}
				deadline := time.Now().Add(5 * time.Second)
				for {
					notified, notes := attempts(t, g, taken, ch)
					delivered := len(notified) > 0 && strings.Contains(notified[len(notified)-1].Note, "delivered")
					if len(notes) == 1 && strings.Contains(notes[0].Note, "not sent: the alarm is acknowledged") && !delivered {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("acknowledged %s, %s: attempts %+v, notes %+v; want no delivery and a note saying it was not sent", taken, ch, notified, notes)
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
		})
	}
}
