package httpapi

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestHashGate: one hash at a time, a bounded queue behind it; a login
// past the queue, or waiting too long, is told the gateway is busy.
func TestHashGate(t *testing.T) {
	h := newHashGate(1, 1, 200*time.Millisecond)
	release, running := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() { first <- h.do(context.Background(), func() { close(running); <-release }) }()
	<-running
	second := make(chan error, 1)
	go func() { second <- h.do(context.Background(), func() {}) }()
	for h.waiting.Load() != 1 {
		time.Sleep(time.Millisecond)
	}
	if err := h.do(context.Background(), func() { t.Error("a third hash ran while the queue was full") }); !errors.Is(err, errLoginBusy) {
		t.Fatalf("third login: %v, want errLoginBusy", err)
	}
	if err := <-second; !errors.Is(err, errLoginBusy) {
		t.Fatalf("a login that waited past maxWait: %v, want errLoginBusy", err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := h.do(context.Background(), func() {}); err != nil {
		t.Fatalf("after the queue drained: %v", err)
	}
}

// TestBackoffTableStaysBounded: guessing ever new names never grows a
// throttle table past loginTracked.
func TestBackoffTableStaysBounded(t *testing.T) {
	b := newBackoff(5)
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for i := range loginTracked + 500 {
		b.fail(fmt.Sprintf("user%d", i), now)
	}
	if n := len(b.m); n > loginTracked {
		t.Fatalf("%d entries, the bound is %d", n, loginTracked)
	}
}
