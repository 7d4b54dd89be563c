package edge

import (
	"testing"
	"time"

	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway/state"
)

// TestResume: after a restart the LED shows each call still open as it was
// shown before: a raised call whose event is still queued for central as
// not yet delivered, one that left the queue as received, a taken one as
// acknowledged or on the way; alarms other than calls show nothing.
func TestResume(t *testing.T) {
	tests := []struct {
		name  string
		call  OpenCall
		queue bool // the call's raising event is still in the outbound queue
		want  string
	}{
		{"raised, still queued", OpenCall{Device: "btn-1", Event: "call.press", Seq: 4, State: "received"}, true, "not_delivered"},
		{"raised, central has it", OpenCall{Device: "btn-1", Event: "call.press", Seq: 4, State: "received"}, false, "received"},
		{"a later event of the device queued, not the raising one", OpenCall{Device: "btn-1", Event: "call.press", Seq: 3, State: "received"}, true, "received"},
		{"a fall, acknowledged on the box, still queued", OpenCall{Device: "band-1", Event: "band.fall", Seq: 4, State: "acknowledged"}, true, "acknowledged"},
		{"a pull cord, on the way", OpenCall{Device: "cord-1", Event: "call.pullcord", Seq: 4, State: "on_the_way"}, false, "on_the_way"},
		{"not a call: a low battery", OpenCall{Device: "btn-1", Event: "", Seq: 0, State: "received"}, false, "uplink_lost"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := state.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if tt.queue {
				if err := db.PutEdgeQueued(1, state.EdgeQueued{Topic: devices.Topic(tt.call.Device, devices.ChannelEvent),
					Payload: []byte(`{"seq":4,"type":"call.press"}`), Device: tt.call.Device, Queued: time.Now()}); err != nil {
					t.Fatal(err)
				}
			}
			b, err := Open(Config{BoxID: "box-1", Central: CentralConfig{URL: "tcp://127.0.0.1:1"}},
				Deps{Store: db, Clock: NewFakeClock(time.Now())})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if err := b.Resume([]OpenCall{tt.call}); err != nil {
				t.Fatal(err)
			}
			if led := b.Status().LED; led != tt.want {
				t.Fatalf("LED %q after the restart, want %q", led, tt.want)
			}
		})
	}
}
