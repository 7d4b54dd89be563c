package edge

import (
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

// fakePanel is an indicator on gpiotest output pins and a fake clock whose
// wall time starts a year behind, as a Pi without a real-time clock boots.
func fakePanel(t *testing.T) (*indicator, *FakeClock, *gpiotest.Pin, *gpiotest.Pin) {
	t.Helper()
	clock := NewFakeClock(time.Date(2025, 11, 30, 8, 0, 0, 0, time.UTC))
	ledPin := &gpiotest.Pin{N: "GPIO27", Num: 27}
	buzPin := &gpiotest.Pin{N: "GPIO18", Num: 18}
	led := &output{pin: ledPin, clock: clock}
	buz := &output{pin: buzPin, clock: clock}
	return newIndicator(led, buz, clock, 5*time.Second), clock, ledPin, buzPin
}

// TestLocalTimersRunOnTheMonotonicClock: a box that booted with its date a
// year off has a press waiting for central; NTP then corrects the date by
// a jump (forward or back). The "not yet delivered" timer fires neither
// early (a year forward would make every wall deadline past) nor never (a
// year back would put it a year away): it fires 5 s after the press.
func TestLocalTimersRunOnTheMonotonicClock(t *testing.T) {
	for _, tc := range []struct {
		name string
		jump time.Duration
	}{
		{"date corrected a year forward", 365 * 24 * time.Hour},
		{"date corrected a year back", -365 * 24 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ind, clock, _, _ := fakePanel(t)
			ind.uplink(false)
			ind.pressed("btn-1")
			clock.Advance(2 * time.Second)
			clock.SetWall(clock.Wall().Add(tc.jump))
			clock.Advance(2900 * time.Millisecond)
			if led, _ := ind.shown(); led != "raised" {
				t.Fatalf("4.9 s after the press, after the date jump: LED %q, want raised (fired early)", led)
			}
			clock.Advance(100 * time.Millisecond)
			if led, _ := ind.shown(); led != "not_delivered" {
				t.Fatalf("5 s after the press: LED %q, want not_delivered (timer missed)", led)
			}
		})
	}
}

// TestLEDPatternOnThePin: the pin follows the pattern's steps in time.
func TestLEDPatternOnThePin(t *testing.T) {
	ind, clock, ledPin, _ := fakePanel(t)
	ind.uplink(true)
	ind.pressed("btn-1")
	clock.Advance(5 * time.Second) // not delivered: on 100, off 100, on 100, off 700
	want := []gpio.Level{gpio.High, gpio.Low, gpio.High, gpio.Low, gpio.Low, gpio.High}
	for i, w := range want {
		if got := ledPin.Read(); got != w {
			t.Fatalf("step %d (%s after the timer): pin %v, want %v", i, time.Duration(i)*100*time.Millisecond, got, w)
		}
		if i < 3 {
			clock.Advance(100 * time.Millisecond)
		} else if i == 3 {
			clock.Advance(600 * time.Millisecond)
		} else {
			clock.Advance(100 * time.Millisecond)
		}
	}
}

// TestIndicator: what the LED and the buzzer show as a call goes along and
// a detector sounds.
func TestIndicator(t *testing.T) {
	ind, clock, _, buzPin := fakePanel(t)
	step := func(what string, do func(), led, buzzer string) {
		t.Helper()
		do()
		if l, b := ind.shown(); l != led || b != buzzer {
			t.Fatalf("%s: LED %q buzzer %q, want %q %q", what, l, b, led, buzzer)
		}
	}
	step("uplink down, nothing open", func() {}, "uplink_lost", "silent")
	step("uplink up", func() { ind.uplink(true) }, "idle", "silent")
	step("press", func() { ind.pressed("btn-1") }, "raised", "chirp")
	step("the box's own engine stored it", func() { ind.callState("btn-1", "received", false) }, "raised", "chirp")
	step("central received it", func() { ind.callState("btn-1", "received", true) }, "received", "chirp")
	clock.Advance(10 * time.Second)
	step("no timer undoes central's answer", func() {}, "received", "chirp")
	step("acknowledged at central", func() { ind.callState("btn-1", "acknowledged", true) }, "acknowledged", "chirp")
	step("a late received does not go back", func() { ind.callState("btn-1", "received", true) }, "acknowledged", "chirp")
	step("on the way", func() { ind.callState("btn-1", "on_the_way", true) }, "on_the_way", "chirp")
	step("resolved", func() { ind.callState("btn-1", "resolved", true) }, "idle", "chirp")
	step("smoke in the room", func() { ind.hazard("smoke-1", true) }, "idle", "hazard")
	if buzPin.Read() != gpio.High {
		t.Fatal("smoke: the buzzer pin is not sounding at once")
	}
	step("smoke cleared", func() { ind.hazard("smoke-1", false) }, "idle", "silent")
	step("uplink lost", func() { ind.uplink(false) }, "uplink_lost", "silent")
}

// TestIndicatorShowsTheNeediestCall: with calls from several devices of
// the room open, the LED shows the one that most needs attention.
func TestIndicatorShowsTheNeediestCall(t *testing.T) {
	ind, clock, _, _ := fakePanel(t)
	ind.uplink(true)
	ind.pressed("btn-1")
	ind.callState("btn-1", "acknowledged", true)
	ind.pressed("cord-2")
	if led, _ := ind.shown(); led != "raised" {
		t.Fatalf("a new call beside an acknowledged one: LED %q, want raised", led)
	}
	clock.Advance(5 * time.Second)
	if led, _ := ind.shown(); led != "not_delivered" {
		t.Fatalf("the new call unconfirmed for 5 s: LED %q, want not_delivered", led)
	}
	ind.callState("cord-2", "received", true)
	if led, _ := ind.shown(); led != "received" {
		t.Fatalf("central has both: LED %q, want received (the less advanced)", led)
	}
	ind.callState("cord-2", "resolved", true)
	ind.callState("btn-1", "resolved", true)
	if led, _ := ind.shown(); led != "idle" {
		t.Fatalf("both resolved: LED %q, want idle", led)
	}
}
