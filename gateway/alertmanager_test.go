package gateway_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/alerting/notify"
	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
)

// eventually polls cond every 50 ms until it holds, failing after 15 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// alertmanagerGateway starts a gateway that tells the Alertmanager at
// amURL of its alarms, with the site tree, and a call button in the
// bedroom of home 12 pressed once; it returns the gateway and the alarm.
func alertmanagerGateway(t *testing.T, am notify.AlertmanagerConfig) (*gatewaytest.Gateway, string) {
	t.Helper()
	g := gatewaytest.Start(t, gateway.Config{Notifiers: gateway.NotifiersConfig{
		Alertmanagers: map[string]notify.AlertmanagerConfig{"county": am},
		Backoff:       gateway.BackoffConfig{Base: alerting.Duration(100 * time.Millisecond), Factor: 2},
	}})
	g.SeedSites()
	pw := g.ProvisionWith(map[string]any{"id": "btn-101", "kind": "call_button", "site": "home-12-bedroom",
		"resident": "wang-xy"})
	dev := g.ConnectDevice("btn-101", pw)
	seq := dev.Press("call.press")
	return g, dev.Expect(seq, "received").Alarm
}

// TestAlertmanagerSeesP1RaisedAndResolved: a real Alertmanager lists a
// P1 call as an active alert with anxin's labels, keeps it firing through
// re-posts, and sees it resolved (gone from its alerts, "resolved" to its
// receiver) once an operator resolves the alarm; both posts are on the
// alarm's timeline.
func TestAlertmanagerSeesP1RaisedAndResolved(t *testing.T) {
	am := gatewaytest.StartAlertmanager(t)
	g, id := alertmanagerGateway(t, notify.AlertmanagerConfig{URL: am.URL,
		Labels: map[string]string{"gateway": "qingshan"}, RepeatInterval: alerting.Duration(time.Second)})
	matcher := `alarm_id="` + id + `"`

	var alerts []gatewaytest.AMAlert
	eventually(t, "the alert in Alertmanager", func() bool {
		alerts = am.Alerts(matcher)
		return len(alerts) == 1
	})
	a := alerts[0]
	want := map[string]string{
		"alertname": "AnxinAlarm", "priority": "P1", "type": alerting.TypeCall, "event": "call.press",
		"site": "青山市/青山县/青山镇/青山村/12号/卧室", "site_id": "home-12-bedroom", "device": "btn-101",
		"alarm_id": id, "gateway": "qingshan",
	}
	for k, v := range want {
		if a.Labels[k] != v {
			t.Errorf("label %s = %q, want %q (labels %v)", k, a.Labels[k], v, a.Labels)
		}
	}
	if a.Status.State != "active" {
		t.Errorf("alert state %q, want active", a.Status.State)
	}
	if s := a.Annotations["summary"]; !strings.Contains(s, "P1") || !strings.Contains(s, "一键呼叫") {
		t.Errorf("summary %q, want the priority and the type", s)
	}
	if !strings.Contains(a.Annotations["description"], "王秀英") {
		t.Errorf("description %q, want the resident", a.Annotations["description"])
	}
	if time.Since(a.StartsAt) > time.Minute || !a.EndsAt.After(time.Now()) {
		t.Errorf("startsAt %v, endsAt %v: want the raise and a time ahead", a.StartsAt, a.EndsAt)
	}

	// Re-posts move endsAt on, so Alertmanager keeps it firing.
	eventually(t, "a re-post moving endsAt on", func() bool {
		alerts = am.Alerts(matcher)
		return len(alerts) == 1 && alerts[0].EndsAt.After(a.EndsAt)
	})

	if code := g.Admin.Do("POST", "/api/v1/alarms/"+id+"/resolve", map[string]string{"outcome": "assisted"}, nil); code != 200 {
		t.Fatalf("resolve: HTTP %d", code)
	}
	eventually(t, "Alertmanager to see the alarm resolved", func() bool {
		if len(am.Alerts(matcher)) != 0 {
			return false
		}
		for _, n := range am.Notified() {
			if n.Labels["alarm_id"] == id && n.Status == "resolved" {
				return true
			}
		}
		return false
	})
	// A firing post that lands after the close (a late retry) is set
	// right by the next re-post.
	late, _ := json.Marshal([]map[string]any{{"labels": a.Labels, "startsAt": a.StartsAt, "endsAt": time.Now().Add(time.Hour)}})
	res, err := http.Post(am.URL+"/api/v2/alerts", "application/json", bytes.NewReader(late))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("late firing post: %v %v", err, res)
	}
	res.Body.Close()
	eventually(t, "the late firing set right", func() bool { return len(am.Alerts(matcher)) == 0 })

	eventually(t, "both posts on the timeline", func() bool {
		al, err := g.Engine().Get(id)
		if err != nil {
			t.Fatal(err)
		}
		var firing, resolved bool
		for _, e := range al.Timeline {
			if e.Action == alerting.ActNotified && strings.HasPrefix(e.Note, "alertmanager:county attempt 1 (alertmanager): delivered") {
				firing = firing || e.Kind == alerting.NoteFiring
				resolved = resolved || e.Kind == alerting.NoteResolved
			}
		}
		return firing && resolved
	})
}

// TestAlertmanagerRetriesUntilItAnswers: while the way to Alertmanager
// answers 503, the firing post is retried with backoff and each failure
// is on the timeline and counted; the alert then arrives.
func TestAlertmanagerRetriesUntilItAnswers(t *testing.T) {
	am := gatewaytest.StartAlertmanager(t)
	target, _ := url.Parse(am.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var refused atomic.Int32
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && refused.Add(1) <= 2 {
			http.Error(w, "restarting", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	g, id := alertmanagerGateway(t, notify.AlertmanagerConfig{URL: front.URL})

	eventually(t, "the alert in Alertmanager", func() bool { return len(am.Alerts(`alarm_id="`+id+`"`)) == 1 })
	al, err := g.Engine().Get(id)
	if err != nil {
		t.Fatal(err)
	}
	var notes []string
	for _, e := range al.Timeline {
		if e.Action == alerting.ActNotified {
			notes = append(notes, e.Note)
		}
	}
	if len(notes) != 3 || !strings.Contains(notes[0], "retrying, HTTP 503") || !strings.Contains(notes[2], "attempt 3 (alertmanager): delivered") {
		t.Errorf("timeline attempts %q, want two 503s then delivered", notes)
	}
	if got := g.Metric(`anxin_notification_failures_total{notifier="alertmanager:county"}`); got != 2 {
		t.Errorf("failures counted %v, want 2", got)
	}
}

// amPassword and amHash are the test Alertmanager's one password and its
// bcrypt hash (made once with Python's crypt.METHOD_BLOWFISH).
const (
	amPassword = "am-test-password"
	amHash     = "$2b$12$3MNT4fCta70.4hPceLGo1.B1nr2dg9IKofNBCyLTlwJFMoKP2aNxu"
)

// TestAlertmanagerBasicAuth: an Alertmanager that asks for a password
// (its own web.config.file) gets the alert from a gateway configured with
// it; with a wrong one the post is refused, and the refusal is on the
// alarm's timeline and counted, with the password in neither.
func TestAlertmanagerBasicAuth(t *testing.T) {
	am := gatewaytest.StartAlertmanagerBasicAuth(t, "anxin", amPassword, amHash)
	_, id := alertmanagerGateway(t, notify.AlertmanagerConfig{URL: am.URL, Username: "anxin", Password: amPassword})
	eventually(t, "the alert in the Alertmanager that asks for a password", func() bool {
		return len(am.Alerts(`alarm_id="`+id+`"`)) == 1
	})

	g, id := alertmanagerGateway(t, notify.AlertmanagerConfig{URL: am.URL, Username: "anxin", Password: "not-the-password"})
	eventually(t, "the refusal on the timeline", func() bool {
		al, err := g.Engine().Get(id)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range al.Timeline {
			if e.Action == alerting.ActNotified && strings.Contains(e.Note, "HTTP 401") {
				if strings.Contains(e.Note, "not-the-password") {
					t.Errorf("the password on the timeline: %s", e.Note)
				}
				return true
			}
		}
		return false
	})
	if got := g.Metric(`anxin_notification_failures_total{notifier="alertmanager:county"}`); got < 1 {
		t.Errorf("failures counted %v, want the refusal", got)
	}
	if n := len(am.Alerts(`alarm_id="` + id + `"`)); n != 0 {
		t.Errorf("Alertmanager holds %d alerts posted with a wrong password", n)
	}
}

// TestAlertmanagerResolveSurvivesRestart: a close that Alertmanager could
// not hear before the gateway stopped stays in the outbox, is sent at the
// next start, and Alertmanager sees the alarm resolved.
func TestAlertmanagerResolveSurvivesRestart(t *testing.T) {
	am := gatewaytest.StartAlertmanager(t)
	target, _ := url.Parse(am.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var down atomic.Bool
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	g, id := alertmanagerGateway(t, notify.AlertmanagerConfig{URL: front.URL})
	matcher := `alarm_id="` + id + `"`
	eventually(t, "the alert in Alertmanager", func() bool { return len(am.Alerts(matcher)) == 1 })

	down.Store(true)
	if code := g.Admin.Do("POST", "/api/v1/alarms/"+id+"/resolve", map[string]string{"outcome": "false_alarm"}, nil); code != 200 {
		t.Fatalf("resolve: HTTP %d", code)
	}
	const failed = `anxin_notification_failures_total{notifier="alertmanager:county"}`
	eventually(t, "a failed attempt to post the close", func() bool { return g.Metric(failed) >= 1 })
	items, err := g.DB().Outbox()
	if err != nil || len(items) != 1 || items[0].N.Kind != alerting.NoteResolved {
		t.Fatalf("outbox %+v (err %v), want the resolved notification", items, err)
	}

	g = g.Restart()
	down.Store(false)
	eventually(t, "Alertmanager to see the alarm resolved after the restart", func() bool {
		return len(am.Alerts(matcher)) == 0
	})
	eventually(t, "the outbox emptied", func() bool {
		items, err := g.DB().Outbox()
		return err == nil && len(items) == 0
	})
}

// TestAlertmanagerConfig: a bad Alertmanager is refused at start, naming it.
func TestAlertmanagerConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		am   notify.AlertmanagerConfig
		want string
	}{
		{"no url", notify.AlertmanagerConfig{}, "alertmanagers.county: bad notifier config: alertmanager url is empty"},
		{"own label", notify.AlertmanagerConfig{URL: "http://127.0.0.1:9093", Labels: map[string]string{"priority": "x"}}, `"priority" is set by anxin`},
		{"bad label", notify.AlertmanagerConfig{URL: "http://127.0.0.1:9093", Labels: map[string]string{"a-b": "x"}}, `"a-b" is not a label name`},
		{"password alone", notify.AlertmanagerConfig{URL: "http://127.0.0.1:9093", Password: "x"}, "password needs a username"},
		{"username alone", notify.AlertmanagerConfig{URL: "http://127.0.0.1:9093", Username: "anxin"}, `username "anxin" needs a password`},
		{"both kinds", notify.AlertmanagerConfig{URL: "http://127.0.0.1:9093", Username: "anxin", Password: "x", BearerToken: "y"}, "not both"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := gateway.Config{Notifiers: gateway.NotifiersConfig{Alertmanagers: map[string]notify.AlertmanagerConfig{"county": tc.am}}}
			if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate: %v, want %q", err, tc.want)
			}
		})
	}
}
