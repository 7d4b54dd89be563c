package devices

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"unicode/utf8"

	"github.com/anxin-care/anxin/internal/jsonerr"
)

// MaxPayload is the largest payload the native protocol accepts (DESIGN.md §2).
const MaxPayload = 4096

// MaxNesting is how deep a device payload's JSON may nest objects and
// arrays: the envelope is one level, so an event's "data" may nest eight
// (itself included), more than any device of the protocol or an adapter
// needs. Deeper payloads are refused as too_deep before they are decoded,
// so that no deep structure is ever stored, re-encoded or served back.
const MaxNesting = 9

// NativePrefix is the topic root of the native protocol.
const NativePrefix = "anxin/v1/"

// Channel is the last topic level of the native protocol.
type Channel string

// The native channels.
const (
	ChannelEvent     Channel = "event"
	ChannelTelemetry Channel = "telemetry"
	ChannelStatus    Channel = "status"
	ChannelCmd       Channel = "cmd"
	// ChannelSync carries what an operator did on an edge box's local
	// console to central (gateway/EDGE.md); only an edge box publishes it,
	// on its own id.
	ChannelSync Channel = "sync"
)

// Message is one decoded native payload: exactly one of its pointers is set.
type Message struct {
	Event     *Event
	Telemetry *Telemetry
	Status    *Status
}

// Topic returns the native topic of a device's channel.
func Topic(device string, ch Channel) string { return NativePrefix + device + "/" + string(ch) }

// ParseTopic splits a native topic into its device id and channel.
func ParseTopic(topic string) (device string, ch Channel, err error) {
	rest, ok := strings.CutPrefix(topic, NativePrefix)
	if !ok {
		return "", "", reject(ReasonBadTopic, "topic %q is not under %s", topic, NativePrefix)
	}
	device, last, ok := strings.Cut(rest, "/")
	if !ok || strings.Contains(last, "/") {
		return "", "", reject(ReasonBadTopic, "topic %q is not %s{device}/{channel}", topic, NativePrefix)
	}
	if err := ValidateID(device); err != nil {
		return "", "", reject(ReasonBadTopic, "topic %q: %v", topic, err)
	}
	switch ch := Channel(last); ch {
	case ChannelEvent, ChannelTelemetry, ChannelStatus, ChannelCmd, ChannelSync:
		return device, ch, nil
	}
	return "", "", reject(ReasonBadTopic, "topic %q: unknown channel %q", topic, last)
}

// ValidateID checks a device id: 1–64 characters of letters, digits, '-', '_' and '.',
// not only dots. Ids become MQTT topic levels, client ids and URL path
// segments, so wildcards and separators are refused, and so are "." and
// "..", which a URL cleans away (/api/v1/devices/.. is not that device).
func ValidateID(id string) error {
	if id == "" || len(id) > 64 {
		return reject(ReasonBadField, "device id must be 1-64 characters, got %d", len(id))
	}
	if strings.Trim(id, ".") == "" {
		return reject(ReasonBadField, "device id %q is only dots; a path step, not a name", id)
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
		if !ok {
			return reject(ReasonBadField, "device id %q has %q; use letters, digits, '-', '_' or '.'", id, r)
		}
	}
	return nil
}

type nativeEvent struct {
	Seq  json.RawMessage `json:"seq"`
	TS   json.RawMessage `json:"ts"`
	Type *string         `json:"type"`
	Data json.RawMessage `json:"data"`
}

// DecodeNative decodes a payload published by device on channel ch, received at now.
func DecodeNative(device string, ch Channel, payload []byte, now time.Time) (Message, error) {
	if len(payload) > MaxPayload {
		return Message{}, reject(ReasonOversized, "payload is %d bytes, the limit is %d", len(payload), MaxPayload)
	}
	switch ch {
	case ChannelEvent:
		ev, err := decodeEvent(device, payload, now)
		return Message{Event: ev}, err
	case ChannelTelemetry:
		tm, err := decodeTelemetry(device, payload, now)
		return Message{Telemetry: tm}, err
	case ChannelStatus:
		st, err := decodeStatus(device, payload, now)
		return Message{Status: st}, err
	}
	return Message{}, reject(ReasonBadTopic, "devices do not publish on %q", ch)
}

// decodeObject decodes one JSON value of a device payload into v, refusing
// a payload that is not UTF-8, one nested deeper than MaxNesting and
// trailing data. JSON is UTF-8 (RFC 8259); encoding/json would quietly mend
// bad bytes into U+FFFD, and an alarm's data would show what the device
// never said.
func decodeObject(payload []byte, v any) error {
	if !utf8.Valid(payload) {
		return reject(ReasonMalformed, "payload is not valid UTF-8")
	}
	if depth := nesting(payload, MaxNesting); depth > MaxNesting {
		return reject(ReasonTooDeep, "objects and arrays nest deeper than %d levels", MaxNesting)
	}
	d := json.NewDecoder(bytes.NewReader(payload))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return reject(ReasonMalformed, "%s", jsonerr.Describe(err))
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return reject(ReasonMalformed, "trailing data after the JSON object")
	}
	return nil
}

// nesting is how deep the objects and arrays of the JSON text b nest, up to
// limit+1: it stops counting there. Brackets inside strings do not count;
// malformed text is left for the decoder to name.
func nesting(b []byte, limit int) int {
	depth, deepest, inString, escaped := 0, 0, false, false
	for _, c := range b {
		switch {
		case inString && escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case inString && c == '"':
			inString = false
		case inString:
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			if depth > deepest {
				if deepest = depth; deepest > limit {
					return deepest
				}
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

func decodeEvent(device string, payload []byte, now time.Time) (*Event, error) {
	var raw nativeEvent
	if err := decodeObject(payload, &raw); err != nil {
		return nil, err
	}
	if raw.Seq == nil || string(raw.Seq) == "null" {
		return nil, reject(ReasonMissingSeq, "event has no \"seq\"")
	}
	seq, err := strconv.ParseUint(string(raw.Seq), 10, 64)
	if err != nil {
		return nil, reject(ReasonBadField, "\"seq\" must be a non-negative integer, got %s", truncate(string(raw.Seq), 32))
	}
	if raw.Type == nil || *raw.Type == "" {
		return nil, reject(ReasonUnknownType, "event has no \"type\"")
	}
	typ := EventType(*raw.Type)
	if !typ.Known() {
		return nil, reject(ReasonUnknownType, "event type %q is not in the vocabulary", truncate(*raw.Type, 64))
	}
	ev := &Event{Device: device, Seq: seq, Type: typ, Received: now.UTC()}
	if raw.TS != nil && string(raw.TS) != "null" {
		ms, err := strconv.ParseInt(string(raw.TS), 10, 64)
		if err != nil {
			return nil, reject(ReasonBadField, "\"ts\" must be integer milliseconds, got %s", truncate(string(raw.TS), 32))
		}
		ev.DeviceTime = deviceTime(ms, now)
	}
	if len(raw.Data) > 0 && string(raw.Data) != "null" {
		if err := json.Unmarshal(raw.Data, &ev.Data); err != nil {
			return nil, reject(ReasonBadField, "\"data\" must be an object")
		}
	}
	return ev, nil
}

func decodeTelemetry(device string, payload []byte, now time.Time) (*Telemetry, error) {
	var raw map[string]json.RawMessage
	if err := decodeObject(payload, &raw); err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, reject(ReasonMalformed, "telemetry must be a JSON object")
	}
	tm := &Telemetry{Device: device, Time: now.UTC(), Fields: map[string]float64{}}
	for k, v := range raw {
		if k == "ts" {
			var ms int64
			if err := json.Unmarshal(v, &ms); err != nil {
				return nil, reject(ReasonBadField, "\"ts\" must be integer milliseconds")
			}
			if t := deviceTime(ms, now); !t.IsZero() {
				tm.Time = t
			}
			continue
		}
		if !KnownField(k) {
			continue // newer firmware may send more; the known fields still count
		}
		var f float64
		if err := json.Unmarshal(v, &f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, reject(ReasonBadField, "telemetry field %q must be a number", k)
		}
		tm.Fields[k] = f
	}
	return tm, nil
}

func decodeStatus(device string, payload []byte, now time.Time) (*Status, error) {
	var raw struct {
		Online *bool  `json:"online"`
		FW     string `json:"fw"`
		Model  string `json:"model"`
	}
	if err := decodeObject(payload, &raw); err != nil {
		return nil, err
	}
	if raw.Online == nil {
		return nil, reject(ReasonBadField, "status has no boolean \"online\"")
	}
	return &Status{Device: device, Online: *raw.Online, Firmware: truncate(raw.FW, 64),
		Model: truncate(raw.Model, 64), Time: now.UTC()}, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
