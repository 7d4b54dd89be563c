package versus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	firmwaresim "github.com/anxin-care/anxin/firmware-sim"
)

// The measures, each selectable.
const (
	MeasurePress   = "press"   // press → received and press → operator stream, telemetry behind
	MeasureCeiling = "ceiling" // highest telemetry rate with zero loss
	MeasureIdle    = "idle"    // RSS with N idle devices
	MeasureStorm   = "storm"   // every device of a building presses within one second
	MeasureRestart = "restart" // restart with open alarms: to ready, to the first press answered
)

// AllMeasures is every measure, in the order the table lists them.
var AllMeasures = []string{MeasurePress, MeasureCeiling, MeasureIdle, MeasureStorm, MeasureRestart}

// benchEventRate is the per-device throttle (event_rate, event_burst) of
// the anxin this tool starts: high enough that the throttle, which also
// bounds a device's telemetry, is not what the ceiling measures.
const benchEventRate = 1_000_000

// ErrMissingTool is returned when Mosquitto or the anxin binary is not there.
var ErrMissingTool = errors.New("missing tool")

// Options configures a side-by-side run. Zero fields take the defaults.
type Options struct {
	MosquittoBin string // default: mosquitto on PATH or /usr/sbin/mosquitto
	// AnxinBin starts anxin with a temporary data directory; otherwise
	// AnxinMQTT, AnxinHTTP and AnxinToken name a running one (then its
	// CPU, RSS and restart are not measured).
	AnxinBin                         string
	AnxinMQTT, AnxinHTTP, AnxinToken string

	Measures []string // default AllMeasures
	Rounds   int      // interleaved A/B rounds, default 3

	PressDevices     int           // default 100
	PressRate        float64       // presses/s, default 1000
	TelemetryDevices int           // sending telemetry behind the presses, default 500
	TelemetryRate    float64       // msg/s behind the presses, default 5000
	Duration         time.Duration // of each press run and ceiling step, default 5s
	Timeout          time.Duration // a press without "received" this long after its planned time is lost, default 5s

	CeilingDevices int     // default 100
	CeilingStart   float64 // first rate of the ladder, default 5000 msg/s; it doubles until a loss
	CeilingMax     float64 // default 320000

	Idle       int // idle devices, default 10000
	Storm      int // devices of the building, default 1000
	OpenAlarms int // open when the server restarts, default 1000
	SourceIPs  int // 127.0.0.1 … 127.0.0.N, default 4

	Dir      string    // working directory (data, logs, seq state); default a temporary one, removed after
	Out      io.Writer // the table
	Progress io.Writer // one line a second; nil for none
	Logger   *slog.Logger
}

func (o Options) withDefaults() (Options, error) {
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	def(&o.Rounds, 3)
	def(&o.PressDevices, 100)
	def(&o.TelemetryDevices, 500)
	def(&o.CeilingDevices, 100)
	def(&o.Idle, 10_000)
	def(&o.Storm, 1000)
	def(&o.OpenAlarms, 1000)
	def(&o.SourceIPs, 4)
	if o.PressRate == 0 {
		o.PressRate = 1000
	}
	if o.TelemetryRate == 0 {
		o.TelemetryRate = 5000
	}
	if o.CeilingStart == 0 {
		o.CeilingStart = 5000
	}
	if o.CeilingMax == 0 {
		o.CeilingMax = 320_000
	}
	if o.Duration == 0 {
		o.Duration = 5 * time.Second
	}
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	if len(o.Measures) == 0 {
		o.Measures = AllMeasures
	}
	for _, m := range o.Measures {
		if !slices.Contains(AllMeasures, m) {
			return o, fmt.Errorf("%w: unknown measure %q; known: %s", firmwaresim.ErrInvalidConfig, m, strings.Join(AllMeasures, ", "))
		}
	}
	for _, v := range []int{o.Rounds, o.PressDevices, o.TelemetryDevices, o.CeilingDevices, o.Idle, o.Storm, o.OpenAlarms, o.SourceIPs} {
		if v < 0 {
			return o, fmt.Errorf("%w: counts must be positive", firmwaresim.ErrInvalidConfig)
		}
	}
	if o.SourceIPs > 254 || o.PressRate < 0 || o.TelemetryRate < 0 || o.Duration < 0 || o.CeilingStart > o.CeilingMax {
		return o, fmt.Errorf("%w: source addresses 1-254, rates and durations positive, ceiling start ≤ max", firmwaresim.ErrInvalidConfig)
	}
	if o.AnxinBin == "" && (o.AnxinMQTT == "" || o.AnxinHTTP == "") {
		return o, fmt.Errorf("%w: give the anxin binary to start, or a running anxin's MQTT and HTTP addresses", firmwaresim.ErrInvalidConfig)
	}
	if o.MosquittoBin == "" {
		if p, err := exec.LookPath("mosquitto"); err == nil {
			o.MosquittoBin = p
		} else {
			o.MosquittoBin = "/usr/sbin/mosquitto"
		}
	}
	if _, err := os.Stat(o.MosquittoBin); err != nil {
		return o, fmt.Errorf("%w: mosquitto (%s): %w; install Debian's mosquitto package", ErrMissingTool, o.MosquittoBin, err)
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return o, nil
}

func (o Options) measures(m string) bool { return slices.Contains(o.Measures, m) }

// progress is what the progress line shows.
type progress struct {
	phase                    atomic.Value // string
	issued, received, lost   atomic.Int64
	telemetrySent, telemetry atomic.Int64
}

func (p *progress) start(phase string) {
	p.phase.Store(phase)
	p.issued.Store(0)
	p.received.Store(0)
	p.lost.Store(0)
}

func (p *progress) line(elapsed time.Duration) string {
	phase, _ := p.phase.Load().(string)
	return fmt.Sprintf("versus %s: %s  issued %d  answered %d  lost %d", elapsed.Round(time.Second), phase,
		p.issued.Load(), p.received.Load(), p.lost.Load())
}

// side is one server with its provisioned devices.
type side struct {
	srv   server
	creds map[string][]firmwaresim.Credentials // by group: press, telemetry, ceiling, idle, storm, open, first
	state string                               // seq state directory
}

// Run starts both servers, runs the measures round by round (anxin first
// in odd rounds, Mosquitto first in even ones), and writes one table.
func Run(ctx context.Context, o Options) (*Table, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	dir := o.Dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "anxin-versus-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
	}
	// One socket per device on this side (the idle fleet connects to one
	// server at a time), some devices connected twice over a round, and
	// room for the servers' own files: they inherit the limit.
	if err := raiseFileLimit(o.Idle + 2*(o.PressDevices+o.TelemetryDevices+o.CeilingDevices+o.Storm+o.OpenAlarms) + 1024); err != nil {
		return nil, err
	}
	prog := &progress{}
	prog.phase.Store("starting")
	if o.Progress != nil {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		defer wg.Wait()
		defer close(stop)
		wg.Go(func() { progressLoop(o.Progress, prog, stop) })
	}

	anxin, err := newAnxin(ctx, o, dir)
	if err != nil {
		return nil, err
	}
	defer anxin.close()
	mdir := filepath.Join(dir, "mosquitto")
	if err := os.MkdirAll(mdir, 0o700); err != nil {
		return nil, err
	}
	mosq, err := startMosquitto(ctx, o.MosquittoBin, mdir)
	if err != nil {
		return nil, err
	}
	defer mosq.close()

	fleet := benchFleet(o)
	sides := []*side{{srv: anxin}, {srv: mosq}}
	for _, s := range sides {
		prog.phase.Store("provisioning " + s.srv.name())
		creds, err := s.srv.provision(ctx, fleet)
		if err != nil {
			return nil, fmt.Errorf("%s: provision: %w", s.srv.name(), err)
		}
		s.creds = groupCreds(creds)
		s.state = filepath.Join(dir, "seq-"+s.srv.name())
	}

	tab := &Table{Options: o}
	src := &sources{n: o.SourceIPs}
	for round := 1; round <= o.Rounds; round++ {
		order := sides
		if round%2 == 0 {
			order = []*side{sides[1], sides[0]}
		}
		for _, m := range AllMeasures {
			if !o.measures(m) {
				continue
			}
			for _, s := range order {
				if err := ctx.Err(); err != nil {
					return tab, err
				}
				prog.start(fmt.Sprintf("round %d/%d %s on %s", round, o.Rounds, m, s.srv.name()))
				rows, err := runMeasure(ctx, m, s, o, src, prog)
				if err != nil {
					return tab, fmt.Errorf("round %d, %s on %s: %w", round, m, s.srv.name(), err)
				}
				tab.add(rows...)
			}
		}
	}
	return tab, nil
}

func newAnxin(ctx context.Context, o Options, dir string) (*anxinServer, error) {
	if o.AnxinBin == "" {
		return anxinAt(ctx, o.AnxinMQTT, o.AnxinHTTP, o.AnxinToken)
	}
	if _, err := os.Stat(o.AnxinBin); err != nil {
		return nil, fmt.Errorf("%w: anxin binary: %w", ErrMissingTool, err)
	}
	adir := filepath.Join(dir, "anxin")
	if err := os.MkdirAll(adir, 0o700); err != nil {
		return nil, err
	}
	return startAnxin(ctx, o.AnxinBin, adir, benchEventRate)
}

func progressLoop(w io.Writer, p *progress, stop <-chan struct{}) {
	start := time.Now()
	tk := time.NewTicker(time.Second)
	defer tk.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tk.C:
			fmt.Fprintln(w, p.line(time.Since(start)))
		}
	}
}

// benchFleet names every device a run needs; the groups are the id's
// second part (v-press-0001).
func benchFleet(o Options) firmwaresim.Fleet {
	var f firmwaresim.Fleet
	add := func(group string, n int) {
		for _, id := range firmwaresim.FleetIDs("v-"+group+"-", n) {
			f.Devices = append(f.Devices, firmwaresim.FleetDevice{ID: id, Kind: "call_button"})
		}
	}
	if o.measures(MeasurePress) {
		add("press", o.PressDevices)
		add("telemetry", o.TelemetryDevices)
	}
	if o.measures(MeasureCeiling) {
		add("ceiling", o.CeilingDevices)
	}
	if o.measures(MeasureIdle) {
		add("idle", o.Idle)
	}
	if o.measures(MeasureStorm) {
		add("storm", o.Storm)
	}
	if o.measures(MeasureRestart) {
		add("open", o.OpenAlarms)
		add("first", 1)
	}
	return f
}

func groupCreds(creds []firmwaresim.Credentials) map[string][]firmwaresim.Credentials {
	out := map[string][]firmwaresim.Credentials{}
	for _, c := range creds {
		parts := strings.SplitN(c.ID, "-", 3)
		if len(parts) == 3 {
			out[parts[1]] = append(out[parts[1]], c)
		}
	}
	return out
}

// raiseFileLimit lifts RLIMIT_NOFILE to need (servers started later
// inherit it); root may raise the hard limit too.
func raiseFileLimit(need int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return nil
	}
	if lim.Cur >= uint64(need) {
		return nil
	}
	want := syscall.Rlimit{Cur: uint64(need), Max: max(lim.Max, uint64(need))}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		if lim.Max >= uint64(need) {
			want.Max = lim.Max
			if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want) == nil {
				return nil
			}
		}
		return fmt.Errorf("%w: this run needs %d open files and the limit is %d (hard %d): raise ulimit -n or use fewer idle devices",
			firmwaresim.ErrInvalidConfig, need, lim.Cur, lim.Max)
	}
	return nil
}
