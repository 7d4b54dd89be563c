package notify_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/alerting/notify"
)

// TestAlertmanagerAlerts: what is posted to /api/v2/alerts for an open
// device alarm, a closed one and a site-level incident.
func TestAlertmanagerAlerts(t *testing.T) {
	now := time.Date(2026, 11, 23, 2, 5, 0, 0, time.UTC)
	raised := now.Add(-5 * time.Minute)
	closed := now.Add(-time.Minute)
	for _, tc := range []struct {
		name       string
		n          alerting.Notification
		wantLabels map[string]string
		wantAbsent []string
		wantEnds   time.Time
	}{
		{
			name: "open device alarm, location from the notification",
			n: alerting.Notification{Key: "k1", Alarm: &alerting.Alarm{ID: "A-1", Device: "btn-101", Type: alerting.TypeCall,
				Event: "call.press", Priority: alerting.P1, State: alerting.Raised, Raised: raised},
				Site: "home-12-bedroom", Location: []string{"青山县", "12号", "卧室"}},
			wantLabels: map[string]string{"alertname": "AnxinAlarm", "priority": "P1", "type": "call", "event": "call.press",
				"site": "青山县/12号/卧室", "site_id": "home-12-bedroom", "device": "btn-101", "alarm_id": "A-1", "county": "qs"},
			wantEnds: now.Add(4 * 30 * time.Second),
		},
		{
			name: "resolved alarm ends at its close",
			n: alerting.Notification{Key: "k2", Alarm: &alerting.Alarm{ID: "A-2", Device: "smk-1", Type: alerting.TypeSmoke,
				Priority: alerting.P1, State: alerting.Resolved, Raised: raised, Closed: closed, Outcome: "false_alarm",
				Site: "home-12-kitchen", Location: []string{"青山县", "12号", "厨房"}}},
			wantLabels: map[string]string{"site": "青山县/12号/厨房", "alarm_id": "A-2"},
			wantEnds:   closed,
		},
		{
			name: "site incident has no device label",
			n: alerting.Notification{Key: "k3", Alarm: &alerting.Alarm{ID: "A-3", Subject: alerting.SubjectSite,
				Type: alerting.IncidentFire, Priority: alerting.P1, State: alerting.Raised, Raised: raised, Site: "home-12"}},
			wantLabels: map[string]string{"site": "home-12", "site_id": "home-12"},
			wantAbsent: []string{"device", "event"},
			wantEnds:   now.Add(4 * 30 * time.Second),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan []notify.AlertmanagerAlert, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/api/v2/alerts" || r.Method != http.MethodPost {
					t.Errorf("%s %s, want POST /api/v2/alerts", r.Method, r.URL.Path)
				}
				var alerts []notify.AlertmanagerAlert
				body, _ := io.ReadAll(r.Body)
				if err := json.Unmarshal(body, &alerts); err != nil {
					t.Errorf("body %s: %v", body, err)
				}
				got <- alerts
			}))
			defer srv.Close()
			am, err := notify.NewAlertmanager(notify.AlertmanagerConfig{URL: srv.URL + "/", Labels: map[string]string{"county": "qs"},
				RepeatInterval: alerting.Duration(30 * time.Second), Now: func() time.Time { return now }}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := am.Notify(context.Background(), tc.n); err != nil {
				t.Fatal(err)
			}
			alerts := <-got
			if len(alerts) != 1 {
				t.Fatalf("%d alerts, want 1", len(alerts))
			}
			a := alerts[0]
			for k, v := range tc.wantLabels {
				if a.Labels[k] != v {
					t.Errorf("label %s = %q, want %q", k, a.Labels[k], v)
				}
			}
			for _, k := range tc.wantAbsent {
				if _, ok := a.Labels[k]; ok {
					t.Errorf("label %s present: %q", k, a.Labels[k])
				}
			}
			if !a.StartsAt.Equal(raised) || !a.EndsAt.Equal(tc.wantEnds) {
				t.Errorf("startsAt %v endsAt %v, want %v and %v", a.StartsAt, a.EndsAt, raised, tc.wantEnds)
			}
			if a.Annotations["summary"] == "" || a.Annotations["state"] != string(tc.n.Alarm.State) {
				t.Errorf("annotations %v", a.Annotations)
			}
		})
	}
}
