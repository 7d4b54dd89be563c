package firmwaresim

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/firmware-sim/scenario"
)

// ScenarioOptions replays a scenario script on a fleet.
type ScenarioOptions struct {
	Broker    string
	Fleet     []FleetDevice
	Passwords []Credentials // from the import; every fleet device needs one
	Script    scenario.Script
	// Heartbeat overrides each kind's heartbeat (a demo may want one a few
	// seconds); zero keeps the kinds' own.
	Heartbeat  time.Duration
	Timeout    time.Duration // a press without "received" this long is lost; default DefaultBenchTimeout
	StateDir   string
	SeqReserve int
	// SourceIPs spreads the fleet over 127.0.0.1 … 127.0.0.N when the
	// broker is on loopback; 0 or 1 lets the kernel choose.
	SourceIPs       int
	ConnectParallel int
	TLS             *tls.Config
	Logger          *slog.Logger
	Progress        io.Writer // one line a second; nil for none
}

// StepResult is what one event step of the script did.
type StepResult struct {
	Step    scenario.Step
	Device  string
	Seq     uint64
	Latency time.Duration // press to "received"
	Err     error
}

// ScenarioResult is what a replay measured.
type ScenarioResult struct {
	Devices       int
	Steps         []StepResult // the event steps, in script order
	Presses       BenchResult  // the press-rate and storm presses
	TelemetrySent int64
}

// WriteReport prints the result for a person.
func (r ScenarioResult) WriteReport(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "scenario: %d devices\n", r.Devices)
	for _, s := range r.Steps {
		if s.Err != nil {
			fmt.Fprintf(&b, "line %d %s → %s: %v\n", s.Step.Line, s.Step, s.Device, s.Err)
			continue
		}
		fmt.Fprintf(&b, "line %d %s → %s seq %d received in %s\n", s.Step.Line, s.Step, s.Device, s.Seq, ms(s.Latency))
	}
	p := r.Presses
	if p.Issued > 0 {
		fmt.Fprintf(&b, "presses: %d issued, %d received, %d lost; press → received p50 %s  p95 %s  p99 %s  max %s\n",
			p.Issued, p.Received, p.Lost(), ms(p.Quantile(0.5)), ms(p.Quantile(0.95)), ms(p.Quantile(0.99)), ms(p.Quantile(1)))
	}
	fmt.Fprintf(&b, "telemetry sent: %d\n", r.TelemetrySent)
	_, err := io.WriteString(w, b.String())
	return err
}

// Lost counts event steps and presses that got no "received".
func (r ScenarioResult) Lost() int {
	n := r.Presses.Lost()
	for _, s := range r.Steps {
		if s.Err != nil {
			n++
		}
	}
	return n
}

// eventOf maps a script's event action to what the device reports.
var eventOf = map[scenario.Action]devices.EventType{
	scenario.ActionPress: devices.CallPress, scenario.ActionPullcord: devices.CallPullcord,
	scenario.ActionSmoke: devices.SmokeAlarm, scenario.ActionGas: devices.GasAlarm,
	scenario.ActionFall: devices.BandFall, scenario.ActionSOS: devices.BandSOS, scenario.ActionBedExit: devices.BedExit,
}

// resolved is a step with the devices it acts on.
type resolved struct {
	step  scenario.Step
	devs  []*Device
	event devices.EventType
}

// RunScenario connects the fleet (realistic firmware: jittered heartbeats,
// battery drain, band vitals with a day/night rhythm, reconnection with
// backoff, seqs kept in StateDir), replays the script on it and reports
// each step. Every target is resolved before anything connects, so a
// script that names nothing in the fleet fails at once, naming its line.
func RunScenario(ctx context.Context, o ScenarioOptions) (ScenarioResult, error) {
	if o.Timeout == 0 {
		o.Timeout = DefaultBenchTimeout
	}
	o.SeqReserve = cmp0(o.SeqReserve, DefaultBenchSeqReserve)
	o.ConnectParallel = cmp0(o.ConnectParallel, DefaultConnectParallel)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if err := validateBroker(o.Broker); err != nil {
		return ScenarioResult{}, err
	}
	fleet, err := o.devices()
	if err != nil {
		return ScenarioResult{}, err
	}
	steps, err := resolveSteps(o.Script, o.Fleet, fleet)
	if err != nil {
		return ScenarioResult{}, err
	}
	res := ScenarioResult{Devices: len(fleet)}
	errs := make([]error, len(fleet))
	forEach(fleet, o.ConnectParallel, func(i int, d *Device) { errs[i] = d.Connect(ctx) })
	defer closeFleet(fleet, o.ConnectParallel)
	for i, err := range errs {
		if err != nil {
			return res, fmt.Errorf("connect %s: %w", fleet[i].ID(), err)
		}
	}
	r := &replay{o: o, fleet: fleet, res: &res}
	for _, d := range fleet {
		if profileOf(d.Kind()).primary == devices.CallPress || profileOf(d.Kind()).primary == devices.CallPullcord {
			r.callers = append(r.callers, d)
		}
	}
	return r.run(ctx, steps)
}

// devices builds a Device for every fleet row, with its password.
func (o ScenarioOptions) devices() ([]*Device, error) {
	pw := make(map[string]string, len(o.Passwords))
	for _, c := range o.Passwords {
		pw[c.ID] = c.Password
	}
	var ips []net.IP
	if u, err := url.Parse(o.Broker); err == nil && strings.HasPrefix(u.Hostname(), "127.") && o.SourceIPs > 1 {
		for i := range min(o.SourceIPs, 254) {
			ips = append(ips, net.IPv4(127, 0, 0, byte(i+1)))
		}
	}
	out := make([]*Device, len(o.Fleet))
	for i, f := range o.Fleet {
		p, ok := pw[f.ID]
		if !ok {
			return nil, fmt.Errorf("%w: device %s is in the fleet but has no password in the passwords file", ErrInvalidConfig, f.ID)
		}
		cfg := Config{ID: f.ID, Password: p, Broker: o.Broker, Kind: f.Kind, Heartbeat: o.Heartbeat,
			StateDir: o.StateDir, SeqReserve: o.SeqReserve, TLS: o.TLS, Logger: o.Logger}
		if len(ips) > 0 {
			cfg.SourceIP = ips[i%len(ips)]
		}
		d, err := New(cfg)
		if err != nil {
			return nil, err
		}
		out[i] = d
	}
	return out, nil
}

// resolveSteps finds each step's devices. A target is a device id, a site
// id, building/room, a building, or a room name found in one building.
func resolveSteps(sc scenario.Script, rows []FleetDevice, fleet []*Device) ([]resolved, error) {
	var out []resolved
	for _, st := range sc.Steps {
		r := resolved{step: st}
		if st.Target != "" {
			idx, err := matchTarget(st.Target, rows)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", st.Line, err)
			}
			for _, i := range idx {
				r.devs = append(r.devs, fleet[i])
			}
		}
		if ev, ok := eventOf[st.Action]; ok {
			r.event = ev
			i := slices.IndexFunc(r.devs, func(d *Device) bool { return slices.Contains(d.Events(), ev) })
			if i < 0 {
				return nil, fmt.Errorf("line %d: no device at %s can report %s", st.Line, st.Target, ev)
			}
			r.devs = r.devs[i : i+1]
		}
		out = append(out, r)
	}
	return out, nil
}

func matchTarget(t string, rows []FleetDevice) ([]int, error) {
	var byID, bySite, byBuilding, byRoom []int
	site := strings.Replace(t, "/", roomSep, 1)
	for i, d := range rows {
		switch {
		case d.ID == t:
			byID = append(byID, i)
		case d.Site == site:
			bySite = append(bySite, i)
		case d.Building() == t:
			byBuilding = append(byBuilding, i)
		case !strings.Contains(t, "/") && d.Room() == t:
			byRoom = append(byRoom, i)
		}
	}
	for _, m := range [][]int{byID, bySite, byBuilding} {
		if len(m) > 0 {
			return m, nil
		}
	}
	if len(byRoom) == 0 {
		return nil, fmt.Errorf("target %q is no device, site, building or room of the fleet", t)
	}
	buildings := map[string]bool{}
	for _, i := range byRoom {
		buildings[rows[i].Building()] = true
	}
	if len(buildings) > 1 {
		names := make([]string, 0, len(buildings))
		for b := range buildings {
			names = append(names, b+"/"+t)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("target %q is in %d buildings (%s…); name one as building/room", t, len(names), strings.Join(names[:min(3, len(names))], ", "))
	}
	return byRoom, nil
}

// replay is one run of a script.
type replay struct {
	o       ScenarioOptions
	fleet   []*Device
	callers []*Device
	res     *ScenarioResult
	mu      sync.Mutex
	wg      sync.WaitGroup

	pressRate, teleRate    atomic.Uint64 // float64 bits
	issued, received, lost atomic.Int64
	telemetry              atomic.Int64
}

func (r *replay) run(ctx context.Context, steps []resolved) (ScenarioResult, error) {
	start := time.Now()
	end := r.o.Script.End()
	bg, stopBG := context.WithCancel(ctx)
	var bgwg sync.WaitGroup
	bgwg.Go(func() { r.pressLoop(bg, start) })
	bgwg.Go(func() { r.telemetryLoop(bg) })
	if r.o.Progress != nil {
		bgwg.Go(func() { r.progressLoop(bg, start, end) })
	}
	for _, st := range steps {
		if !sleepCtx(ctx, time.Until(start.Add(st.step.At))) {
			break
		}
		r.do(ctx, st)
	}
	sleepCtx(ctx, time.Until(start.Add(end)))
	stopBG()
	bgwg.Wait()
	r.wg.Wait()
	for _, d := range r.fleet {
		d.LinkUp() // a drop longer than the script ends with it
	}
	r.res.TelemetrySent = r.telemetry.Load()
	slices.SortFunc(r.res.Steps, func(a, b StepResult) int { return a.Step.Line - b.Step.Line })
	slices.Sort(r.res.Presses.Latencies)
	if n := r.res.Lost(); n > 0 {
		return *r.res, fmt.Errorf("%d of the scenario's presses: %w", n, ErrLost)
	}
	return *r.res, ctx.Err()
}

func (r *replay) do(ctx context.Context, st resolved) {
	switch a := st.step.Action; {
	case st.event != "":
		d := st.devs[0]
		r.wg.Go(func() {
			res := StepResult{Step: st.step, Device: d.ID()}
			res.Seq, res.Latency, res.Err = r.press(ctx, d, st.event, time.Now())
			r.mu.Lock()
			r.res.Steps = append(r.res.Steps, res)
			r.mu.Unlock()
		})
	case a == scenario.ActionClear:
		for _, d := range st.devs {
			if ev := profileOf(d.Kind()).clear; ev != "" {
				r.wg.Go(func() {
					pctx, cancel := context.WithTimeout(ctx, r.o.Timeout)
					defer cancel()
					_, _ = d.Press(pctx, ev)
				})
			}
		}
	case a == scenario.ActionStorm:
		now := time.Now()
		for i, d := range st.devs {
			at := now.Add(time.Duration(i) * time.Second / time.Duration(len(st.devs)))
			r.wg.Go(func() {
				sleepCtx(ctx, time.Until(at))
				r.pressMeasured(ctx, d, profileOf(d.Kind()).primary, at)
			})
		}
	case a == scenario.ActionDrop:
		for _, d := range st.devs {
			d.LinkDown()
		}
		r.wg.Go(func() {
			sleepCtx(ctx, st.step.Duration)
			for _, d := range st.devs {
				d.LinkUp()
			}
		})
	case a == scenario.ActionPressAt:
		r.pressRate.Store(math.Float64bits(st.step.Rate))
	case a == scenario.ActionTeleAt:
		r.teleRate.Store(math.Float64bits(st.step.Rate))
	}
}

// press reports ev and waits for "received", counted from planned.
func (r *replay) press(ctx context.Context, d *Device, ev devices.EventType, planned time.Time) (uint64, time.Duration, error) {
	ctx, cancel := context.WithDeadline(ctx, planned.Add(r.o.Timeout))
	defer cancel()
	r.issued.Add(1)
	sent, err := d.Press(ctx, ev)
	if err == nil {
		var got Reassurance
		if got, err = d.Wait(ctx, sent.Seq, StateReceived); err == nil {
			r.received.Add(1)
			return sent.Seq, got.At.Sub(planned), nil
		}
	}
	r.lost.Add(1)
	return sent.Seq, 0, err
}

// pressMeasured presses and counts the outcome in Presses; a call is
// cancelled after its "received", so the next raises a new alarm.
func (r *replay) pressMeasured(ctx context.Context, d *Device, ev devices.EventType, planned time.Time) {
	_, lat, err := r.press(ctx, d, ev, planned)
	r.mu.Lock()
	p := &r.res.Presses
	p.Issued++
	if err != nil {
		p.TimedOut++
	} else {
		p.Received++
		p.Latencies = append(p.Latencies, lat)
	}
	r.mu.Unlock()
	if clear := profileOf(d.Kind()).clear; err == nil && clear != "" {
		cctx, cancel := context.WithTimeout(ctx, r.o.Timeout)
		defer cancel()
		_, _ = d.Press(cctx, clear)
	}
}

// pressLoop presses callers at the current press rate, open loop: the
// next press is due 1/rate after the previous one's due time.
func (r *replay) pressLoop(ctx context.Context, start time.Time) {
	next := start
	for i := 0; ; i++ {
		rate := math.Float64frombits(r.pressRate.Load())
		if rate <= 0 || len(r.callers) == 0 {
			if !sleepCtx(ctx, 10*time.Millisecond) {
				return
			}
			next = time.Now()
			continue
		}
		next = next.Add(time.Duration(float64(time.Second) / rate))
		if !sleepCtx(ctx, time.Until(next)) {
			return
		}
		d, at := r.callers[i%len(r.callers)], next
		r.wg.Go(func() { r.pressMeasured(context.WithoutCancel(ctx), d, profileOf(d.Kind()).primary, at) })
	}
}

// telemetryLoop sends extra readings at the current telemetry rate, from
// devices taken at random, on a 10 ms tick.
func (r *replay) telemetryLoop(ctx context.Context) {
	tk := time.NewTicker(10 * time.Millisecond)
	defer tk.Stop()
	owed, last := 0.0, time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tk.C:
			owed += math.Float64frombits(r.teleRate.Load()) * now.Sub(last).Seconds()
			last = now
			for ; owed >= 1; owed-- {
				if r.fleet[rand.IntN(len(r.fleet))].HeartbeatNow() {
					r.telemetry.Add(1)
				}
			}
		}
	}
}

func (r *replay) progressLoop(ctx context.Context, start time.Time, end time.Duration) {
	tk := time.NewTicker(time.Second)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
			online := 0
			for _, d := range r.fleet {
				if d.Online() {
					online++
				}
			}
			fmt.Fprintf(r.o.Progress, "scenario %s/%s: %d/%d devices online  presses %d  received %d  lost %d  telemetry %d\n",
				time.Since(start).Round(time.Second), end, online, len(r.fleet), r.issued.Load(), r.received.Load(), r.lost.Load(), r.telemetry.Load())
		}
	}
}
