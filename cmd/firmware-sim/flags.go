package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/anxin-care/anxin/devices"
	firmwaresim "github.com/anxin-care/anxin/firmware-sim"
	"github.com/anxin-care/anxin/firmware-sim/scenario"
)

// Defaults of the command line; the library's own defaults are in firmwaresim.
const (
	defaultBroker = "tcp://127.0.0.1:1883"
	defaultAPI    = "http://127.0.0.1:8080"
	passwordEnv   = "FIRMWARE_SIM_PASSWORD" // keeps the password out of ps
	tokenEnv      = "ANXIN_TOKEN"
)

// common are the flags every command has.
type common struct {
	broker, kind, caFile, logLevel string
}

func (c *common) register(fs *flag.FlagSet, mqtt bool) {
	fs.StringVar(&c.kind, "kind", string(devices.KindCallButton), fmt.Sprintf("device kind, one of %v", devices.Kinds()))
	fs.StringVar(&c.logLevel, "log-level", "warn", "log level on stderr: debug, info, warn or error")
	if mqtt {
		fs.StringVar(&c.broker, "broker", defaultBroker, "MQTT broker: tcp://host:port, or ssl://host:port for TLS")
		fs.StringVar(&c.caFile, "ca-file", "", "PEM file of the CA that signed the broker's certificate (ssl:// brokers)")
	}
}

func (c *common) tls() (*tls.Config, error) {
	if c.caFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(c.caFile)
	if err != nil {
		return nil, fmt.Errorf("--ca-file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--ca-file %s: no PEM certificates", c.caFile)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

func (c *common) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})), nil
}

// parse turns the command line into Options. Errors are usage errors;
// flag.ErrHelp means help was printed.
func parse(args []string, stderr io.Writer) (firmwaresim.Options, error) {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usageHeader)
		if len(args) == 0 {
			return firmwaresim.Options{}, errors.New("no command")
		}
		return firmwaresim.Options{}, flag.ErrHelp
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("firmware-sim "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs, cmd != firmwaresim.CommandProvision && cmd != firmwaresim.CommandFleet)
	var finish func() (firmwaresim.Options, error)
	switch cmd {
	case firmwaresim.CommandPress, firmwaresim.CommandRun:
		finish = deviceFlags(fs, cmd, &c)
	case firmwaresim.CommandBench:
		finish = benchFlags(fs, &c)
	case firmwaresim.CommandProvision:
		finish = provisionFlags(fs, &c)
	case firmwaresim.CommandFleet:
		finish = fleetFlags(fs)
	default:
		return firmwaresim.Options{}, fmt.Errorf("unknown command %q; run firmware-sim --help", cmd)
	}
	if err := fs.Parse(args); err != nil {
		return firmwaresim.Options{}, err
	}
	if fs.NArg() > 0 {
		return firmwaresim.Options{}, fmt.Errorf("%s: unexpected argument %q", cmd, fs.Arg(0))
	}
	opts, err := finish()
	if err != nil {
		return opts, fmt.Errorf("%s: %w", cmd, err)
	}
	opts.Command = cmd
	return opts, nil
}

// deviceFlags are the flags of one simulated device: press and run.
func deviceFlags(fs *flag.FlagSet, cmd string, c *common) func() (firmwaresim.Options, error) {
	var o firmwaresim.Options
	var typ, wait string
	d := &o.Device
	fs.StringVar(&d.ID, "id", "", "device id (also the MQTT username and client id); required")
	fs.StringVar(&d.Password, "password", "", "device password from provisioning; default $"+passwordEnv)
	fs.StringVar(&d.Model, "model", "", "model reported in the status (default per kind, e.g. CB-200)")
	fs.StringVar(&d.Firmware, "fw", firmwaresim.DefaultFirmware, "firmware version reported in the status")
	fs.DurationVar(&d.Heartbeat, "heartbeat", devices.DefaultHeartbeat, "telemetry interval until the gateway configures one")
	fs.StringVar(&d.StateDir, "state-dir", defaultStateDir(), "where the seq counter survives restarts; empty keeps it in memory")
	fs.DurationVar(&o.Timeout, "timeout", firmwaresim.DefaultWaitTimeout, "how long after the press to wait for the gateway's answer")
	if cmd == firmwaresim.CommandPress {
		fs.StringVar(&typ, "type", "", "event type to report (default: the kind's main event, e.g. call.press)")
		fs.StringVar(&wait, "wait", string(firmwaresim.StateReceived), "reassurance state to wait for, or none to stop at the PUBACK")
	}
	fs.Usage = func() {
		if cmd == firmwaresim.CommandPress {
			fmt.Fprint(fs.Output(), "usage: firmware-sim press --id ID --password PW [flags]\n\n"+
				"Connects as the device, reports one event, prints each reassurance state up to\n"+
				"--wait with its time since the press, and switches the device off again:\n"+
				"  seq 7 call.press → received in 3.2 ms (alarm A-12)\n\nflags:\n")
		} else {
			fmt.Fprint(fs.Output(), "usage: firmware-sim run --id ID --password PW [flags]\n\n"+
				"Keeps the device online: heartbeats, prints every command from the gateway, and\n"+
				"reads commands from stdin (press, clear, sos, fall, smoke, wait, sleep, powercut,\n"+
				"boot, status, help, quit). End of input keeps it online until Ctrl-C.\n\nflags:\n")
		}
		fs.PrintDefaults()
	}
	return func() (firmwaresim.Options, error) {
		var err error
		if d.ID == "" {
			return o, errors.New("--id is required")
		}
		if d.Password == "" {
			d.Password = os.Getenv(passwordEnv)
		}
		d.Broker, d.Kind = c.broker, devices.Kind(c.kind)
		o.Event = devices.EventType(typ)
		if wait != "" && wait != "none" {
			if o.Wait, err = firmwaresim.ParseState(wait); err != nil {
				return o, fmt.Errorf("--wait: %w", err)
			}
		}
		if d.TLS, err = c.tls(); err != nil {
			return o, err
		}
		d.Logger, err = c.logger(fs.Output())
		return o, err
	}
}

// defaultStateDir follows the XDG base directories: seq counters are state
// that must outlive a reboot, not cache.
func defaultStateDir() string {
	if dir := os.Getenv("XDG_STATE_HOME"); dir != "" {
		return filepath.Join(dir, "anxin-firmware-sim")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "anxin-firmware-sim")
	}
	return ".firmware-sim-state"
}

func benchFlags(fs *flag.FlagSet, c *common) func() (firmwaresim.Options, error) {
	var o firmwaresim.Options
	b := &o.Bench
	var file, prefix, password, typ string
	var n int
	fs.StringVar(&file, "devices-file", "", "CSV of id,password per line (from provisioning or firmware-sim provision)")
	fs.IntVar(&n, "devices", 0, "instead of a file: simulate N devices named PREFIX0001…, all with --password")
	fs.StringVar(&prefix, "id-prefix", "sim-", "id prefix for --devices")
	fs.StringVar(&password, "password", "", "password of every --devices device; default $"+passwordEnv)
	fs.StringVar(&typ, "type", "", "event type to press (default: the kind's main event, e.g. call.press)")
	fs.Float64Var(&b.Rate, "rate", 100, "presses per second, spread evenly over all devices")
	fs.DurationVar(&b.Duration, "duration", 10*time.Second, "how long to press")
	fs.DurationVar(&b.Timeout, "timeout", firmwaresim.DefaultBenchTimeout, "a press without \"received\" this long after its planned time is lost")
	fs.StringVar(&b.StateDir, "state-dir", defaultStateDir(), "where seq counters survive between runs; empty keeps them in memory")
	fs.IntVar(&b.SeqReserve, "seq-reserve", firmwaresim.DefaultBenchSeqReserve, "seqs reserved per state-file fsync")
	fs.IntVar(&b.ConnectParallel, "connect-parallel", firmwaresim.DefaultConnectParallel, "devices connecting at once")
	var fleetFile, scenarioFile string
	sc := &o.Scenario
	fs.StringVar(&fleetFile, "fleet", "", "fleet file in the import CSV shape (firmware-sim fleet); needs --devices-file with their passwords")
	fs.StringVar(&scenarioFile, "scenario", "", "scenario script to replay on the --fleet (default: --rate presses for --duration)")
	fs.IntVar(&sc.SourceIPs, "source-ips", 4, "with --fleet on a loopback broker: spread devices over 127.0.0.1 … 127.0.0.N")
	fs.DurationVar(&sc.Heartbeat, "heartbeat", 0, "with --fleet: every device's heartbeat (default: each kind's own)")
	fs.String("against", "", "mosquitto: run the side-by-side benchmark (firmware-sim bench --against mosquitto --help)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: firmware-sim bench (--devices-file F.csv | --devices N --password PW) [flags]\n"+
			"       firmware-sim bench --fleet fleet.csv --devices-file passwords.csv [--scenario S.txt] [flags]\n"+
			"       firmware-sim bench --against mosquitto --anxin-bin ./anxin [flags]\n\n"+
			"Connects every device, presses on an open-loop schedule (press i is due at\n"+
			"start + i/rate whatever the gateway does), and reports the achieved rate, lost\n"+
			"presses and p50/p95/p99/max from each planned press to its \"received\".\n"+
			"Exit status 1 if any press was lost.\n\n"+
			"A gateway throttles each device (anxin: 20 events/s by default), so give it\n"+
			"enough devices, e.g. --rate 1000 with 100 devices or more; otherwise the\n"+
			"throttle, not the gateway's speed, is what gets measured.\n\nflags:\n")
		fs.PrintDefaults()
	}
	return func() (firmwaresim.Options, error) {
		var err error
		switch {
		case file != "" && n > 0:
			return o, errors.New("give --devices-file or --devices, not both")
		case file != "":
			b.Devices, err = firmwaresim.ReadDevicesFile(file)
		case n > 0:
			if password == "" {
				password = os.Getenv(passwordEnv)
			}
			for _, id := range firmwaresim.FleetIDs(prefix, n) {
				b.Devices = append(b.Devices, firmwaresim.Credentials{ID: id, Password: password})
			}
		default:
			return o, errors.New("give --devices-file F.csv or --devices N")
		}
		if err != nil {
			return o, err
		}
		b.Broker, b.Kind, b.Type = c.broker, devices.Kind(c.kind), devices.EventType(typ)
		if fleetFile != "" {
			if err := scenarioOptions(&o, fleetFile, scenarioFile); err != nil {
				return o, err
			}
		} else if scenarioFile != "" {
			return o, errors.New("--scenario needs --fleet")
		}
		if b.TLS, err = c.tls(); err != nil {
			return o, err
		}
		b.Logger, err = c.logger(fs.Output())
		o.Scenario.TLS, o.Scenario.Logger, o.Scenario.Progress = b.TLS, b.Logger, fs.Output()
		b.Progress = fs.Output()
		return o, err
	}
}

// scenarioOptions reads the fleet and the script; without a script the
// fleet's call buttons and pull cords press at --rate for --duration.
func scenarioOptions(o *firmwaresim.Options, fleetFile, scenarioFile string) error {
	b, sc := &o.Bench, &o.Scenario
	fleet, err := firmwaresim.ReadFleetFile(fleetFile)
	if err != nil {
		return err
	}
	var script io.Reader = strings.NewReader(fmt.Sprintf("at 0s press-rate %g/s\nat %s end\n", b.Rate, b.Duration))
	if scenarioFile != "" {
		f, err := os.Open(scenarioFile)
		if err != nil {
			return fmt.Errorf("--scenario: %w", err)
		}
		defer f.Close()
		script = f
	}
	if sc.Script, err = scenario.Parse(script); err != nil {
		return fmt.Errorf("scenario %s: %w", scenarioFile, err)
	}
	sc.Fleet, sc.Passwords, sc.Broker = fleet.Devices, b.Devices, b.Broker
	sc.Timeout, sc.StateDir, sc.SeqReserve, sc.ConnectParallel = b.Timeout, b.StateDir, b.SeqReserve, b.ConnectParallel
	return nil
}

func fleetFlags(fs *flag.FlagSet) func() (firmwaresim.Options, error) {
	var o firmwaresim.Options
	s := &o.FleetSpec
	fs.IntVar(&s.Homes, "homes", 100, "homes, each with a bedroom, kitchen and bathroom, one resident and 5 devices")
	fs.IntVar(&s.Institutions, "institutions", 2, "institutions (care homes)")
	fs.IntVar(&s.Rooms, "rooms", 50, "rooms per institution, each with one resident and 4 devices")
	fs.StringVar(&o.FleetOut, "out", "fleet.csv", "the fleet file; its sites and residents go beside it as NAME.sites.csv and NAME.residents.csv")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: firmware-sim fleet [--homes 100] [--institutions 2] [--rooms 50] [--out fleet.csv]\n\n"+
			"Writes a fleet in the registry's import CSV shape (anxinctl device import takes it\n"+
			"once its sites and residents exist; firmware-sim provision --fleet creates all three).\n"+
			"Sites are named building.room, so a scenario can say home-12/kitchen or room-3.\n\nflags:\n")
		fs.PrintDefaults()
	}
	return func() (firmwaresim.Options, error) { return o, nil }
}

func provisionFlags(fs *flag.FlagSet, c *common) func() (firmwaresim.Options, error) {
	var o firmwaresim.Options
	p := &o.Provision
	var n int
	var prefix string
	fs.StringVar(&p.API, "api", defaultAPI, "gateway HTTP API base URL")
	fs.StringVar(&p.Token, "token", "", "bearer token of an installer or admin; default $"+tokenEnv)
	fs.IntVar(&n, "count", 0, "number of devices to create; required unless --fleet")
	fleetFile := fs.String("fleet", "", "create this fleet file's sites, residents and devices (bulk import) instead of --count devices")
	fs.StringVar(&prefix, "id-prefix", "sim-", "devices are named PREFIX0001, PREFIX0002, …")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: firmware-sim provision --api URL --token T --count N [flags] > devices.csv\n\n"+
			"Creates devices through the gateway's POST /api/v1/devices and prints their\n"+
			"id,password as CSV for bench --devices-file. The CSV holds secrets.\n\nflags:\n")
		fs.PrintDefaults()
	}
	return func() (firmwaresim.Options, error) {
		if p.Token == "" {
			p.Token = os.Getenv(tokenEnv)
		}
		if *fleetFile != "" {
			f, err := firmwaresim.ReadFleetFile(*fleetFile)
			o.ProvisionFleet = &f
			return o, err
		}
		if n <= 0 {
			return o, errors.New("--count must be positive")
		}
		p.Kind, p.IDs = devices.Kind(c.kind), firmwaresim.FleetIDs(prefix, n)
		return o, nil
	}
}
