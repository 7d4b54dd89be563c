package devices

import (
	"encoding/json"
	"math"
	"testing"
)

// FuzzNative feeds DecodeNative arbitrary payloads on every channel: it must
// never panic, every refusal must be a *RejectError with a known Reason, and
// whatever it accepts must be in the vocabulary.
func FuzzNative(f *testing.F) {
	seeds := []struct {
		ch      Channel
		payload string
	}{
		{ChannelEvent, `{"seq": 42, "ts": 1740816000000, "type": "call.press", "data": {"button": 1}}`},
		{ChannelEvent, `{"seq": 0, "type": "smoke.alarm"}`},
		{ChannelEvent, `{"seq": -1, "type": "call.press"}`},
		{ChannelEvent, `{"seq": 1e3, "ts": "soon", "type": "call.prss", "data": 5}`},
		{ChannelEvent, `{"type": "call.press"}`},
		{ChannelTelemetry, `{"ts": 1740816000000, "battery": 87, "rssi": -67, "hr": 72, "spo2": 97, "temp_c": 36.5}`},
		{ChannelTelemetry, `{"battery": "87", "future_field": [1, 2]}`},
		{ChannelTelemetry, `null`},
		{ChannelStatus, `{"online": true, "fw": "1.4.2", "model": "CB-200"}`},
		{ChannelStatus, `{"online": "yes"}`},
		{ChannelCmd, `{"type": "silence"}`},
		{ChannelEvent, `{"seq": 1} {"seq": 2}`},
		{ChannelEvent, `[`},
		{ChannelEvent, `{"seq": 7, "type": "call.press", "data": {"press_ms": 300}}`},
		{ChannelEvent, `{"seq": 8, "type": "call.press", "data": {"press_ms": 1e400}}`},
		{ChannelEvent, `{"seq": 9, "type": "call.press", "data": {"press_ms": "short"}}`},
	}
	channels := []Channel{ChannelEvent, ChannelTelemetry, ChannelStatus, ChannelCmd, "bogus"}
	for _, s := range seeds {
		for i, ch := range channels {
			if ch == s.ch {
				f.Add(uint8(i), []byte(s.payload))
			}
		}
	}
	f.Fuzz(func(t *testing.T, chIndex uint8, payload []byte) {
		ch := channels[int(chIndex)%len(channels)]
		msg, err := DecodeNative("CB-0001", ch, payload, goldenStart)
		if err != nil {
			checkReject(t, err)
			return
		}
		set := 0
		if ev := msg.Event; ev != nil {
			set++
			if !ev.Type.Known() {
				t.Fatalf("accepted event type %q is not in the vocabulary", ev.Type)
			}
			if _, err := json.Marshal(ev); err != nil {
				t.Fatalf("accepted event does not marshal: %v", err)
			}
			// A check-in instead of a call only for a plainly short press.
			if ShortPress(*ev) {
				ms, ok := ev.Data[DataPressMs].(float64)
				if ev.Type != CallPress || !ok || !(ms >= 0 && ms < 1000) {
					t.Fatalf("ShortPress true for %s with data %v", ev.Type, ev.Data)
				}
			}
		}
		if tm := msg.Telemetry; tm != nil {
			set++
			for k, v := range tm.Fields {
				if !KnownField(k) || math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("accepted telemetry %s=%v", k, v)
				}
			}
		}
		if msg.Status != nil {
			set++
		}
		if set != 1 {
			t.Fatalf("DecodeNative(%s) set %d parts of the message, want exactly 1", ch, set)
		}
	})
}
