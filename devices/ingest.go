package devices

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// IoT platforms push device messages over HTTP (POST /ingest/v1/{integration}):
// NB-IoT smoke detectors report through their carrier's platform, not to
// anxin's broker. A platform decoder turns one pushed body into Pushes: the
// platform's message id, the device it names and the message the vendor
// rules read. The rules are the same as for a vendor's MQTT JSON: the
// gateway hands Push.Message to a vendor_json adapter whose topic pattern
// is ingest/{integration}/{device} (IngestTopic), so that a smoke alarm
// pushed this way takes exactly the path of a native one.
//
// The decoders are pure; authentication (VerifyToken, VerifyOneNET,
// VerifyHMACSHA256) is separate so that the gateway checks it before it
// decodes anything.

// PushType says what a pushed message is about.
type PushType string

// The push types.
const (
	// PushData and PushEvent carry device data for the vendor rules.
	PushData  PushType = "data"
	PushEvent PushType = "event"
	// PushOnline and PushOffline are the platform's view of the device's
	// connection: a Status, no rules.
	PushOnline  PushType = "online"
	PushOffline PushType = "offline"
	// PushOther is a message anxin has no use for (a command response, a
	// scene log): answer 2xx and drop it, or the platform retries it.
	PushOther PushType = "other"
)

// Push is one device message a platform pushed.
type Push struct {
	// ID identifies the message within its integration: the platform's own
	// message id, or, where the platform sends none, one derived from the
	// message so that a retried push (the same body) has the same ID. The
	// gateway records it durably with the events and answers a push whose
	// ID it already holds with 2xx and nothing else.
	ID string `json:"id"`
	// Device is the platform's device reference: CTWing's deviceId,
	// OneNET's deviceName (dev_id on the legacy platform).
	Device string `json:"device"`
	// IMEI of an NB-IoT device, when the platform says it: the number an
	// installer reads off the detector.
	IMEI string   `json:"imei,omitempty"`
	Type PushType `json:"type"`
	// Time is the platform's clock for the message, zero when absent.
	Time time.Time `json:"time,omitzero"`
	// Message is the JSON object the vendor rules read, for PushData and
	// PushEvent: the platform's message as its documentation shows it (see
	// each decoder for the exceptions).
	Message json.RawMessage `json:"message,omitempty"`
}

// PlatformDecoder decodes one pushed body.
type PlatformDecoder func(body []byte) ([]Push, error)

// platforms is the registry of platform decoders, by the name an
// integration's config gives.
var platforms = map[string]PlatformDecoder{
	"ctwing": DecodeCTWing,
	"onenet": DecodeOneNET,
}

// Platforms lists the platforms DecodePush knows, sorted.
func Platforms() []string { return slices.Sorted(maps.Keys(platforms)) }

// DecodePush decodes a body pushed by platform.
func DecodePush(platform string, body []byte) ([]Push, error) {
	d, ok := platforms[platform]
	if !ok {
		return nil, fmt.Errorf("platform %q is not known (known: %s)", platform, strings.Join(Platforms(), ", "))
	}
	return d(body)
}

// MaxPushBody bounds a pushed body. The legacy OneNET platform batches
// data points into one push; a single message is far smaller.
const MaxPushBody = 256 << 10

// IngestTopic is the topic a pushed message is decoded under by the vendor
// rules: a vendor_json adapter for the integration has the topic pattern
// ingest/{integration}/{device}. It is never an MQTT topic: the gateway
// builds it; no client publishes it.
func IngestTopic(integration, device string) string {
	return "ingest/" + integration + "/" + device
}

// Input is the adapter Input for a data or event push: the vendor rules
// decode it like an MQTT message of the device.
func (p Push) Input(integration string, device string, kind Kind, received time.Time) Input {
	return Input{Topic: IngestTopic(integration, p.Device), Payload: p.Message, Device: device, Kind: kind, Received: received}
}

// Status is the Status of an online or offline push, nil for others.
func (p Push) Status(device string, received time.Time) *Status {
	if p.Type != PushOnline && p.Type != PushOffline {
		return nil
	}
	at := deviceTime(p.Time.UnixMilli(), received)
	if at.IsZero() {
		at = received.UTC()
	}
	return &Status{Device: device, Online: p.Type == PushOnline, Time: at}
}

// checkBody applies the limits every platform's body shares.
func checkBody(body []byte) error {
	if len(body) > MaxPushBody {
		return reject(ReasonOversized, "body is %d bytes, the limit is %d", len(body), MaxPushBody)
	}
	if !utf8.Valid(body) {
		return reject(ReasonMalformed, "body is not valid UTF-8")
	}
	if nesting(body, MaxNesting) > MaxNesting {
		return reject(ReasonTooDeep, "objects and arrays nest deeper than %d levels", MaxNesting)
	}
	return nil
}

// pushRef checks a device reference taken from a body: it becomes a topic
// level and a lookup key.
func pushRef(field, ref string) error {
	if ref == "" {
		return reject(ReasonBadField, "%s is missing", field)
	}
	if err := ValidateID(ref); err != nil {
		return reject(ReasonBadField, "%s %q is not a usable device reference", field, truncate(ref, 64))
	}
	return nil
}

// digest names a message that carries no id of its own.
func digest(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

// jsonString reads a JSON value that platforms send as a string or a
// number (ids, serial numbers) as a string; null and absent are "".
func jsonString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// jsonMillis reads an epoch-milliseconds time sent as a number or a string.
func jsonMillis(raw json.RawMessage) time.Time {
	if len(raw) == 0 {
		return time.Time{}
	}
	t, bad := readTime(jsonString(raw), time.Millisecond, "time")
	if bad != nil || t.UnixMilli() <= 0 {
		return time.Time{}
	}
	return t
}
