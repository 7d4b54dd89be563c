// Command firmware-sim simulates anxin devices over MQTT and measures the
// gateway from the device's side. It parses flags into firmwaresim.Options
// and calls firmwaresim.Run; see that package for how the devices behave.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	firmwaresim "github.com/anxin-care/anxin/firmware-sim"
	"github.com/anxin-care/anxin/firmware-sim/versus"
	"github.com/anxin-care/anxin/internal/buildinfo"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailed  = 1 // the gateway did not answer, or something broke
	exitUsage   = 2
	usageHeader = `firmware-sim simulates anxin devices (call buttons, pull cords, smoke and gas
detectors, safety bands, bed sensors) over MQTT and measures the gateway.

usage:
  firmware-sim press     --id ID --password PW [--kind call_button] [--type call.press]
                         [--wait received|acknowledged|on_the_way|resolved|none] [--timeout 10s]
  firmware-sim run       --id ID --password PW [--kind call_button]   (commands on stdin; "help")
  firmware-sim bench     (--devices-file F.csv | --devices N --password PW) [--rate 100] [--duration 10s]
  firmware-sim bench     --fleet fleet.csv --devices-file passwords.csv [--scenario S.txt]
  firmware-sim bench     --against mosquitto --anxin-bin ./anxin [--measures press,ceiling,idle,storm,restart]
  firmware-sim fleet     [--homes 100] [--institutions 2] [--rooms 50] [--out fleet.csv]
  firmware-sim provision --api http://127.0.0.1:8080 --token T (--count N [--kind K] | --fleet fleet.csv) > devices.csv
  firmware-sim --version

press, run and bench take --broker (default tcp://127.0.0.1:1883). Run
"firmware-sim COMMAND --help" for a command's flags.

Exit status: 0 done; 1 the gateway did not answer in time (a press timed out,
a bench lost presses) or another failure; 2 bad usage.
`
)

func main() {
	versus.MaybeRunResponder() // the benchmark's responder is this binary again
	// Only main handles signals: Ctrl-C ends a run session or a bench
	// schedule early, and the bench still reports what it measured.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if buildinfo.IsVersionFlag(args) {
		fmt.Fprintln(stdout, buildinfo.Get().Line("firmware-sim"))
		return exitOK
	}
	if isAgainst(args) {
		return runAgainst(ctx, args[1:], stdout, stderr)
	}
	opts, err := parse(args, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case err != nil:
		fmt.Fprintf(stderr, "firmware-sim: %v\n", err)
		return exitUsage
	}
	opts.Stdin, opts.Stdout = stdin, stdout
	if err := firmwaresim.Run(ctx, opts); err != nil {
		fmt.Fprintf(stderr, "firmware-sim: %v\n", err)
		if errors.Is(err, firmwaresim.ErrInvalidConfig) {
			return exitUsage
		}
		return exitFailed
	}
	return exitOK
}

func runAgainst(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseAgainst(args, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case err != nil:
		fmt.Fprintf(stderr, "firmware-sim: %v\n", err)
		return exitUsage
	}
	o.Out = stdout
	tab, err := versus.Run(ctx, o)
	if tab != nil {
		if werr := tab.Write(stdout); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "firmware-sim: %v\n", err)
		if errors.Is(err, firmwaresim.ErrInvalidConfig) {
			return exitUsage
		}
		return exitFailed
	}
	return exitOK
}
