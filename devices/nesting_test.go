package devices

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// nested is v wrapped in n JSON objects: {"a":{"a":…v…}}.
func nested(n int, v string) string {
	return strings.Repeat(`{"a":`, n) + v + strings.Repeat(`}`, n)
}

// TestNativeNesting: a native payload may nest MaxNesting levels (the
// envelope, data, and what the protocol needs inside it) and no deeper;
// deeper is refused as too_deep, on every channel, before it is decoded.
// A payload 2,022 levels deep was once stored and served back.
func TestNativeNesting(t *testing.T) {
	now := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	deepArray := `{"seq":1,"type":"call.press","data":{"a":` + strings.Repeat("[", 2022) + strings.Repeat("]", 2022) + `}}`
	tests := []struct {
		name    string
		ch      Channel
		payload string
		reason  Reason // "" accepted
	}{
		{"data at the limit", ChannelEvent, `{"seq":1,"type":"call.press","data":` + nested(MaxNesting-1, "1") + `}`, ""},
		{"data one level deeper", ChannelEvent, `{"seq":1,"type":"call.press","data":` + nested(MaxNesting, "1") + `}`, ReasonTooDeep},
		{"600 objects", ChannelEvent, `{"seq":1,"type":"call.press","data":` + nested(600, "1") + `}`, ReasonTooDeep},
		{"2022 arrays", ChannelEvent, deepArray, ReasonTooDeep},
		{"brackets in strings do not count", ChannelEvent, `{"seq":1,"type":"call.press","data":{"note":"` + strings.Repeat(`{[\"`, 300) + `"}}`, ""},
		{"telemetry", ChannelTelemetry, `{"battery":80,"x":` + nested(MaxNesting, "1") + `}`, ReasonTooDeep},
		{"status", ChannelStatus, `{"online":true,"x":` + nested(MaxNesting, "1") + `}`, ReasonTooDeep},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeNative("CB-0001", tt.ch, []byte(tt.payload), now)
			var re *RejectError
			switch {
			case tt.reason == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.reason != "" && (!errors.As(err, &re) || re.Reason != tt.reason):
				t.Fatalf("got %v, want reason %s", err, tt.reason)
			}
		})
	}
}
