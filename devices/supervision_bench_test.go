package devices

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkSupervisorHeardParallel: every message marks its device heard,
// from many connections at once (issue 16), while the supervision pass
// looks for silent devices now and then. Run it with -cpu 2,8.
func BenchmarkSupervisorHeardParallel(b *testing.B) {
	s := NewSupervisor()
	t0 := time.Now()
	const n = 1000
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("band-%04d", i)
		s.Track(ids[i], time.Hour, t0, false)
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		base := int(next.Add(97))
		for i := 0; pb.Next(); i++ {
			at := t0.Add(time.Duration(i) * time.Millisecond)
			if s.Heard(ids[(base+i)%n], at) {
				b.Fatal("restored a device never offline")
			}
			if i%10000 == 0 {
				s.Silent(at)
			}
		}
	})
}
