package timeseries

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
)

// fakeClock is the injected clock of these tests; a day passes in seconds.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func openTest(t *testing.T, dir string, clock *fakeClock) *Embedded {
	t.Helper()
	e, err := OpenEmbedded(EmbeddedConfig{Dir: dir, Now: clock.Now}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func mustQuery(t *testing.T, s Store, q Query) []Sample {
	t.Helper()
	got, err := s.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("query %+v: %v", q, err)
	}
	return got
}

func fleetTags(devices int) []map[string]string {
	tags := make([]map[string]string, devices)
	for d := range tags {
		tags[d] = map[string]string{TagDevice: fmt.Sprintf("band-%04d", d), TagKind: "safety_band",
			TagCounty: "c1", TagTownship: fmt.Sprintf("t%d", d%10), TagVillage: fmt.Sprintf("v%02d", d%50),
			TagSite: fmt.Sprintf("home-%04d", d), TagResident: fmt.Sprintf("r-%04d", d)}
	}
	return tags
}

// fleetMinute is minute m of the fleet: each device reports once, spread over the minute.
func fleetMinute(tags []map[string]string, m int) []Point {
	pts := make([]Point, len(tags))
	at := t0.Add(time.Duration(m) * time.Minute)
	for d := range tags {
		pts[d] = Point{Measurement: Telemetry, Tags: tags[d], Time: at.Add(time.Duration(d*53) * time.Millisecond),
			Fields: map[string]float64{"battery": float64(100 - m/15), "hr": float64(60 + (d+m)%30),
				"spo2": 97, "rssi": float64(-50 - d%40)}}
	}
	return pts
}

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// fleetHeapBound is the documented bound (doc.go) of the embedded store's
// Go heap for a 1,000-device fleet; the measured figure is logged.
const fleetHeapBound = 24 << 20

// TestEmbeddedFleetDay: a 1,000-device fleet sends 4 readings a minute for
// 24 hours of compressed time. The store's heap stays within its bound,
// the day survives a restart, and it expires on its own afterwards.
func TestEmbeddedFleetDay(t *testing.T) {
	devices, minutes := 1000, 24*60
	if testing.Short() || raceEnabled {
		devices = 200 // the 1,000-device figure is measured without -short and -race
	}
	dir := t.TempDir()
	clock := &fakeClock{t: t0}
	before := heapInUse()
	e := openTest(t, dir, clock)
	tags := fleetTags(devices)

	start := time.Now()
	var peak uint64
	const perBatch = 10 // minutes of the fleet per Write, as Buffered batches under load
	for m := 0; m < minutes; m += perBatch {
		var batch []Point
		for i := m; i < m+perBatch; i++ {
			batch = append(batch, fleetMinute(tags, i)...)
		}
		clock.Set(t0.Add(time.Duration(m+perBatch) * time.Minute))
		if err := e.Write(context.Background(), batch...); err != nil {
			t.Fatal(err)
		}
		if m%(6*60) == 0 {
			peak = max(peak, heapInUse())
		}
	}
	elapsed := time.Since(start)
	heap := heapInUse() - min(before, heapInUse())
	disk, _ := e.DiskSize()
	t.Logf("%d devices × %d min × 4 fields: %d points in %v (%.0f points/s); heap held by the store %.1f MB, peak in-use %.1f MB; file %.0f MB",
		devices, minutes, devices*minutes, elapsed.Round(time.Millisecond), float64(devices*minutes)/elapsed.Seconds(),
		float64(heap)/(1<<20), float64(peak-min(before, peak))/(1<<20), float64(disk)/(1<<20))
	if heap > fleetHeapBound {
		t.Errorf("store holds %d MB of heap after a day of the fleet, bound is %d MB", heap>>20, fleetHeapBound>>20)
	}

	day := Query{Measurement: Telemetry, Tags: map[string]string{TagDevice: "band-0042"}, Field: "hr",
		Start: t0, End: t0.Add(24 * time.Hour), Every: time.Minute, Fn: Mean}
	qStart := time.Now()
	got := mustQuery(t, e, day)
	t.Logf("24 h of one device at 1-minute windows: %d samples in %v", len(got), time.Since(qStart))
	checkDeviceDay(t, "before restart", got)
	fleet := Query{Measurement: Telemetry, Field: "spo2", Start: t0, End: t0.Add(24 * time.Hour), Every: time.Hour, Fn: Count}
	qStart = time.Now()
	counts := mustQuery(t, e, fleet)
	t.Logf("24 h of the whole fleet at 1-hour windows: %d samples in %v", len(counts), time.Since(qStart))
	if len(counts) != 24 || counts[0].Value != float64(devices*60) || counts[23].Value != float64(devices*60) {
		t.Errorf("fleet hourly counts: %v, want 24 × %d", counts, devices*60)
	}

	// Restart: close and open the same directory.
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e = openTest(t, dir, clock)
	checkDeviceDay(t, "after restart", mustQuery(t, e, day))
	series, err := e.Series(context.Background(), Telemetry, t0)
	if err != nil || len(series) != devices {
		t.Errorf("series after restart: %d (%v), want %d", len(series), err, devices)
	}

	// Two more hours: the first hour's raw points age out, its rollups stay.
	clock.Set(t0.Add(26 * time.Hour))
	if err := e.expire(); err != nil {
		t.Fatal(err)
	}
	firstHour := Query{Measurement: Telemetry, Tags: map[string]string{TagDevice: "band-0042"}, Field: "hr",
		Start: t0, End: t0.Add(time.Hour)}
	if raw := mustQuery(t, e, firstHour); len(raw) != 0 {
		t.Errorf("raw points of hour 0 still there at 26 h: %d", len(raw))
	}
	firstHour.Every, firstHour.Fn = time.Minute, Mean
	if got := mustQuery(t, e, firstHour); len(got) != 60 {
		t.Errorf("rollups of hour 0 at 26 h: %d minutes, want 60", len(got))
	}

	// After the 7-day retention everything is gone, series included.
	clock.Set(t0.Add(DefaultRetention + 25*time.Hour))
	if err := e.expire(); err != nil {
		t.Fatal(err)
	}
	if got := mustQuery(t, e, fleet); len(got) != 0 {
		t.Errorf("data left after retention: %v", got)
	}
	if series, _ := e.Series(context.Background(), Telemetry, time.Time{}); len(series) != 0 {
		t.Errorf("%d series left after retention", len(series))
	}
}

func checkDeviceDay(t *testing.T, when string, got []Sample) {
	t.Helper()
	if len(got) != 24*60 {
		t.Fatalf("%s: %d minutes of band-0042, want %d", when, len(got), 24*60)
	}
	for m, s := range []int{0, 61, 1439} {
		want := float64(60 + (42+s)%30)
		if got[s].Value != want || !got[s].Time.Equal(t0.Add(time.Duration(s)*time.Minute)) {
			t.Errorf("%s: sample %d = %v, want %v at minute %d", when, m, got[s], want, s)
		}
	}
}

func TestEmbeddedSkipsWhatItCannotKeep(t *testing.T) {
	clock := &fakeClock{t: t0.Add(30 * 24 * time.Hour)}
	e, err := OpenEmbedded(EmbeddedConfig{Dir: t.TempDir(), Now: clock.Now, MaxSeries: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	now := clock.Now()
	p := func(dev string, at time.Time) Point {
		return Point{Measurement: Telemetry, Tags: map[string]string{TagDevice: dev}, Fields: map[string]float64{"hr": 1}, Time: at}
	}
	err = e.Write(context.Background(),
		p("a", now.Add(-DefaultRetention-time.Hour)), // older than the retention
		p("a", now.Add(25*time.Hour)),                // a device clock a day ahead
		p("a", now), p("b", now), p("c", now))        // c is one series too many
	if err != nil {
		t.Fatal(err)
	}
	series, _ := e.Series(context.Background(), Telemetry, time.Time{})
	if len(series) != 2 {
		t.Errorf("series: %v, want a and b only", series)
	}
	got := mustQuery(t, e, Query{Measurement: Telemetry, Field: "hr", Start: now.Add(-30 * 24 * time.Hour),
		End: now.Add(48 * time.Hour), Every: 24 * time.Hour, Fn: Count})
	if len(got) != 1 || got[0].Value != 2 {
		t.Errorf("stored points: %v, want 2", got)
	}
}

func TestEmbeddedLatePointUpdatesRollup(t *testing.T) {
	clock := &fakeClock{t: t0.Add(3 * time.Hour)}
	e := openTest(t, t.TempDir(), clock)
	tags := map[string]string{TagDevice: "d"}
	w := func(at time.Time, v float64) {
		t.Helper()
		if err := e.Write(context.Background(), Point{Measurement: Telemetry, Tags: tags, Fields: map[string]float64{"hr": v}, Time: at}); err != nil {
			t.Fatal(err)
		}
	}
	w(t0.Add(10*time.Second), 70)
	w(t0.Add(50*time.Second), 90)
	w(t0.Add(30*time.Second), 60) // arrives last, belongs in the middle
	q := Query{Measurement: Telemetry, Tags: tags, Field: "hr", Start: t0, End: t0.Add(time.Minute), Every: time.Minute}
	for fn, want := range map[Fn]float64{Mean: 220.0 / 3, Min: 60, Max: 90, Count: 3, Sum: 220, Last: 90} {
		q.Fn = fn
		got := mustQuery(t, e, q)
		if len(got) != 1 || got[0].Value != want {
			t.Errorf("%s: %v, want %v", fn, got, want)
		}
	}
}

func TestEmbeddedSecondOpenFails(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{t: t0}
	openTest(t, dir, clock)
	start := time.Now()
	if _, err := OpenEmbedded(EmbeddedConfig{Dir: dir, Now: clock.Now}, nil); err == nil {
		t.Fatal("second open of a locked store succeeded")
	} else if time.Since(start) > 5*time.Second {
		t.Errorf("second open took %v to fail", time.Since(start))
	}
}

func TestEmbeddedClosed(t *testing.T) {
	e := openTest(t, t.TempDir(), &fakeClock{t: t0})
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	p := Point{Measurement: Telemetry, Fields: map[string]float64{"hr": 1}, Time: t0}
	if err := e.Write(context.Background(), p); err != ErrClosed {
		t.Errorf("write after close: %v, want ErrClosed", err)
	}
	if _, err := e.Query(context.Background(), Query{Measurement: Telemetry, Field: "hr", Start: t0, End: t0.Add(time.Hour)}); err == nil {
		t.Error("query after close succeeded")
	}
}
