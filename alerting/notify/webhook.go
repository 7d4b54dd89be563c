package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/anxin-care/anxin/alerting"
)

// Headers of a webhook request.
const (
	// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the
	// exact request body, keyed with the target's secret.
	SignatureHeader = "X-Anxin-Signature"
	// IdempotencyHeader carries the notification's key: the same on every
	// retry of one notification, different for every other notification.
	IdempotencyHeader = "Idempotency-Key"
)

// MinSecret is the shortest webhook secret accepted.
const MinSecret = 16

// WebhookConfig configures a Webhook.
type WebhookConfig struct {
	URL    string `json:"url"`
	Secret string `json:"secret"` // at least MinSecret bytes; never logged
	// Timeout bounds one attempt; DefaultTimeout when zero.
	Timeout alerting.Duration `json:"timeout,omitempty"`
	// Location is the zone of the times in the text field.
	Location *time.Location `json:"-"`
}

// Validate checks c, naming the bad field and never echoing the secret.
func (c WebhookConfig) Validate() error {
	if err := validURL("webhook url", c.URL); err != nil {
		return err
	}
	if len(c.Secret) < MinSecret {
		return fmt.Errorf("%w: webhook secret: must be at least %d bytes", ErrBadConfig, MinSecret)
	}
	if c.Timeout < 0 {
		return fmt.Errorf("%w: webhook timeout: must not be negative", ErrBadConfig)
	}
	return nil
}

// Webhook posts a notification as signed JSON (WebhookBody) to a URL.
//
// Request: POST, Content-Type application/json, headers
//
//	X-Anxin-Signature: sha256=<hex HMAC-SHA256 of the exact body, keyed with the secret>
//	Idempotency-Key:   <the notification key, stable across retries>
//
// A 2xx answer delivers it. 408, 429 (honouring Retry-After), 5xx, timeouts
// and network failures are retried with backoff; any other 4xx gives up.
// A receiver should verify the signature over the raw body before parsing
// it, and drop a repeated Idempotency-Key.
type Webhook struct {
	cfg    WebhookConfig
	client *http.Client
}

var _ alerting.Notifier = (*Webhook)(nil)

// NewWebhook checks cfg and returns a Webhook. A nil client means
// http.DefaultClient.
func NewWebhook(cfg WebhookConfig, client *http.Client) (*Webhook, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Location = orDefault(cfg.Location, DefaultLocation)
	return &Webhook{cfg: cfg, client: clientOr(client)}, nil
}

// Kind implements Kinder.
func (w *Webhook) Kind() string { return "webhook" }

// Notify posts n once.
func (w *Webhook) Notify(ctx context.Context, n alerting.Notification) (bool, error) {
	body, err := json.Marshal(NewWebhookBody(n, w.cfg.Location))
	if err != nil {
		return false, fmt.Errorf("encode webhook body: %w", err)
	}
	h := http.Header{}
	h.Set(SignatureHeader, Signature(w.cfg.Secret, body))
	h.Set(IdempotencyHeader, n.Key)
	retry, _, err := post(ctx, w.client, timeoutOf(w.cfg.Timeout), w.cfg.URL, h, body)
	return retry, err
}

// Signature returns the X-Anxin-Signature value of body: "sha256=" and the
// lowercase hex HMAC-SHA256 of body keyed with secret. Receivers compare it
// with hmac.Equal.
func Signature(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// WebhookBody is the JSON a Webhook posts. Example:
//
//	{
//	  "version": 1,
//	  "idempotency_key": "A-mho2xa-1/step/2/webhook:county",
//	  "kind": "step",                        // unattended | step | repeat | reminder
//	  "step": 2,                             // 1-based step, repeat or reminder number
//	  "attempt": 1,                          // 1-based delivery attempt
//	  "channel": "webhook:county",
//	  "targets": ["supervisor", "next_level", "webhook:county"],
//	  "event_time": "2026-11-23T02:00:30Z",  // when the step fell due (UTC)
//	  "alarm": {
//	    "id": "A-mho2xa-1",
//	    "priority": "P1",
//	    "type": "call",
//	    "type_name": "一键呼叫",
//	    "event": "call.press",
//	    "state": "raised",                   // raised | acknowledged | dispatched
//	    "device": "btn-101",
//	    "count": 1,                          // events that raised or repeated it
//	    "raised_at": "2026-11-23T02:00:00Z",
//	    "acknowledged_at": null,             // set once taken
//	    "owner": "",                         // who took it
//	    "age_seconds": 30                    // raised_at to event_time
//	  },
//	  "site": "qs-village-12-bedroom",
//	  "location": ["青山县", "青山镇", "青山村", "12号", "卧室"],
//	  "routed_site": "qs-town",              // "" when nobody is on duty on the path
//	  "resident": {"name": "王秀英", "age": 82, "conditions": ["高血压"]},
//	  "recipients": [{"id": "zhang", "name": "张伟", "phone": "13800001111", "site": "qs-town", "supervisor": true}],
//	  "mentions": ["13800001111"],
//	  "emergency_contacts": [{"name": "王强", "phone": "13900002222", "relation": "儿子"}],
//	  "text": "【安心 P1 生命安全】一键呼叫:已 30 秒无人响应(第 2 步升级)\n位置:…"
//	}
//
// Times are RFC 3339 in UTC; fields may be added, never renamed.
type WebhookBody struct {
	Version        int                 `json:"version"`
	IdempotencyKey string              `json:"idempotency_key"`
	Kind           alerting.NoteKind   `json:"kind"`
	Step           int                 `json:"step"`
	Attempt        int                 `json:"attempt"`
	Channel        string              `json:"channel"`
	Targets        []string            `json:"targets"`
	EventTime      time.Time           `json:"event_time"`
	Alarm          WebhookAlarm        `json:"alarm"`
	Site           string              `json:"site"`
	Location       []string            `json:"location"`
	RoutedSite     string              `json:"routed_site"`
	Resident       WebhookResident     `json:"resident"`
	Recipients     []alerting.Operator `json:"recipients"`
	Mentions       []string            `json:"mentions"`
	Contacts       []alerting.Contact  `json:"emergency_contacts"`
	Text           string              `json:"text"`
}

// WebhookAlarm is the alarm in a WebhookBody.
type WebhookAlarm struct {
	ID         string            `json:"id"`
	Priority   alerting.Priority `json:"priority"`
	Type       string            `json:"type"`
	TypeName   string            `json:"type_name"`
	Event      string            `json:"event"`
	State      alerting.State    `json:"state"`
	Subject    alerting.Subject  `json:"subject,omitempty"` // "site" for a site-level incident
	Device     string            `json:"device"`            // empty for a site-level incident
	Count      int               `json:"count"`
	RaisedAt   time.Time         `json:"raised_at"`
	AckedAt    *time.Time        `json:"acknowledged_at"`
	Owner      string            `json:"owner"`
	AgeSeconds int64             `json:"age_seconds"`
}

// WebhookResident is the resident in a WebhookBody; the emergency
// contacts travel only when a step targets them.
type WebhookResident struct {
	Name       string   `json:"name"`
	Age        int      `json:"age,omitempty"`
	Conditions []string `json:"conditions,omitempty"`
}

// NewWebhookBody builds the body a Webhook posts for n.
func NewWebhookBody(n alerting.Notification, loc *time.Location) WebhookBody {
	a := n.Alarm
	if a == nil {
		a = &alerting.Alarm{}
	}
	b := WebhookBody{
		Version: 1, IdempotencyKey: n.Key, Kind: n.Kind, Step: n.Step, Attempt: n.Attempt,
		Channel: n.Channel, Targets: nonNil(n.Targets), EventTime: n.At.UTC(),
		Alarm: WebhookAlarm{ID: a.ID, Priority: a.Priority, Type: a.Type, TypeName: TypeName(a.Type),
			Event: a.Event, State: a.State, Subject: a.Subject, Device: a.Device, Count: a.Count, RaisedAt: a.Raised.UTC(),
			Owner: a.Owner, AgeSeconds: int64(n.Age() / time.Second)},
		Site: n.Site, Location: nonNil(n.Location), RoutedSite: n.Routed,
		Resident:   WebhookResident{Name: n.Resident.Name, Age: n.Resident.Age, Conditions: n.Resident.Conditions},
		Recipients: nonNil(n.Recipients), Mentions: nonNil(n.Mentions), Contacts: nonNil(n.Contacts),
		Text: render(n, textStyle{loc: loc, atPhones: true}),
	}
	if !a.Acked.IsZero() {
		t := a.Acked.UTC()
		b.Alarm.AckedAt = &t
	}
	return b
}

// nonNil makes empty lists encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
