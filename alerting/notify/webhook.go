package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/anxin-care/anxin/alerting"
)

// Headers of a webhook request. The signature follows the Standard
// Webhooks convention (https://www.standardwebhooks.com): webhook-id,
// webhook-timestamp and webhook-signature, the HMAC-SHA256 of
// "ID.TIMESTAMP.BODY", so that a receiver can refuse a replayed request.
const (
	// IDHeader carries the notification's key (as IdempotencyHeader).
	IDHeader = "webhook-id"
	// TimestampHeader carries when this attempt was signed: whole seconds
	// since the Unix epoch.
	TimestampHeader = "webhook-timestamp"
	// StandardSignatureHeader carries "v1," and the standard base64
	// HMAC-SHA256 of "ID.TIMESTAMP.BODY", keyed with the secret's key
	// (SigningKey).
	StandardSignatureHeader = "webhook-signature"
	// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the
	// exact request body, keyed with the target's secret as written. It
	// has no timestamp, so a captured request can be replayed: it is sent
	// for one more release for receivers of anxin before the standard
	// headers (WebhookConfig.LegacySignature turns it off), then dropped.
	SignatureHeader = "X-Anxin-Signature"
	// IdempotencyHeader carries the notification's key: the same on every
	// retry of one notification, different for every other notification.
	IdempotencyHeader = "Idempotency-Key"
)

// MinSecret is the shortest webhook secret accepted, and the shortest key
// a "whsec_" secret may decode to.
const MinSecret = 16

// SecretPrefix marks a secret in the Standard Webhooks format: "whsec_"
// and the standard base64 of the key's bytes.
const SecretPrefix = "whsec_"

// DefaultTolerance is how far a receiver should let a webhook-timestamp be
// from its own clock, either way, before it refuses the request as a
// replay: five minutes, as the Standard Webhooks libraries do.
const DefaultTolerance = 5 * time.Minute

// WebhookConfig configures a Webhook.
type WebhookConfig struct {
	URL string `json:"url"`
	// Secret is at least MinSecret bytes, or "whsec_" and the base64 of a
	// key of at least MinSecret bytes; never logged.
	Secret string `json:"secret"`
	// LegacySignature, true when left out, also sends X-Anxin-Signature,
	// the body-only signature of earlier releases. Deprecated: set it to
	// false once every receiver checks webhook-signature; a later release
	// drops it.
	LegacySignature *bool `json:"legacy_signature,omitempty"`
	// Timeout bounds one attempt; DefaultTimeout when zero.
	Timeout alerting.Duration `json:"timeout,omitempty"`
	// Location is the zone of the times in the text field.
	Location *time.Location `json:"-"`
	// Now is the clock of webhook-timestamp; time.Now when nil.
	Now func() time.Time `json:"-"`
}

// Validate checks c, naming the bad field and never echoing the secret.
func (c WebhookConfig) Validate() error {
	if err := validURL("webhook url", c.URL); err != nil {
		return err
	}
	if _, err := SigningKey(c.Secret); err != nil {
		return fmt.Errorf("%w: webhook secret: %w", ErrBadConfig, err)
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
//	webhook-id:        <the notification key, stable across retries>
//	webhook-timestamp: <seconds since the epoch when this attempt was signed>
//	webhook-signature: v1,<base64 HMAC-SHA256 of "ID.TIMESTAMP.BODY", keyed with SigningKey(secret)>
//	Idempotency-Key:   <the notification key, as webhook-id>
//	X-Anxin-Signature: sha256=<hex HMAC-SHA256 of the body alone>  (deprecated, see SignatureHeader)
//
// A 2xx answer delivers it. 408, 429 (honouring Retry-After), 5xx, timeouts
// and network failures are retried with backoff; any other 4xx gives up.
// A receiver should verify the signature over the raw body before parsing
// it, refuse a timestamp more than DefaultTolerance from its clock, and
// drop a repeated webhook-id (Verify does the first two).
type Webhook struct {
	cfg    WebhookConfig
	key    []byte
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
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	key, _ := SigningKey(cfg.Secret) // Validate checked it
	return &Webhook{cfg: cfg, key: key, client: clientOr(client)}, nil
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
	ts := strconv.FormatInt(w.cfg.Now().Unix(), 10)
	h.Set(IDHeader, n.Key)
	h.Set(TimestampHeader, ts)
	h.Set(StandardSignatureHeader, sign(w.key, n.Key, ts, body))
	h.Set(IdempotencyHeader, n.Key)
	if w.cfg.LegacySignature == nil || *w.cfg.LegacySignature {
		h.Set(SignatureHeader, Signature(w.cfg.Secret, body))
	}
	retry, _, err := post(ctx, w.client, timeoutOf(w.cfg.Timeout), w.cfg.URL, h, body)
	return retry, err
}

// Signature returns the X-Anxin-Signature value of body: "sha256=" and the
// lowercase hex HMAC-SHA256 of body keyed with secret. Receivers compare it
// with hmac.Equal. Deprecated: it has no timestamp; see StandardSignature.
func Signature(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// SigningKey is the HMAC key of a webhook secret: the bytes a "whsec_"
// secret's base64 decodes to, or the secret's own bytes otherwise. A
// receiver that uses a Standard Webhooks library with a secret of the
// second kind gives it "whsec_" + base64(secret).
func SigningKey(secret string) ([]byte, error) {
	if b64, ok := strings.CutPrefix(secret, SecretPrefix); ok {
		key, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, errors.New(`after "whsec_" must come standard base64`)
		}
		if len(key) < MinSecret {
			return nil, fmt.Errorf("the key after \"whsec_\" must be at least %d bytes", MinSecret)
		}
		return key, nil
	}
	if len(secret) < MinSecret {
		return nil, fmt.Errorf("must be at least %d bytes", MinSecret)
	}
	return []byte(secret), nil
}

// StandardSignature returns the webhook-signature value of one request:
// "v1," and the standard base64 HMAC-SHA256 of "ID.TIMESTAMP.BODY" keyed
// with SigningKey(secret).
func StandardSignature(secret, id, timestamp string, body []byte) (string, error) {
	key, err := SigningKey(secret)
	if err != nil {
		return "", err
	}
	return sign(key, id, timestamp, body), nil
}

func sign(key []byte, id, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + timestamp + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Errors of Verify.
var (
	ErrBadSignature = errors.New("webhook signature does not match")
	ErrStale        = errors.New("webhook timestamp too far from now")
)

// Verify checks a request as a receiver should: the timestamp within
// tolerance of now (DefaultTolerance when zero), and one of the
// space-separated signatures of the header equal to the one of
// "ID.TIMESTAMP.BODY".
func Verify(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	id, ts := h.Get(IDHeader), h.Get(TimestampHeader)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if id == "" || err != nil {
		return fmt.Errorf("%w: webhook-id or webhook-timestamp missing or malformed", ErrBadSignature)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: %s off", ErrStale, d.Round(time.Second))
	}
	want, err := StandardSignature(secret, id, ts, body)
	if err != nil {
		return err
	}
	for _, got := range strings.Fields(h.Get(StandardSignatureHeader)) {
		if hmac.Equal([]byte(got), []byte(want)) {
			return nil
		}
	}
	return ErrBadSignature
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
