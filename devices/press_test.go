package devices

import (
	"testing"
	"time"
)

// TestShortPress: only a call.press whose press_ms is a number plainly
// under the limit is short; everything else is a call.
func TestShortPress(t *testing.T) {
	now := time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name, payload string
		want          bool
	}{
		{"short", `{"seq":1,"type":"call.press","data":{"press_ms":300}}`, true},
		{"zero", `{"seq":1,"type":"call.press","data":{"press_ms":0}}`, true},
		{"just under", `{"seq":1,"type":"call.press","data":{"press_ms":999.5}}`, true},
		{"at the limit", `{"seq":1,"type":"call.press","data":{"press_ms":1000}}`, false},
		{"long", `{"seq":1,"type":"call.press","data":{"press_ms":3000}}`, false},
		{"no duration", `{"seq":1,"type":"call.press"}`, false},
		{"empty data", `{"seq":1,"type":"call.press","data":{}}`, false},
		{"a string", `{"seq":1,"type":"call.press","data":{"press_ms":"300"}}`, false},
		{"negative", `{"seq":1,"type":"call.press","data":{"press_ms":-5}}`, false},
		{"null", `{"seq":1,"type":"call.press","data":{"press_ms":null}}`, false},
		{"a pull cord", `{"seq":1,"type":"call.pullcord","data":{"press_ms":300}}`, false},
		{"an sos", `{"seq":1,"type":"band.sos","data":{"press_ms":300}}`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			msg, err := DecodeNative("btn-1", ChannelEvent, []byte(c.payload), now)
			if err != nil {
				t.Fatal(err)
			}
			if got := ShortPress(*msg.Event); got != c.want {
				t.Fatalf("ShortPress(%s) = %v, want %v", c.payload, got, c.want)
			}
		})
	}
}
