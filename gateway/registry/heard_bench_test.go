package registry

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway/state"
)

// BenchmarkHeardParallel is the registry's share of every message:
// looking the device up (Get) and recording that it was heard with its
// readings (Heard), from many connections at once, each its own device,
// as telemetry from a fleet arrives (issue 16): 64 goroutines a CPU, as
// mochi runs one a connection. Its -mutexprofile shows the waiting.
func BenchmarkHeardParallel(b *testing.B) {
	db, err := state.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	r, err := NewRegistry(db)
	if err != nil {
		b.Fatal(err)
	}
	// Each goroutine is one connection with its own eight devices (an edge
	// box's or a bridge's): no two goroutines send for one device.
	const perConn, conns = 8, 64
	n := perConn * conns * runtime.GOMAXPROCS(0)
	batch := make([]Device, n)
	for i := range batch {
		batch[i] = Device{ID: fmt.Sprintf("band-%04d", i), Kind: "safety_band"}
	}
	if _, errs, err := r.AddBatch(batch, BatchOptions{By: "bench", Now: time.Now()}); err != nil || errs[0] != nil {
		b.Fatal(err, errs[0])
	}
	now := time.Now()
	tm := &devices.Telemetry{Fields: map[string]float64{devices.FieldBattery: 87, "hr": 72}}
	var next atomic.Int64
	for _, d := range batch { // each device's first message, apart
		r.Heard(d.ID, now, nil, tm)
	}
	b.ReportAllocs()
	b.SetParallelism(conns)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		base := perConn * int(next.Add(1)-1)
		for i := 0; pb.Next(); i++ {
			id := batch[base+i%perConn].ID
			if _, ok := r.Get(id); !ok {
				b.Fatal("device not found")
			}
			r.Heard(id, now, nil, tm)
		}
	})
}
