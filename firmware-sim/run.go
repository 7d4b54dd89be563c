package firmwaresim

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/anxin-care/anxin/devices"
)

// The commands Run knows; cmd/firmware-sim names its subcommands after them.
const (
	CommandPress     = "press"
	CommandRun       = "run"
	CommandBench     = "bench"
	CommandProvision = "provision"
	CommandFleet     = "fleet"
)

// DefaultWaitTimeout bounds the wait for a reassurance, from the press.
const DefaultWaitTimeout = 10 * time.Second

// Options is one invocation of the simulator.
type Options struct {
	Command string
	// Device is the simulated device of "press" and "run".
	Device Config
	// Event is what "press" reports; "" is the kind's primary event.
	Event devices.EventType
	// Wait is the reassurance state "press" waits for; "" only publishes.
	Wait State
	// Timeout bounds a reassurance wait, counted from the press.
	Timeout time.Duration
	Bench   BenchOptions
	// Scenario, when it has a fleet, makes "bench" replay a script on it
	// instead of pressing Bench's devices at one rate.
	Scenario  ScenarioOptions
	Provision ProvisionOptions
	// ProvisionFleet, when set, makes "provision" create this fleet (sites,
	// residents, then devices by the bulk import) instead of Provision.IDs.
	ProvisionFleet *Fleet
	// FleetSpec and FleetOut are what "fleet" generates and where to.
	FleetSpec FleetSpec
	FleetOut  string
	Stdin     io.Reader // commands of "run"; nil is os.Stdin
	Stdout    io.Writer // results; nil is os.Stdout
}

// Run performs one command and returns when it is done or ctx ends. Its
// error says why the command failed: ErrTimeout and ErrLost when the gateway
// did not answer, ErrInvalidConfig for bad options.
func Run(ctx context.Context, o Options) error {
	if o.Stdin == nil {
		o.Stdin = os.Stdin
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	o.Stdout = &syncWriter{w: o.Stdout}
	if o.Timeout <= 0 {
		o.Timeout = DefaultWaitTimeout
	}
	switch o.Command {
	case CommandPress:
		return runPress(ctx, o)
	case CommandRun:
		return runInteractive(ctx, o)
	case CommandBench:
		return runBench(ctx, o)
	case CommandProvision:
		return runProvision(ctx, o)
	case CommandFleet:
		return runFleet(o)
	}
	return fmt.Errorf("%w: unknown command %q", ErrInvalidConfig, o.Command)
}

// runPress connects, presses once, prints each reassurance state up to the
// wanted one, and switches the device off again.
func runPress(ctx context.Context, o Options) error {
	d, err := New(o.Device)
	if err != nil {
		return err
	}
	typ := o.Event
	if typ == "" {
		typ = profileOf(d.Kind()).primary
	}
	if err := d.Connect(ctx); err != nil {
		return err
	}
	defer d.Close(context.WithoutCancel(ctx))
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	sent, err := d.Press(ctx, typ)
	if err != nil {
		return err
	}
	if o.Wait == "" {
		fmt.Fprintf(o.Stdout, "seq %d %s → published, PUBACK in %s\n", sent.Seq, typ, human(sent.Acked))
		return nil
	}
	return waitAndPrint(ctx, o.Stdout, d, sent, o.Wait)
}

// waitAndPrint prints every state the alarm passes through on its way to want.
func waitAndPrint(ctx context.Context, w io.Writer, d *Device, sent Sent, want State) error {
	printed := map[State]bool{}
	for _, step := range []State{StateReceived, StateAcknowledged, StateOnTheWay, StateResolved} {
		if stateRank[step] > stateRank[want] {
			break
		}
		r, err := d.Wait(ctx, sent.Seq, step)
		if err != nil {
			return err
		}
		if !printed[r.State] {
			printed[r.State] = true
			fmt.Fprintf(w, "seq %d %s → %s in %s (alarm %s)\n", r.Seq, sent.Type, r.State, human(r.At.Sub(sent.At)), r.Alarm)
		}
		if r.State.reaches(want) {
			return nil
		}
	}
	return nil
}

func runBench(ctx context.Context, o Options) error {
	if len(o.Scenario.Fleet) > 0 {
		res, err := RunScenario(ctx, o.Scenario)
		if res.Devices > 0 {
			if werr := res.WriteReport(o.Stdout); werr != nil && err == nil {
				err = werr
			}
		}
		return err
	}
	res, err := Bench(ctx, o.Bench)
	if res.Planned > 0 {
		if werr := res.WriteReport(o.Stdout); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}

func runFleet(o Options) error {
	f, err := GenerateFleet(o.FleetSpec)
	if err != nil {
		return err
	}
	if err := WriteFleetFiles(o.FleetOut, f); err != nil {
		return err
	}
	fmt.Fprintf(o.Stdout, "%d devices in %s, %d sites in %s, %d residents in %s\n", len(f.Devices), o.FleetOut,
		len(f.Sites), SitesPath(o.FleetOut), len(f.Residents), ResidentsPath(o.FleetOut))
	return nil
}

func runProvision(ctx context.Context, o Options) error {
	var creds []Credentials
	var err error
	if o.ProvisionFleet != nil {
		creds, err = ProvisionFleet(ctx, o.Provision, *o.ProvisionFleet)
	} else {
		creds, err = Provision(ctx, o.Provision)
	}
	// Print what was created even on failure: those passwords exist now.
	if len(creds) > 0 {
		if werr := WriteDevices(o.Stdout, creds); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}

// human prints a duration as people read latencies: 3.2 ms, 12.4 s.
func human(d time.Duration) string {
	if d < 10*time.Second {
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

// syncWriter serialises writes from the command loop and the MQTT
// delivery goroutine, so lines never interleave.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
