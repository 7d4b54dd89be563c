package versus

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/anxin-care/anxin/devices"
	firmwaresim "github.com/anxin-care/anxin/firmware-sim"
)

// Row is one measure on one server in one round.
type Row struct {
	Measure string
	Server  string
	Lat     []time.Duration // sorted; empty for measures that are one figure
	Value   float64         // the figure of a one-figure measure, in Unit
	Unit    string
	Lost    int
	Of      int     // what could have been lost
	CPU     float64 // seconds the server's processes used during the measure
	RSS     int64   // the server's resident memory at the measure's end
	Usage   bool    // CPU and RSS were measured (the tool started the server)
}

// usageWindow measures a server's CPU over a measure.
type usageWindow struct {
	pids  []int
	start procUsage
}

func beginUsage(srv server) usageWindow {
	u, _ := usageOf(srv.pids()...)
	return usageWindow{pids: srv.pids(), start: u}
}

func (w usageWindow) end(r *Row) {
	u, ok := usageOf(w.pids...)
	r.Usage = ok
	r.CPU, r.RSS = u.CPU-w.start.CPU, u.RSS
}

func runMeasure(ctx context.Context, m string, s *side, o Options, src *sources, prog *progress) ([]Row, error) {
	switch m {
	case MeasurePress:
		return measurePress(ctx, s, o, src, prog)
	case MeasureCeiling:
		r, err := measureCeiling(ctx, s, o, src, prog)
		return []Row{r}, err
	case MeasureIdle:
		r, err := measureIdle(ctx, s, o, src, prog)
		return []Row{r}, err
	case MeasureStorm:
		r, err := measureStorm(ctx, s, o, src, prog)
		return []Row{r}, err
	case MeasureRestart:
		return measureRestart(ctx, s, o, src, prog)
	}
	return nil, fmt.Errorf("unknown measure %q", m)
}

// measurePress presses at PressRate over PressDevices for Duration with
// TelemetryRate msg/s from TelemetryDevices other devices behind, and
// measures each press to its "received" and to the operator's stream.
func measurePress(ctx context.Context, s *side, o Options, src *sources, prog *progress) ([]Row, error) {
	fleet, err := fleetDevices(s.creds["press"], s.srv.broker(), s.state, src, o.Logger)
	if err != nil {
		return nil, err
	}
	if err := connectAll(ctx, fleet); err != nil {
		return nil, err
	}
	defer closeAll(fleet)
	var tele *telemetryLoad
	if o.TelemetryRate > 0 && o.TelemetryDevices > 0 {
		if tele, err = startTelemetry(ctx, s.creds["telemetry"], s.srv.broker(), src); err != nil {
			return nil, err
		}
		defer tele.close()
		tele.setRate(o.TelemetryRate)
	}
	sctx, stopStream := context.WithCancel(ctx)
	defer stopStream()
	watch := newStreamWatch()
	if err := s.srv.operatorStream(sctx, watch.seen); err != nil {
		return nil, err
	}
	time.Sleep(500 * time.Millisecond) // the telemetry reaches its rate first
	use := beginUsage(s.srv)
	res := pressSchedule(ctx, fleet, o.PressRate, o.Duration, o.Timeout, watch, prog)
	// Stream frames of the last presses may still be on their way.
	deadline := time.Now().Add(o.Timeout)
	for watch.remaining() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	label := fmt.Sprintf("%.0f presses/s, %.0f telemetry/s behind", o.PressRate, o.TelemetryRate)
	// The figure is the rate the presses were actually issued at: below
	// the target, this machine's load generator could not keep up.
	recv := Row{Measure: "press → received, " + label, Server: s.srv.name(), Lat: res.sorted(), Lost: res.lost, Of: res.issued,
		Unit: "presses/s", Value: float64(res.issued) / max(res.window, time.Second/time.Duration(max(o.PressRate, 1))).Seconds()}
	use.end(&recv)
	expected, shown := watch.shown()
	stream := Row{Measure: "press → operator stream, " + label, Server: s.srv.name(), Lat: watch.got.sorted(),
		Of: expected, Lost: expected - shown}
	stream.CPU, stream.RSS, stream.Usage = recv.CPU, recv.RSS, recv.Usage
	return []Row{recv, stream}, nil
}

// measureCeiling doubles the telemetry rate from CeilingStart until the
// server loses a message (anxin: not counted as decoded; Mosquitto: not
// relayed to the subscriber) and reports the last achieved rate without
// loss. Each step runs Duration and then waits up to 2 s for stragglers.
func measureCeiling(ctx context.Context, s *side, o Options, src *sources, prog *progress) (Row, error) {
	r := Row{Measure: fmt.Sprintf("telemetry ceiling with zero loss, %d devices", o.CeilingDevices), Server: s.srv.name(), Unit: "msg/s"}
	tele, err := startTelemetry(ctx, s.creds["ceiling"], s.srv.broker(), src)
	if err != nil {
		return r, err
	}
	defer tele.close()
	use := beginUsage(s.srv)
	for rate := o.CeilingStart; rate <= o.CeilingMax; rate *= 2 {
		before, err := s.srv.counted(ctx)
		if err != nil {
			return r, err
		}
		sent0 := tele.sent.Load()
		start := time.Now()
		tele.setRate(rate)
		time.Sleep(o.Duration)
		tele.setRate(0)
		elapsed := time.Since(start)
		sent := tele.sent.Load() - sent0
		var got float64
		for wait := time.Now().Add(2 * time.Second); ; {
			after, err := s.srv.counted(ctx)
			if err != nil {
				return r, err
			}
			if got = after - before; got >= float64(sent) || time.Now().After(wait) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		prog.issued.Add(sent)
		prog.received.Add(int64(got))
		// Loss and its total are the first lossy step's: the one above
		// the ceiling (0/0 when even CeilingMax lost nothing).
		if lost := int(float64(sent) - got); lost > 0 {
			r.Lost, r.Of = lost, int(sent)
			break
		}
		r.Value = float64(sent) / elapsed.Seconds()
	}
	use.end(&r)
	return r, nil
}

// measureIdle connects Idle devices that then heartbeat once a minute, and
// reports the server's RSS once they are all in.
func measureIdle(ctx context.Context, s *side, o Options, src *sources, prog *progress) (Row, error) {
	r := Row{Measure: fmt.Sprintf("RSS with %d idle devices", o.Idle), Server: s.srv.name(), Unit: "MiB"}
	use := beginUsage(s.srv)
	addr := s.srv.broker()[len("tcp://"):]
	f, err := connectIdle(ctx, s.creds["idle"], addr, src, prog)
	if err != nil {
		return r, err
	}
	time.Sleep(2 * time.Second) // let the server settle what each connection costs
	use.end(&r)
	r.Value = float64(r.RSS) / (1 << 20)
	r.Of = o.Idle
	f.close()
	return r, nil
}

// measureStorm has every device of a building press within one second and
// measures each to its "received"; then they all cancel.
func measureStorm(ctx context.Context, s *side, o Options, src *sources, prog *progress) (Row, error) {
	r := Row{Measure: fmt.Sprintf("alarm storm, %d devices within 1 s", o.Storm), Server: s.srv.name()}
	fleet, err := fleetDevices(s.creds["storm"], s.srv.broker(), s.state, src, o.Logger)
	if err != nil {
		return r, err
	}
	if err := connectAll(ctx, fleet); err != nil {
		return r, err
	}
	defer closeAll(fleet)
	use := beginUsage(s.srv)
	res := pressSchedule(ctx, fleet, float64(len(fleet)), time.Second, o.Timeout, nil, prog)
	use.end(&r)
	r.Lat, r.Lost, r.Of = res.sorted(), res.lost, res.issued
	return r, nil
}

// measureRestart opens OpenAlarms alarms, restarts the server and times it
// to ready and to the first press answered, both from the new process's
// start. Afterwards the alarms are cancelled again.
func measureRestart(ctx context.Context, s *side, o Options, src *sources, prog *progress) ([]Row, error) {
	label := fmt.Sprintf("restart with %d open alarms", o.OpenAlarms)
	ready := Row{Measure: label + " → ready", Server: s.srv.name(), Unit: "ms"}
	first := Row{Measure: label + " → first press answered", Server: s.srv.name(), Unit: "ms"}
	open, err := fleetDevices(s.creds["open"], s.srv.broker(), s.state, src, o.Logger)
	if err != nil {
		return nil, err
	}
	if err := connectAll(ctx, open); err != nil {
		return nil, err
	}
	seqs := make([]uint64, len(open))
	err = parallel(len(open), 32, func(i int) error {
		pctx, cancel := context.WithTimeout(ctx, o.Timeout)
		defer cancel()
		sent, err := open[i].Press(pctx, devices.CallPress)
		if err == nil {
			_, err = open[i].Wait(pctx, sent.Seq, firmwaresim.StateReceived)
		}
		seqs[i] = sent.Seq
		prog.issued.Add(1)
		return err
	})
	closeAll(open)
	if err != nil {
		return nil, fmt.Errorf("open alarms: %w", err)
	}
	dev, err := fleetDevices(s.creds["first"], s.srv.broker(), filepath.Join(s.state, "first"), src, o.Logger)
	if err != nil {
		return nil, err
	}
	firstAt := make(chan time.Time, 1)
	startedAt, readyAt, err := s.srv.restart(ctx, func() {
		go func() { firstAt <- firstPress(ctx, dev[0], o.Timeout*4) }()
	})
	if err != nil {
		return nil, err
	}
	answered := <-firstAt
	_ = dev[0].Close(context.Background())
	// A new process: all the CPU it has used so far counts.
	usageWindow{pids: s.srv.pids()}.end(&ready)
	first.CPU, first.RSS, first.Usage = ready.CPU, ready.RSS, ready.Usage
	ready.Value, ready.Of = float64(readyAt.Sub(startedAt))/float64(time.Millisecond), 1
	first.Of = 1
	if answered.IsZero() {
		first.Lost = 1
	} else {
		first.Value = float64(answered.Sub(startedAt)) / float64(time.Millisecond)
	}
	// Cancel the open alarms, so the next round starts as this one did.
	if err := connectAll(ctx, open); err != nil {
		return nil, err
	}
	defer closeAll(open)
	_ = parallel(len(open), 32, func(i int) error {
		pctx, cancel := context.WithTimeout(ctx, o.Timeout)
		defer cancel()
		_, err := open[i].Press(pctx, devices.CallCancel)
		return err
	})
	return []Row{ready, first}, nil
}

// firstPress connects as soon as the server accepts and presses; a press
// not answered within rePress is pressed again, as an elder would, only
// sooner (Mosquitto drops a press made before the responder has
// subscribed; rePress is the resolution of that figure). It
// returns when a press was answered, or zero after timeout.
const rePress = 100 * time.Millisecond

func firstPress(ctx context.Context, d *firmwaresim.Device, timeout time.Duration) time.Time {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for d.Connect(ctx) != nil {
		if !sleepUntil(ctx, time.Now().Add(2*time.Millisecond)) {
			return time.Time{}
		}
	}
	for ctx.Err() == nil {
		sent, err := d.Press(ctx, devices.CallPress)
		if err != nil {
			return time.Time{}
		}
		wctx, wcancel := context.WithTimeout(ctx, rePress)
		r, err := d.Wait(wctx, sent.Seq, firmwaresim.StateReceived)
		wcancel()
		if err == nil {
			// Cancel it, so that this alarm does not stay open either.
			_, _ = d.Press(ctx, devices.CallCancel)
			return r.At
		}
	}
	return time.Time{}
}
