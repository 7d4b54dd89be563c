package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	firmwaresim "github.com/anxin-care/anxin/firmware-sim"
	"github.com/anxin-care/anxin/firmware-sim/versus"
)

// isAgainst reports whether args ask for the side-by-side benchmark:
// "bench --against mosquitto …".
func isAgainst(args []string) bool {
	if len(args) == 0 || args[0] != firmwaresim.CommandBench {
		return false
	}
	return slices.ContainsFunc(args[1:], func(a string) bool {
		a = strings.TrimLeft(a, "-")
		return a == "against" || strings.HasPrefix(a, "against=")
	})
}

// parseAgainst reads the flags of "bench --against mosquitto".
func parseAgainst(args []string, stderr io.Writer) (versus.Options, error) {
	var o versus.Options
	fs := flag.NewFlagSet("firmware-sim bench --against", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var against, measures string
	fs.StringVar(&against, "against", "", "what to compare with: mosquitto (Debian's, with a minimal responder)")
	fs.StringVar(&o.MosquittoBin, "mosquitto-bin", "", "the mosquitto binary (default: mosquitto on $PATH, then /usr/sbin/mosquitto)")
	fs.StringVar(&o.AnxinBin, "anxin-bin", "", "start this anxin binary with a temporary data directory (measures its CPU, RSS and restart)")
	fs.StringVar(&o.AnxinMQTT, "anxin-mqtt", "", "instead of --anxin-bin: a running anxin's MQTT host:port")
	fs.StringVar(&o.AnxinHTTP, "anxin-http", "", "instead of --anxin-bin: a running anxin's HTTP base URL")
	fs.StringVar(&o.AnxinToken, "token", "", "with --anxin-http: an admin's or installer's token; default $"+tokenEnv)
	fs.StringVar(&measures, "measures", strings.Join(versus.AllMeasures, ","), "which measures to run, comma-separated")
	fs.IntVar(&o.Rounds, "rounds", 3, "interleaved A/B rounds (anxin first in odd rounds, Mosquitto in even)")
	fs.IntVar(&o.PressDevices, "press-devices", 100, "press: devices pressing")
	fs.Float64Var(&o.PressRate, "rate", 1000, "press: presses per second over all of them")
	fs.IntVar(&o.TelemetryDevices, "telemetry-devices", 500, "press: other devices sending telemetry behind the presses")
	fs.Float64Var(&o.TelemetryRate, "telemetry-rate", 5000, "press: telemetry messages per second behind the presses")
	fs.DurationVar(&o.Duration, "duration", 5*time.Second, "press: how long to press; ceiling: each step of the ladder")
	fs.DurationVar(&o.Timeout, "timeout", 5*time.Second, "a press without \"received\" this long after its planned time is lost")
	fs.IntVar(&o.CeilingDevices, "ceiling-devices", 100, "ceiling: devices sending telemetry")
	fs.Float64Var(&o.CeilingStart, "ceiling-start", 5000, "ceiling: first rate; it doubles until a message is lost")
	fs.Float64Var(&o.CeilingMax, "ceiling-max", 320000, "ceiling: highest rate tried")
	fs.IntVar(&o.Idle, "idle", 10000, "idle: connected devices heartbeating once a minute (10000, 50000, 100000)")
	fs.IntVar(&o.Storm, "storm", 1000, "storm: devices of the building, all pressing within one second")
	fs.IntVar(&o.OpenAlarms, "open-alarms", 1000, "restart: alarms open when the server restarts")
	fs.IntVar(&o.SourceIPs, "source-ips", 4, "spread devices over 127.0.0.1 … 127.0.0.N (each has ~28,000 ephemeral ports)")
	fs.StringVar(&o.Dir, "dir", "", "keep data, logs and seq state here (default: a temporary directory, removed after)")
	quiet := fs.Bool("quiet", false, "no progress line on stderr")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: firmware-sim bench --against mosquitto (--anxin-bin ./anxin | --anxin-mqtt H:P --anxin-http URL) [flags]\n\n"+
			"Runs the same load against anxin and against Debian's Mosquitto (set_tcp_nodelay,\n"+
			"no persistence, on loopback) with a minimal responder that answers each press on\n"+
			"the device's cmd topic, interleaved over --rounds, and prints one table: per\n"+
			"measure p50/p95/p99/max, loss, CPU seconds and RSS of each server (from /proc),\n"+
			"and the anxin/mosquitto ratios. A progress line goes to stderr every second.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("bench: unexpected argument %q", fs.Arg(0))
	}
	if against != "mosquitto" {
		return o, fmt.Errorf("bench: --against %q: only mosquitto is known", against)
	}
	if o.AnxinBin != "" && (o.AnxinMQTT != "" || o.AnxinHTTP != "") {
		return o, errors.New("bench: give --anxin-bin or --anxin-mqtt and --anxin-http, not both")
	}
	if o.AnxinToken == "" {
		o.AnxinToken = os.Getenv(tokenEnv)
	}
	o.Measures = strings.Split(measures, ",")
	if !*quiet {
		o.Progress = stderr
	}
	return o, nil
}
