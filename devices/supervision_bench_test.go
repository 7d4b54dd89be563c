package devices

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkSupervisorHeardParallel: every message marks its device heard,
// from many connections at once (issue 16), while the supervision pass
// looks for silent devices now and then: 64 goroutines a CPU, as mochi
// runs one a connection. Its -mutexprofile shows the waiting.
func BenchmarkSupervisorHeardParallel(b *testing.B) {
	s := NewSupervisor()
	t0 := time.Now()
	// Each goroutine is one connection with its own eight devices (an edge
	// box's or a bridge's): no two goroutines send for one device.
	const perConn, conns = 8, 64
	n := perConn * conns * runtime.GOMAXPROCS(0)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("band-%04d", i)
		s.Track(ids[i], time.Hour, t0, false)
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(conns)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		base := perConn * int(next.Add(1)-1)
		for i := 0; pb.Next(); i++ {
			at := t0.Add(time.Duration(i) * time.Millisecond)
			if s.Heard(ids[base+i%perConn], at) {
				b.Fatal("restored a device never offline")
			}
			if base == 0 && i%1000 == 0 { // one supervision pass at a time
				s.Silent(at)
			}
		}
	})
}
