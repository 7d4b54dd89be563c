package firmwaresim

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestStateReaches(t *testing.T) {
	tests := []struct {
		got, want State
		reaches   bool
	}{
		{StateReceived, StateReceived, true},
		{StateAcknowledged, StateReceived, true},
		{StateReceived, StateAcknowledged, false},
		{StateResolved, StateOnTheWay, true},
		{StateCancelled, StateAcknowledged, true},
		{"paused", StateReceived, false},
		{"paused", "paused", true},
	}
	for _, tt := range tests {
		t.Run(string(tt.got)+"→"+string(tt.want), func(t *testing.T) {
			if got := tt.got.reaches(tt.want); got != tt.reaches {
				t.Errorf("%s reaches %s = %v, want %v", tt.got, tt.want, got, tt.reaches)
			}
		})
	}
}

func TestDecodeCommand(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    Command
		wantErr bool
	}{
		{name: "reassure", payload: `{"type":"reassure","seq":42,"alarm":"A-7","state":"received"}`,
			want: Command{Type: "reassure", Reassurance: Reassurance{Seq: 42, Alarm: "A-7", State: StateReceived}}},
		{name: "config", payload: `{"type":"config","heartbeat_s":60}`, want: Command{Type: "config", HeartbeatS: 60}},
		{name: "silence", payload: `{"type":"silence"}`, want: Command{Type: "silence"}},
		{name: "newer gateway's command", payload: `{"type":"locate","beep":3}`, want: Command{Type: "locate"}},
		{name: "reassure without seq", payload: `{"type":"reassure","state":"received"}`, wantErr: true},
		{name: "not json", payload: `received`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeCommand([]byte(tt.payload), time.Time{})
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			got.Raw = nil
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestTrackerWait(t *testing.T) {
	tr := newTracker()
	pressed := time.Now()
	tr.pressed(7, "call.press", pressed)

	done := make(chan Reassurance)
	go func() {
		r, _ := tr.wait(context.Background(), 7, StateAcknowledged)
		done <- r
	}()
	tr.record(Reassurance{Seq: 7, State: StateReceived, At: pressed.Add(time.Millisecond)})
	tr.record(Reassurance{Seq: 7, State: StateOnTheWay, At: pressed.Add(time.Second)})
	if r := <-done; r.State != StateOnTheWay || r.RTT != time.Second {
		t.Errorf("waiter got %+v, want on_the_way after 1s (acknowledged was skipped)", r)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tr.wait(ctx, 8, StateReceived); !errors.Is(err, ErrTimeout) {
		t.Errorf("wait on a cancelled context: error = %v, want ErrTimeout", err)
	}
}

func TestTrackerForgetsOldest(t *testing.T) {
	tr := newTracker()
	for seq := uint64(1); seq <= maxTracked+1; seq++ {
		tr.pressed(seq, "call.press", time.Now())
	}
	if _, ok := tr.bySeq[1]; ok {
		t.Error("seq 1 is still tracked past the bound")
	}
	if len(tr.bySeq) != maxTracked {
		t.Errorf("tracking %d seqs, want %d", len(tr.bySeq), maxTracked)
	}
}
