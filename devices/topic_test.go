package devices

import (
	"errors"
	"testing"
)

// TestParseTopic: a native topic names one device and one channel; path
// tricks, wildcards and unknown channels are refused with a reason.
func TestParseTopic(t *testing.T) {
	tests := []struct {
		topic, device string
		ch            Channel
		ok            bool
	}{
		{"anxin/v1/btn-1/event", "btn-1", ChannelEvent, true},
		{"anxin/v1/cb.2_x/status", "cb.2_x", ChannelStatus, true},
		{"anxin/v1/box-1/sync", "box-1", ChannelSync, true},
		{"anxin/v1/../event", "", "", false},
		{"anxin/v1/./event", "", "", false},
		{"anxin/v1/.../event", "", "", false},
		{"anxin/v1/btn-1/../btn-2/event", "", "", false},
		{"anxin/v1//event", "", "", false},
		{"anxin/v1/+/event", "", "", false},
		{"anxin/v1/#", "", "", false},
		{"anxin/v1/btn-1/toast", "", "", false},
		{"anxin/v1/btn-1", "", "", false},
		{"$SYS/anxin/v1/btn-1/event", "", "", false},
		{"anxin/v2/btn-1/event", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.topic, func(t *testing.T) {
			dev, ch, err := ParseTopic(tt.topic)
			if (err == nil) != tt.ok || dev != tt.device || ch != tt.ch {
				t.Fatalf("ParseTopic = %q, %q, %v; want %q, %q, ok %v", dev, ch, err, tt.device, tt.ch, tt.ok)
			}
			var rej *RejectError
			if err != nil && (!errors.As(err, &rej) || rej.Reason != ReasonBadTopic) {
				t.Fatalf("error %v is not a bad_topic rejection", err)
			}
		})
	}
}
