package devices

import (
	"testing"
	"time"
)

func TestSupervisionWindows(t *testing.T) {
	tests := []struct {
		class string
		kind  Kind
		want  time.Duration
	}{
		{"", KindCallButton, 3 * time.Minute},
		{ClassNative, KindSafetyBand, 3 * time.Minute},
		{ClassZigbeeBattery, KindSmokeDetector, 25 * time.Hour},
		{ClassZigbeeMains, KindGasDetector, 10 * time.Minute},
	}
	for _, tt := range tests {
		if got, err := SupervisionWindow(tt.class, tt.kind); err != nil || got != tt.want {
			t.Errorf("SupervisionWindow(%q, %s) = %s, %v; want %s", tt.class, tt.kind, got, err, tt.want)
		}
	}
	if _, err := SupervisionWindow("psychic", KindCallButton); err == nil {
		t.Error("unknown class accepted")
	}
}

func TestSupervisorSilenceAndRestore(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	s := NewSupervisor()
	s.Track("btn-1", 3*time.Minute, t0, false)
	s.Track("smk-1", 25*time.Hour, t0, false)

	if got := s.Silent(t0.Add(3 * time.Minute)); len(got) != 0 {
		t.Fatalf("silent at exactly the window: %v", got)
	}
	s.Heard("btn-1", t0.Add(2*time.Minute))
	if got := s.Silent(t0.Add(5 * time.Minute)); len(got) != 0 {
		t.Fatalf("heard at +2m, silent at +5m: %v", got)
	}
	got := s.Silent(t0.Add(5*time.Minute + time.Second))
	if len(got) != 1 || got[0].Device != "btn-1" || !got[0].LastSeen.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("silent = %+v, want btn-1 last seen at +2m", got)
	}
	if again := s.Silent(t0.Add(time.Hour)); len(again) != 0 {
		t.Fatalf("a silence is reported once, got %v again", again)
	}
	if !s.Heard("btn-1", t0.Add(time.Hour)) {
		t.Fatal("traffic from an offline device must restore it")
	}
	if s.Heard("btn-1", t0.Add(time.Hour+time.Second)) {
		t.Fatal("restored twice")
	}
	if got := s.Silent(t0.Add(25*time.Hour + time.Second)); len(got) != 2 {
		t.Fatalf("after 25 h both are silent, got %v", got)
	}
	// Known offline at start (its alarm is open): the first word restores it.
	s.Track("gas-1", 10*time.Minute, t0, true)
	if !s.Heard("gas-1", t0.Add(time.Second)) {
		t.Fatal("a device tracked as offline was not restored by its first message")
	}
}

func TestBatteryHysteresis(t *testing.T) {
	s := NewSupervisor()
	s.Track("band-1", time.Minute, time.Now(), false)
	readings := []struct {
		level float64
		low   bool
	}{{50, false}, {20, false}, {15, true}, {14, false}, {18, false}, {20, false}, {14, false}, {30, false}, {15, true}}
	for i, r := range readings {
		if got := s.Battery("band-1", r.level, 15); got != r.low {
			t.Fatalf("reading %d (%v%%): low = %v, want %v", i, r.level, got, r.low)
		}
	}
}

// TestSupervisorUndo: when the alarm a report triggered could not be
// stored, Undo puts the device back so that the report comes again.
func TestSupervisorUndo(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	s := NewSupervisor()
	s.Track("btn-1", 3*time.Minute, t0, false)
	if got := s.Silent(t0.Add(4 * time.Minute)); len(got) != 1 {
		t.Fatalf("silent: %v", got)
	}
	s.UndoSilent("btn-1") // the offline alarm was refused
	if got := s.Silent(t0.Add(4*time.Minute + 5*time.Second)); len(got) != 1 || !got[0].LastSeen.Equal(t0) {
		t.Fatalf("after a refused offline alarm the next pass reports %v, want btn-1 last seen at t0", got)
	}
	if !s.Heard("btn-1", t0.Add(5*time.Minute)) {
		t.Fatal("not restored")
	}
	s.UndoHeard("btn-1") // closing the offline alarm was refused
	if !s.Heard("btn-1", t0.Add(5*time.Minute+time.Second)) {
		t.Fatal("after a refused close the next message does not restore the device again")
	}
	if !s.Battery("btn-1", 10, 15) {
		t.Fatal("battery not low")
	}
	s.UndoBattery("btn-1") // the low-battery alarm was refused
	if !s.Battery("btn-1", 10, 15) {
		t.Fatal("after a refused low-battery alarm the next reading does not report it again")
	}
}

// TestSupervisorOnElapsedIgnoresClockJumps: with a clock that never jumps,
// a wall clock put right by a year either way between two messages neither
// calls the device offline at once nor keeps it online for a year: it is
// offline one window after it was last heard, by elapsed time.
func TestSupervisorOnElapsedIgnoresClockJumps(t *testing.T) {
	const year = 365 * 24 * time.Hour
	for _, jump := range []time.Duration{year, -year} {
		t.Run(jump.String(), func(t *testing.T) {
			var mono time.Duration
			wall := time.Date(2025, 11, 23, 0, 0, 0, 0, time.UTC)
			advance := func(d time.Duration) { mono += d; wall = wall.Add(d) }
			s := NewSupervisorOn(func() time.Duration { return mono })
			s.Track("btn-1", 3*time.Minute, wall, false)
			advance(time.Minute)
			s.Heard("btn-1", wall)
			advance(30 * time.Second)
			wall = wall.Add(jump)
			advance(2*time.Minute + 29*time.Second)
			if got := s.Silent(wall); len(got) != 0 {
				t.Fatalf("silent 2m59s after it was last heard: %+v", got)
			}
			advance(2 * time.Second)
			got := s.Silent(wall)
			if len(got) != 1 || got[0].Device != "btn-1" {
				t.Fatalf("silent = %+v, want btn-1 3m01s after it was last heard", got)
			}
			if want := wall.Add(-3*time.Minute - time.Second); !got[0].LastSeen.Equal(want) {
				t.Errorf("last seen %s, want %s (in the corrected frame)", got[0].LastSeen, want)
			}
		})
	}
}
