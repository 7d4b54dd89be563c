package edge

import (
	"context"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

// pressLog records a button's reports with their times.
type pressLog struct {
	mu     sync.Mutex
	events []string
	at     []time.Time
	ch     chan string
}

func (l *pressLog) add(what string) {
	l.mu.Lock()
	l.events = append(l.events, what)
	l.at = append(l.at, time.Now())
	l.mu.Unlock()
	l.ch <- what
}

func (l *pressLog) next(t *testing.T, within time.Duration) (string, time.Time) {
	t.Helper()
	select {
	case what := <-l.ch:
		l.mu.Lock()
		defer l.mu.Unlock()
		return what, l.at[len(l.events)-1]
	case <-time.After(within):
		t.Fatalf("no button report within %s", within)
		return "", time.Time{}
	}
}

// startButton watches a gpiotest pin (edges fed through EdgesChan, which
// its WaitForEdge consumes and applies to its level) with a 40 ms debounce
// window and a 600 ms long press.
func startButton(t *testing.T) (*gpiotest.Pin, *pressLog) {
	t.Helper()
	pin := &gpiotest.Pin{N: "GPIO17", Num: 17, EdgesChan: make(chan gpio.Level, 64)}
	if err := pin.In(gpio.PullUp, gpio.BothEdges); err != nil {
		t.Fatal(err)
	}
	log := &pressLog{ch: make(chan string, 16)}
	b := &button{pin: pin, debounce: 40 * time.Millisecond, longPress: 600 * time.Millisecond,
		onPress: func() { log.add("press") }, onLong: func() { log.add("long") }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); b.run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return pin, log
}

// TestButton: a falling edge that holds is a press, reported once it has
// held for the debounce window; a bounce shorter than the window is no
// press; a press held past long_press is reported again as a long press.
func TestButton(t *testing.T) {
	t.Run("press", func(t *testing.T) {
		pin, log := startButton(t)
		sent := time.Now()
		pin.EdgesChan <- gpio.Low
		what, at := log.next(t, 2*time.Second)
		if what != "press" || at.Sub(sent) < 40*time.Millisecond {
			t.Fatalf("got %s %s after the edge; want a press after the 40ms window", what, at.Sub(sent))
		}
		pin.EdgesChan <- gpio.High // released well before the long press
		// The next report is of the next press, not a long press of this one.
		time.Sleep(100 * time.Millisecond) // let the release settle before the next press
		pin.EdgesChan <- gpio.Low
		if what, _ := log.next(t, 2*time.Second); what != "press" {
			t.Fatalf("after a release and a new press got %q, want press", what)
		}
	})
	t.Run("bounce shorter than the window is ignored", func(t *testing.T) {
		pin, log := startButton(t)
		for range 3 { // contact bounce: low and back within a few ms
			pin.EdgesChan <- gpio.Low
			pin.EdgesChan <- gpio.High
		}
		// Then a real press: it must be the first report.
		time.Sleep(100 * time.Millisecond) // let the bounce settle high before the real press
		sent := time.Now()
		pin.EdgesChan <- gpio.Low
		what, at := log.next(t, 2*time.Second)
		if what != "press" || at.Before(sent) {
			t.Fatalf("first report %q at %s relative to the real press: the bounce counted", what, at.Sub(sent))
		}
		pin.EdgesChan <- gpio.High
	})
	t.Run("long press cancels", func(t *testing.T) {
		pin, log := startButton(t)
		sent := time.Now()
		pin.EdgesChan <- gpio.Low
		if what, _ := log.next(t, 2*time.Second); what != "press" {
			t.Fatalf("got %q, want press first", what)
		}
		what, at := log.next(t, 3*time.Second)
		if what != "long" || at.Sub(sent) < 600*time.Millisecond {
			t.Fatalf("got %q after %s, want a long press after 600ms", what, at.Sub(sent))
		}
		pin.EdgesChan <- gpio.High
	})
}
