package gateway_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/gateway/state"
)

// TestEdgeSyncAtCentral: what a nurse did on a box's own console reaches
// central's alarm for the raising (device, seq) over the box's sync topic:
// with who, "at box box-1" and when on the timeline; a repeat changes
// nothing; an action central already passed is a note; a malformed sync is
// refused with a reason and changes nothing.
func TestEdgeSyncAtCentral(t *testing.T) {
	g, boxPW, _ := edgeSite(t)
	op := g.AddUser("zhao", state.RoleOperator)
	box := g.ConnectDevice("box-1", boxPW)
	cmds := boxListen(t, box, "btn-1")
	if err := box.Client.Publish("anxin/v1/btn-1/event", 1, false, `{"seq":7,"type":"call.press"}`); !err.WaitTimeout(5*time.Second) || err.Error() != nil {
		t.Fatal("forwarding the press failed")
	}
	id := expectReassure(t, cmds, 7, "received").Alarm
	at := time.Date(2026, 11, 30, 2, 13, 0, 0, time.UTC).UnixMilli()
	sync := func(body string) {
		t.Helper()
		if err := box.Publish("sync", body); err != nil {
			t.Fatalf("sync %s: %v", body, err)
		}
	}
	timeline := func() []alerting.Entry {
		t.Helper()
		var a alerting.Alarm
		if code := op.Do("GET", "/api/v1/alarms/"+id, nil, &a); code != 200 {
			t.Fatalf("GET alarm: HTTP %d", code)
		}
		return a.Timeline
	}
	ack := fmt.Sprintf(`{"type":"ack","device":"btn-1","seq":7,"by":"nurse-li","at":%d,"note":"in room 3"}`, at)
	sync(ack)
	expectReassure(t, cmds, 7, "acknowledged")
	tl := timeline()
	last := tl[len(tl)-1]
	if last.Action != alerting.ActAcknowledged || last.Actor != "operator:nurse-li" ||
		!strings.Contains(last.Note, "at box box-1 at 2026-11-30T02:13:00Z") || !strings.Contains(last.Note, "in room 3") {
		t.Fatalf("after the box's ack: %+v", last)
	}

	t.Run("a repeat changes nothing", func(t *testing.T) {
		sync(ack)
		if again := timeline(); len(again) != len(tl) {
			t.Fatalf("timeline grew from %d to %d entries on a repeat", len(tl), len(again))
		}
	})
	t.Run("an action central passed is a note", func(t *testing.T) {
		if code := op.Do("POST", "/api/v1/alarms/"+id+"/resolve", map[string]string{"outcome": "assisted"}, nil); code != 200 {
			t.Fatalf("resolve at central: HTTP %d", code)
		}
		sync(fmt.Sprintf(`{"type":"dispatch","device":"btn-1","seq":7,"by":"nurse-li","at":%d}`, at+1000))
		tl := timeline()
		last := tl[len(tl)-1]
		if last.Action != alerting.ActNote || !strings.Contains(last.Note, "dispatched at box box-1") ||
			!strings.Contains(last.Note, "already passed") {
			t.Fatalf("a dispatch after central resolved: %+v, want a note", last)
		}
	})
	t.Run("malformed is refused", func(t *testing.T) {
		before := len(timeline())
		// An MQTT 3 box hears no reason: it gets its PUBACK and the message
		// leaves its queue, as it can never apply.
		sync(`{"type":"ack","device":"btn-1"}`)
		if after := len(timeline()); after != before {
			t.Fatalf("timeline changed on a malformed sync")
		}
		if n := g.Metric(`anxin_rejections_total{reason="bad_field"}`); n < 1 {
			t.Fatalf("malformed sync not counted (%v)", n)
		}
	})
}
