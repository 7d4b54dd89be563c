package notify

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/anxin-care/anxin/alerting"
)

// Alertmanager tells a Prometheus Alertmanager about alarms, through its
// API (POST /api/v2/alerts), so that a county that already routes alerts
// through Alertmanager sees anxin's alarms there, grouped, silenced and
// routed by its own rules.
//
// Alertmanager keeps alerts, not messages: an alert stays firing until its
// endsAt passes, so an open alarm is posted again every RepeatInterval with
// endsAt RepeatInterval×EndsAfterRepeats ahead (as Prometheus does), and
// once more, with endsAt the alarm's close, when it closes. Whoever drives
// it (the gateway) calls Notify for a raise or a close, through the
// delivery pipeline, and Post for the periodic re-posts of every open
// alarm at once.
//
// Each alarm is its own alert (its labels carry the alarm id):
//
//	alertname  AnxinAlarm
//	priority   P1 | P2 | P3
//	type       smoke, call, offline … (the alarm type)
//	event      smoke.alarm … (the event that raised it; absent for gateway-made alarms)
//	site       the location path, "青山县/青山镇/青山村/12号/卧室" (the site id when no path is known)
//	site_id    the room, bed or site id
//	device     the device id (absent for a site-level incident)
//	alarm_id   A-…
//
// plus the config's static Labels. The alarm's state is not a label (a new
// label value would be a new alert); it is an annotation, beside summary,
// description, type_name and resident.
type Alertmanager struct {
	cfg    AlertmanagerConfig
	client *http.Client
	auth   http.Header // Authorization, when configured
}

var _ alerting.Notifier = (*Alertmanager)(nil)

// AlertmanagerConfig configures an Alertmanager notifier.
type AlertmanagerConfig struct {
	// URL is the Alertmanager's base URL, e.g. http://127.0.0.1:9093 (the
	// API is under /api/v2).
	URL string `json:"url"`
	// Labels are added to every alert, e.g. {"gateway": "qingshan"}; they
	// must not clash with anxin's own.
	Labels map[string]string `json:"labels,omitempty"`
	// RepeatInterval is how often open alarms are posted again;
	// DefaultAlertmanagerRepeat when zero.
	RepeatInterval alerting.Duration `json:"repeat_interval,omitempty"`
	// Priorities, when given, are the only ones posted (e.g. [P1, P2]).
	Priorities []alerting.Priority `json:"priorities,omitempty"`
	// Timeout bounds one request; DefaultTimeout when zero.
	Timeout alerting.Duration `json:"timeout,omitempty"`
	// Username and Password, when set, are sent as HTTP basic auth
	// (Alertmanager's own web.config.file basic_auth_users, or a proxy in
	// front of it); BearerToken, when set, as "Authorization: Bearer"
	// (a proxy's token). One or the other; never logged.
	Username    string `json:"username,omitempty"`
	Password    string `json:"password,omitempty"`
	BearerToken string `json:"bearer_token,omitempty"`
	// Location is the zone of the times in the annotations.
	Location *time.Location `json:"-"`
	// Now is the clock of endsAt; time.Now when nil.
	Now func() time.Time `json:"-"`
}

// DefaultAlertmanagerRepeat is how often open alarms are posted again:
// well inside Alertmanager's own resolve_timeout (5 min by default).
const DefaultAlertmanagerRepeat = time.Minute

// EndsAfterRepeats is how many repeat intervals ahead a firing alert's
// endsAt is: an alert survives three missed re-posts, and resolves by
// itself within that time after the gateway stops posting it.
const EndsAfterRepeats = 4

// AlertmanagerAlertName is the alertname label of every anxin alarm.
const AlertmanagerAlertName = "AnxinAlarm"

// ownLabels are the labels anxin sets; static Labels may not reuse them.
var ownLabels = []string{"alertname", "priority", "type", "event", "site", "site_id", "device", "alarm_id"}

var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// Repeat is the re-post interval, its default applied.
func (c AlertmanagerConfig) Repeat() time.Duration {
	return orDefault(time.Duration(c.RepeatInterval), DefaultAlertmanagerRepeat)
}

// Wants reports whether alarms of priority p are posted.
func (c AlertmanagerConfig) Wants(a *alerting.Alarm) bool {
	if a == nil || a.Test {
		return false // a walk test is the installer's, not the county's
	}
	return len(c.Priorities) == 0 || slices.Contains(c.Priorities, a.Priority)
}

// Validate checks c, naming the bad field.
func (c AlertmanagerConfig) Validate() error {
	if err := validURL("alertmanager url", c.URL); err != nil {
		return err
	}
	for _, k := range slices.Sorted(maps.Keys(c.Labels)) {
		if !labelName.MatchString(k) || strings.HasPrefix(k, "__") {
			return fmt.Errorf("%w: alertmanager labels: %q is not a label name", ErrBadConfig, k)
		}
		if slices.Contains(ownLabels, k) {
			return fmt.Errorf("%w: alertmanager labels: %q is set by anxin", ErrBadConfig, k)
		}
	}
	switch {
	case c.Password != "" && c.Username == "":
		return fmt.Errorf("%w: alertmanager password needs a username", ErrBadConfig)
	case c.Username != "" && c.Password == "":
		return fmt.Errorf("%w: alertmanager username %q needs a password", ErrBadConfig, c.Username)
	case c.Username != "" && c.BearerToken != "":
		return fmt.Errorf("%w: alertmanager takes a username and password or a bearer_token, not both", ErrBadConfig)
	case strings.ContainsAny(c.Username, ":\r\n"):
		return fmt.Errorf("%w: alertmanager username must not hold a colon or a line break", ErrBadConfig)
	}
	if c.RepeatInterval < 0 || c.Timeout < 0 {
		return fmt.Errorf("%w: alertmanager repeat_interval and timeout must not be negative", ErrBadConfig)
	}
	for _, p := range c.Priorities {
		if !p.Valid() {
			return fmt.Errorf("%w: alertmanager priorities: %d is not P1, P2 or P3", ErrBadConfig, p)
		}
	}
	return nil
}

// NewAlertmanager checks cfg and returns an Alertmanager notifier. A nil
// client means http.DefaultClient.
func NewAlertmanager(cfg AlertmanagerConfig, client *http.Client) (*Alertmanager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Location = orDefault(cfg.Location, DefaultLocation)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.URL = strings.TrimRight(cfg.URL, "/")
	am := &Alertmanager{cfg: cfg, client: clientOr(client)}
	switch {
	case cfg.Username != "":
		am.auth = http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(cfg.Username+":"+cfg.Password))}}
	case cfg.BearerToken != "":
		am.auth = http.Header{"Authorization": {"Bearer " + cfg.BearerToken}}
	}
	return am, nil
}

// Kind implements Kinder.
func (am *Alertmanager) Kind() string { return "alertmanager" }

// Config returns the notifier's config, defaults applied.
func (am *Alertmanager) Config() AlertmanagerConfig { return am.cfg }

// Notify posts the alert of n's alarm: firing while it is open, resolved
// (endsAt its close) once it is closed.
func (am *Alertmanager) Notify(ctx context.Context, n alerting.Notification) (bool, error) {
	if n.Alarm == nil {
		return false, fmt.Errorf("alertmanager: notification %s has no alarm", n.Key)
	}
	a := n.Alarm
	if len(a.Location) == 0 && (len(n.Location) > 0 || n.Site != "") {
		c := *a // a shallow copy: only the location is changed
		c.Site, c.Location = n.Site, n.Location
		a = &c
	}
	return am.Post(ctx, []*alerting.Alarm{a})
}

// Post sends the alerts of alarms in one request.
func (am *Alertmanager) Post(ctx context.Context, alarms []*alerting.Alarm) (bool, error) {
	now := am.cfg.Now()
	alerts := make([]AlertmanagerAlert, len(alarms))
	for i, a := range alarms {
		alerts[i] = am.Alert(a, now)
	}
	body, err := json.Marshal(alerts)
	if err != nil {
		return false, fmt.Errorf("encode alerts: %w", err)
	}
	retry, _, err := post(ctx, am.client, timeoutOf(am.cfg.Timeout), am.cfg.URL+"/api/v2/alerts", am.auth, body)
	return retry, err
}

// AlertmanagerAlert is one alert of Alertmanager's API v2 (postableAlert).
type AlertmanagerAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Alert is the alert of a as posted at now.
func (am *Alertmanager) Alert(a *alerting.Alarm, now time.Time) AlertmanagerAlert {
	labels := maps.Clone(am.cfg.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	site := strings.Join(a.Location, "/")
	if site == "" {
		site = a.Site
	}
	set := func(k, v string) {
		if v != "" { // Alertmanager reads an empty label as an absent one
			labels[k] = v
		}
	}
	set("alertname", AlertmanagerAlertName)
	set("priority", a.Priority.String())
	set("type", a.Type)
	set("event", a.Event)
	set("site", site)
	set("site_id", a.Site)
	set("device", a.Device)
	set("alarm_id", a.ID)

	ends := now.Add(EndsAfterRepeats * am.cfg.Repeat())
	if !a.State.Open() {
		ends = a.Closed
		if ends.IsZero() {
			ends = now
		}
	}
	summary := fmt.Sprintf("%s %s", PriorityNames[a.Priority], TypeName(a.Type))
	if site != "" {
		summary += " · " + site
	}
	var d strings.Builder
	fmt.Fprintf(&d, "%s,%s 发生", TypeName(a.Type), a.Raised.In(am.cfg.Location).Format("2006-01-02 15:04:05"))
	if a.Device != "" {
		fmt.Fprintf(&d, ",设备 %s", a.Device)
	}
	if a.Resident != "" {
		fmt.Fprintf(&d, ",住户 %s", a.Resident)
	}
	fmt.Fprintf(&d, ";状态 %s", a.State)
	if a.Owner != "" {
		fmt.Fprintf(&d, "(%s)", a.Owner)
	}
	if a.Outcome != "" {
		fmt.Fprintf(&d, ",结果 %s", a.Outcome)
	}
	ann := map[string]string{"summary": summary, "description": d.String(), "state": string(a.State),
		"type_name": TypeName(a.Type)}
	if a.Resident != "" {
		ann["resident"] = a.Resident
	}
	return AlertmanagerAlert{Labels: labels, Annotations: ann, StartsAt: a.Raised.UTC(), EndsAt: ends.UTC()}
}
