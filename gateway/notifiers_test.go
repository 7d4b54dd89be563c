package gateway_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/alerting/notify"
	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/gateway/httpapi"
)

// The notifier tests run a real gateway whose WeCom and DingTalk robots and
// webhooks are one httptest server (receivers), and watch what it receives.

// receivers is the far end of every notifier: WeCom robots at /wecom?key=NAME,
// DingTalk robots at /dingtalk?access_token=NAME, webhooks at /hook/NAME.
type receivers struct {
	srv  *httptest.Server
	mu   sync.Mutex
	got  []received
	fail map[string]int // channel → how many requests to answer 500 first
}

// received is one request, by the channel it was meant for.
type received struct {
	Channel string
	Query   url.Values
	Header  http.Header
	Body    []byte
	Status  int
}

func newReceivers(t *testing.T) *receivers {
	r := &receivers{fail: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receivers) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	q := req.URL.Query()
	var ch string
	robot := true
	switch {
	case req.URL.Path == "/wecom":
		ch = "robot:" + q.Get("key")
	case req.URL.Path == "/dingtalk":
		ch = "robot:" + q.Get("access_token")
	case strings.HasPrefix(req.URL.Path, "/hook/"):
		ch, robot = "webhook:"+strings.TrimPrefix(req.URL.Path, "/hook/"), false
	}
	r.mu.Lock()
	status := http.StatusOK
	if r.fail[ch] > 0 {
		r.fail[ch]--
		status = http.StatusInternalServerError
	}
	r.got = append(r.got, received{Channel: ch, Query: q, Header: req.Header.Clone(), Body: body, Status: status})
	r.mu.Unlock()
	w.WriteHeader(status)
	if status == http.StatusOK && robot {
		io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`)
	} else {
		io.WriteString(w, "ok")
	}
}

func (r *receivers) failNext(channel string, n int) {
	r.mu.Lock()
	r.fail[channel] = n
	r.mu.Unlock()
}

// calls returns what channel received so far that mentions alarm ("" for any).
func (r *receivers) calls(channel, alarm string) []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []received
	for _, c := range r.got {
		if c.Channel == channel && (alarm == "" || strings.Contains(c.text(), alarm)) {
			out = append(out, c)
		}
	}
	return out
}

// wait returns the first request channel received about alarm whose text
// contains every one of texts.
func (r *receivers) wait(t *testing.T, channel, alarm string, texts ...string) received {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, c := range r.calls(channel, alarm) {
			if !slices.ContainsFunc(texts, func(s string) bool { return !strings.Contains(c.text(), s) }) {
				return c
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.mu.Lock()
	var seen []string
	for _, c := range r.got {
		seen = append(seen, c.Channel+": "+c.text())
	}
	r.mu.Unlock()
	t.Fatalf("%s received nothing about %s with %q within 5 s; received:\n%s", channel, alarm, texts, strings.Join(seen, "\n"))
	return received{}
}

// text is the message a person reads: a robot's content, a webhook's text.
func (c received) text() string {
	var m struct {
		Text     struct{ Content string }
		Markdown struct{ Content, Text string }
	}
	if strings.HasPrefix(c.Channel, "webhook:") {
		var w notify.WebhookBody
		json.Unmarshal(c.Body, &w)
		return w.Text + "\n" + string(w.Kind) + " " + w.Alarm.ID
	}
	json.Unmarshal(c.Body, &m)
	return m.Text.Content + m.Markdown.Content + m.Markdown.Text
}

// Secrets of the test notifiers.
const (
	webhookSecret  = "webhook-secret-0123456789"
	dingTalkSecret = "SECdingtalk-test-secret"
)

// P1 of the tests: the station at once, then the levels above.
var testP1 = alerting.EscalationPolicy{Priority: alerting.P1,
	Steps: []alerting.Step{
		{After: 0, Targets: []string{"operators"}},
		{After: alerting.Duration(30 * time.Second), Targets: []string{"supervisor", "next_level"}},
		{After: alerting.Duration(60 * time.Second), Targets: []string{"top_level", "emergency_contacts"}},
	},
	Unattended: []string{"webhook:county", "robot:county"},
}

// notifyConfig wires every robot and webhook to r: WeCom robots for the
// village, the township and the institution, a DingTalk robot for the
// county, webhooks for the county's 110 centre and the family SMS gateway;
// retries back off in milliseconds.
func notifyConfig(r *receivers) gateway.Config {
	wecom := map[string]notify.WeComConfig{}
	for _, name := range []string{"qs-village", "qs-town", "qs-home"} {
		wecom[name] = notify.WeComConfig{Key: name, BaseURL: r.srv.URL + "/wecom"}
	}
	jitter := 0.0
	return gateway.Config{
		EscalationPolicies: alerting.EscalationPolicies{testP1},
		SiteChannels: map[string][]string{
			"qs-village": {"robot:qs-village"}, "qs-town": {"robot:qs-town"},
			"qs-home": {"robot:qs-home"}, "qs-county": {"robot:county"},
		},
		ContactChannels: []string{"webhook:family"},
		Notifiers: gateway.NotifiersConfig{
			WeCom: wecom,
			DingTalk: map[string]notify.DingTalkConfig{"county": {AccessToken: "county", Secret: dingTalkSecret,
				BaseURL: r.srv.URL + "/dingtalk"}},
			Webhooks: map[string]notify.WebhookConfig{
				"county": {URL: r.srv.URL + "/hook/county", Secret: webhookSecret},
				"family": {URL: r.srv.URL + "/hook/family", Secret: webhookSecret},
			},
			Backoff: gateway.BackoffConfig{Base: alerting.Duration(5 * time.Millisecond), Factor: 2,
				Max: alerting.Duration(20 * time.Millisecond), MaxAttempts: 5, Jitter: &jitter},
		},
	}
}

// Operators of the tests, with the phones their robots @-mention.
var (
	opLi    = operator{"li", "李明", "13800001111", false, "qs-village"}
	opZhang = operator{"zhang", "张伟", "13800002222", true, "qs-town"}
	opZhao  = operator{"zhao", "赵刚", "13800003333", true, "qs-county"}
	opWu    = operator{"wu", "吴芳", "13800004444", false, "qs-home"}
)

type operator struct {
	name, display, phone string
	supervisor           bool
	site                 string
}

// addOperator creates the operator through the API and logs them in.
func addOperator(t *testing.T, g *gatewaytest.Gateway, op operator) *gatewaytest.Client {
	t.Helper()
	body := map[string]any{"name": op.name, "role": "operator", "password": op.name + "-long-password",
		"display_name": op.display, "phone": op.phone, "supervisor": op.supervisor, "sites": []string{op.site}}
	var e struct{ Error string }
	if code := g.Admin.Do("POST", "/api/v1/users", body, &e); code != http.StatusCreated {
		t.Fatalf("add operator %s: HTTP %d: %s", op.name, code, e.Error)
	}
	return g.Login(op.name, op.name+"-long-password")
}

// seedNetwork builds the test tree through the API: gatewaytest's
// Qingshan tree with 王秀英 at home 12, and the township's institution
// 青山镇敬老院 with its room 101.
func seedNetwork(t *testing.T, g *gatewaytest.Gateway) {
	t.Helper()
	g.SeedSites()
	for _, s := range []map[string]any{
		{"id": "qs-home", "name": "青山镇敬老院", "level": "institution", "parent": "qs-town"},
		{"id": "qs-home-101", "name": "101室", "level": "room", "parent": "qs-home"},
	} {
		var e struct{ Error string }
		if code := g.Admin.Do("POST", "/api/v1/sites", s, &e); code != http.StatusCreated {
			t.Fatalf("add site %v: HTTP %d: %s", s["id"], code, e.Error)
		}
	}
}

// install provisions a device at site (for 王秀英 at home 12) and connects it.
func install(t *testing.T, g *gatewaytest.Gateway, id, kind, site string) *gatewaytest.Device {
	t.Helper()
	body := map[string]any{"id": id, "kind": kind, "site": site}
	if strings.HasPrefix(site, "home-12") {
		body["resident"] = "wang-xy"
	}
	return g.ConnectDevice(id, g.ProvisionWith(body))
}

// press sends an event and returns the id of the alarm it raised.
func press(t *testing.T, d *gatewaytest.Device, typ string) string {
	t.Helper()
	return d.Expect(d.Press(typ), "received").Alarm
}

// checkIn puts c's user on or off duty at site through the API.
func checkIn(t *testing.T, c *gatewaytest.Client, site string, in bool, operator ...string) httpapi.DutyView {
	t.Helper()
	path := "/api/v1/duty/checkout"
	if in {
		path = "/api/v1/duty/checkin"
	}
	body := map[string]string{"site": site}
	if len(operator) > 0 {
		body["operator"] = operator[0]
	}
	var raw json.RawMessage
	if code := c.Do("POST", path, body, &raw); code != http.StatusOK {
		t.Fatalf("%s %v: HTTP %d: %s", path, body, code, raw)
	}
	var v httpapi.DutyView
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// alarm reads an alarm through the API.
func alarm(t *testing.T, g *gatewaytest.Gateway, id string) alerting.Alarm {
	t.Helper()
	var a alerting.Alarm
	if code := g.Admin.Do("GET", "/api/v1/alarms/"+id, nil, &a); code != http.StatusOK {
		t.Fatalf("GET alarm %s: HTTP %d", id, code)
	}
	return a
}

// entries returns an alarm's timeline entries of action about channel
// ("" for any), waiting up to 5 s until there are at least n.
func entries(t *testing.T, g *gatewaytest.Gateway, id string, action alerting.Action, channel string, n int) []alerting.Entry {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var out []alerting.Entry
		for _, e := range alarm(t, g, id).Timeline {
			if e.Action == action && (channel == "" || slices.Contains(e.Targets, channel)) {
				out = append(out, e)
			}
		}
		if len(out) >= n || time.Now().After(deadline) {
			return out
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitMetric reads a sample until it is want, for up to 5 s: an attempt
// is counted just after it is recorded on the timeline.
func waitMetric(t *testing.T, g *gatewaytest.Gateway, series string, want float64) float64 {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := g.Metric(series)
		if got == want || time.Now().After(deadline) {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWebhookFailsThreeTimesThenDelivers: a webhook that answers 500
// three times and then 200 gets the notification exactly once, four
// attempts all signed with the same idempotency key, and all four attempts
// are on the alarm's timeline and in the metrics.
func TestWebhookFailsThreeTimesThenDelivers(t *testing.T) {
	r := newReceivers(t)
	cfg := notifyConfig(r)
	cfg.EscalationPolicies = alerting.EscalationPolicies{{Priority: alerting.P1,
		Steps: []alerting.Step{{After: 0, Targets: []string{"webhook:county"}}}}}
	g := gatewaytest.Start(t, cfg)
	seedNetwork(t, g)
	r.failNext("webhook:county", 3)
	btn := install(t, g, "btn-12", "call_button", "home-12-bedroom")
	id := press(t, btn, "call.press")

	attempts := entries(t, g, id, alerting.ActNotified, "webhook:county", 4)
	if len(attempts) != 4 {
		t.Fatalf("%d attempts on the timeline, want 4", len(attempts))
	}
	for i, e := range attempts {
		want := fmt.Sprintf("webhook:county attempt %d (webhook): retrying, HTTP 500", i+1)
		if i == 3 {
			want = "webhook:county attempt 4 (webhook): delivered, HTTP 200"
		}
		if !strings.HasPrefix(e.Note, want) || e.Kind != alerting.NoteStep || e.Step != 1 || e.Actor != "system" {
			t.Errorf("attempt %d: %+v, want note %q", i+1, e, want)
		}
	}
	calls := r.calls("webhook:county", id)
	delivered := slices.DeleteFunc(slices.Clone(calls), func(c received) bool { return c.Status != http.StatusOK })
	if len(calls) != 4 || len(delivered) != 1 {
		t.Fatalf("the webhook got %d requests, %d answered 200; want 4 and 1", len(calls), len(delivered))
	}
	for i, c := range calls {
		var body notify.WebhookBody
		if err := json.Unmarshal(c.Body, &body); err != nil {
			t.Fatal(err)
		}
		if sig := c.Header.Get(notify.SignatureHeader); sig != notify.Signature(webhookSecret, c.Body) {
			t.Errorf("request %d: signature %q does not match the body", i+1, sig)
		}
		if key := c.Header.Get(notify.IdempotencyHeader); key != id+"/step/1/webhook:county" || body.IdempotencyKey != key {
			t.Errorf("request %d: idempotency key %q", i+1, key)
		}
		if body.Attempt != i+1 || body.Alarm.ID != id || body.Resident.Name != "王秀英" ||
			!slices.Equal(body.Location[1:6], []string{"青山县", "青山镇", "青山村", "12号", "卧室"}) {
			t.Errorf("request %d: body %+v", i+1, body)
		}
	}
	for series, want := range map[string]float64{
		`anxin_notifications_total{channel="webhook:county",kind="webhook",outcome="retrying"}`:  3,
		`anxin_notifications_total{channel="webhook:county",kind="webhook",outcome="delivered"}`: 1,
		`anxin_notification_failures_total{notifier="webhook:county"}`:                           3,
	} {
		if got := waitMetric(t, g, series, want); got != want {
			t.Errorf("%s = %g, want %g", series, got, want)
		}
	}
}

// TestRobotMessages: the WeCom robot of the township and the DingTalk
// robot of the county get their real message formats, in Chinese, with
// the location path, the resident and @-mentions of the phones of the
// operators on duty; DingTalk's request is signed.
func TestRobotMessages(t *testing.T) {
	r := newReceivers(t)
	cfg := notifyConfig(r)
	cfg.EscalationPolicies = alerting.EscalationPolicies{{Priority: alerting.P1,
		Steps: []alerting.Step{{After: 0, Targets: []string{"operators", "top_level"}}}}}
	g := gatewaytest.Start(t, cfg)
	seedNetwork(t, g)
	zhang, zhao := addOperator(t, g, opZhang), addOperator(t, g, opZhao)
	checkIn(t, zhang, "qs-town", true)
	checkIn(t, zhao, "qs-county", true)
	btn := install(t, g, "btn-12", "call_button", "home-12-bedroom")
	id := press(t, btn, "call.press")
	age := time.Now().Year() - 1941

	wecom := r.wait(t, "robot:qs-town", id)
	var wm notify.WeComMessage
	if err := json.Unmarshal(wecom.Body, &wm); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"【安心 P1 生命安全】一键呼叫", "青山市 / 青山县 / 青山镇 / 青山村 / 12号 / 卧室",
		fmt.Sprintf("老人:王秀英,%d 岁,高血压", age), "请立即处理:张伟"} {
		if wm.MsgType != "text" || wm.Text == nil || !strings.Contains(wm.Text.Content, want) {
			t.Fatalf("WeCom message lacks %q:\n%s", want, wecom.Body)
		}
	}
	if !slices.Equal(wm.Text.MentionedMobileList, []string{opZhang.phone}) {
		t.Errorf("WeCom mentions %v, want the township's operator on duty %s", wm.Text.MentionedMobileList, opZhang.phone)
	}

	ding := r.wait(t, "robot:county", id)
	var dm notify.DingTalkMessage
	if err := json.Unmarshal(ding.Body, &dm); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"青山县 / 青山镇 / 青山村 / 12号 / 卧室", "王秀英", "@" + opZhao.phone} {
		if dm.MsgType != "text" || dm.Text == nil || !strings.Contains(dm.Text.Content, want) {
			t.Fatalf("DingTalk message lacks %q:\n%s", want, ding.Body)
		}
	}
	if !slices.Equal(dm.At.AtMobiles, []string{opZhao.phone}) || dm.At.IsAtAll {
		t.Errorf("DingTalk at %+v, want the county's operator on duty %s", dm.At, opZhao.phone)
	}
	ts, err := strconv.ParseInt(ding.Query.Get("timestamp"), 10, 64)
	if err != nil || ding.Query.Get("sign") != notify.DingTalkSign(ts, dingTalkSecret) {
		t.Errorf("DingTalk query %v is not signed with the robot's secret", ding.Query)
	}
	if d := time.Since(time.UnixMilli(ts)); d < 0 || d > time.Minute {
		t.Errorf("DingTalk timestamp %d is %s off", ts, d)
	}
}

// TestUnattendedNotifiesAtOnce: with nobody on duty anywhere on the path,
// the unattended targets hear of a P1 at once, and the timeline says that
// the station's step reached nobody.
func TestUnattendedNotifiesAtOnce(t *testing.T) {
	r := newReceivers(t)
	g := gatewaytest.Start(t, notifyConfig(r))
	seedNetwork(t, g)
	addOperator(t, g, opLi) // an operator exists, but is not on duty
	btn := install(t, g, "btn-12", "call_button", "home-12-bedroom")
	id := press(t, btn, "call.press")

	hook := r.wait(t, "webhook:county", id, "unattended")
	var body notify.WebhookBody
	json.Unmarshal(hook.Body, &body)
	if body.Kind != alerting.NoteUnattended || body.RoutedSite != "" || !strings.Contains(body.Text, "当前无人值班") {
		t.Errorf("unattended webhook body: kind %s routed %q text %q", body.Kind, body.RoutedSite, body.Text)
	}
	r.wait(t, "robot:county", id, "当前无人值班")
	var unattended, step1 bool
	for _, e := range entries(t, g, id, alerting.ActNotified, "robot:county", 1) {
		unattended = unattended || e.Kind == alerting.NoteUnattended
	}
	for _, e := range alarm(t, g, id).Timeline {
		if e.Action == alerting.ActEscalated && e.Step == 1 && slices.Contains(e.Unresolved, "operators: nobody on duty") {
			step1 = true
		}
	}
	if !unattended || !step1 {
		t.Errorf("timeline: unattended notice recorded %v, step 1 reaching nobody recorded %v", unattended, step1)
	}
	for _, ch := range []string{"robot:qs-village", "robot:qs-town"} {
		if n := len(r.calls(ch, id)); n != 0 {
			t.Errorf("%s got %d messages with nobody on duty there", ch, n)
		}
	}
}

// TestOutboxSurvivesRestart: a notification still being retried when the
// gateway stops is delivered by the next start.
func TestOutboxSurvivesRestart(t *testing.T) {
	for _, b := range gatewaytest.Backends {
		t.Run(b, func(t *testing.T) { testOutboxSurvivesRestart(t, b) })
	}
}

func testOutboxSurvivesRestart(t *testing.T, backend string) {
	r := newReceivers(t)
	cfg := notifyConfig(r)
	cfg.EscalationPolicies = alerting.EscalationPolicies{{Priority: alerting.P1,
		Steps: []alerting.Step{{After: 0, Targets: []string{"webhook:county"}}}}}
	cfg.Notifiers.Backoff = gateway.BackoffConfig{Base: alerting.Duration(time.Hour), Max: alerting.Duration(time.Hour)}
	cfg.State = gatewaytest.State(t, backend)
	g := gatewaytest.Start(t, cfg)
	seedNetwork(t, g)
	r.failNext("webhook:county", 1)
	btn := install(t, g, "btn-12", "call_button", "home-12-bedroom")
	id := press(t, btn, "call.press")
	if e := entries(t, g, id, alerting.ActNotified, "webhook:county", 1); len(e) != 1 ||
		!strings.Contains(e[0].Note, "retrying") {
		t.Fatalf("first attempt: %+v", e)
	}

	g = g.Restart() // the retry was an hour away
	got := entries(t, g, id, alerting.ActNotified, "webhook:county", 2)
	if len(got) != 2 || !strings.HasPrefix(got[1].Note, "webhook:county attempt 1 (webhook): delivered") {
		t.Fatalf("after the restart: %+v", got)
	}
	if calls := r.calls("webhook:county", id); len(calls) != 2 || calls[1].Status != http.StatusOK {
		t.Fatalf("the webhook got %d requests", len(calls))
	}
	// Delivered means gone from the outbox, and a restart replays only
	// the outbox (before Start returns): a second restart sends nothing.
	waitFor(t, "the delivered notification to leave the outbox", func() bool {
		return !slices.Contains(g.OutboxAlarms(), id)
	})
	g = g.Restart()
	if left := g.OutboxAlarms(); len(left) != 0 {
		t.Fatalf("outbox after a second restart: %v", left)
	}
	if calls := r.calls("webhook:county", id); len(calls) != 2 {
		t.Fatalf("a second restart sent it again: %d requests", len(calls))
	}
}

// TestAlertingConfigErrorsNameTheField: the config sections of duty,
// escalation, notifiers and incidents are checked at load, each error
// naming what is wrong and never echoing a secret.
func TestAlertingConfigErrorsNameTheField(t *testing.T) {
	hook := `"notifiers": {"webhooks": {"county": {"url": "https://x.example/h", "secret": "0123456789abcdef-secret"}}}`
	tests := []struct{ name, json, says string }{
		{"site channel not configured", `{"site_channels": {"qs-town": ["robot:qs-town"]}}`, `site_channels.qs-town[0] "robot:qs-town"`},
		{"contact channel not configured", `{"contact_channels": ["webhook:sms"]}`, `contact_channels[0] "webhook:sms"`},
		{"policy names an unknown robot", `{` + hook + `, "escalation_policies": [{"priority": "P1", "steps": [{"after": "0s", "targets": ["robot:nope"]}]}]}`, `robot:nope`},
		{"policy step out of order", `{"escalation_policies": [{"priority": "P2", "steps": [{"after": "60s", "targets": ["operators"]}, {"after": "30s", "targets": ["supervisor"]}]}]}`, "steps[1].after"},
		{"repeat too often", `{"escalation_policies": [{"priority": "P1", "steps": [{"after": "0s", "targets": ["operators"]}], "repeat": "5s"}]}`, "repeat 5s"},
		{"both forms for P1 everywhere", `{"escalation": {"P1": {"steps": [{"after": "30s", "targets": ["supervisor"]}]}}, "escalation_policies": [{"priority": "P1", "steps": [{"after": "0s", "targets": ["operators"]}]}]}`, "escalation.P1"},
		{"emergency contacts with no channel", `{"escalation_policies": [{"priority": "P1", "steps": [{"after": "0s", "targets": ["emergency_contacts"]}]}]}`, "no contact channel"},
		{"short webhook secret", `{"notifiers": {"webhooks": {"county": {"url": "https://x.example/h", "secret": "short"}}}}`, "notifiers.webhooks.county"},
		{"robot both wecom and dingtalk", `{"notifiers": {"wecom": {"town": {"key": "k"}}, "dingtalk": {"town": {"access_token": "t"}}}}`, `robot "town"`},
		{"bad notifier name", `{"notifiers": {"wecom": {"Town Hall": {"key": "k"}}}}`, "notifiers.wecom name"},
		{"bad backoff", `{"notifiers": {"backoff": {"base": "2s", "max": "1s"}}}`, "notifiers.backoff"},
		{"shift end", `{"shifts": [{"site": "qs-town", "operator": "zhang", "start": "08:00", "end": "25:00"}]}`, "shifts[0]: end"},
		{"shift weekday", `{"shifts": [{"site": "qs-town", "operator": "zhang", "weekdays": ["monday"], "start": "08:00", "end": "20:00"}]}`, "weekdays[0]"},
		{"shift without operator", `{"shifts": [{"site": "qs-town", "start": "08:00", "end": "20:00"}]}`, "shifts[0]: operator"},
		{"negative incident threshold", `{"incidents": {"offline_threshold": -1}}`, "incidents.offline_threshold"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := t.TempDir() + "/c.json"
			if err := os.WriteFile(path, []byte(tt.json), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := gateway.LoadConfig(path)
			if err == nil {
				err = c.Validate()
			}
			if err == nil || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("error %v, want one naming %q", err, tt.says)
			}
			if strings.Contains(err.Error(), "0123456789abcdef-secret") {
				t.Fatalf("error %v shows a secret", err)
			}
		})
	}
}
