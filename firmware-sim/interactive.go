package firmwaresim

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/anxin-care/anxin/devices"
)

// aliases are the words "run" accepts for events; a full event type such as
// band.hr_abnormal works too. "press" and "clear" depend on the kind.
var aliases = map[string]devices.EventType{
	"sos": devices.BandSOS, "fall": devices.BandFall, "smoke": devices.SmokeAlarm,
	"gas": devices.GasAlarm, "pull": devices.CallPullcord, "cancel": devices.CallCancel,
	"test": devices.SmokeTest, "bed": devices.BedExit,
}

const interactiveHelp = `commands:
  press | clear              the device's main event, and its clear (call.press / call.cancel, smoke.alarm / smoke.clear, …)
  sos fall smoke gas pull cancel test bed, or any event type (band.hr_abnormal)
  wait [STATE]               wait for the last press to reach STATE (default received)
  sleep DURATION             pause a script, e.g. sleep 500ms
  status                     seq, heartbeat, sounder
  powercut | boot            drop the connection without DISCONNECT (the will fires), and come back
  help | quit
`

// shell is the state of one "run" session.
type shell struct {
	d       *Device
	out     io.Writer
	timeout time.Duration
	last    Sent
	failed  int // waits that timed out, reported at the end
}

// runInteractive keeps a device connected, prints what the gateway sends,
// and executes commands from Stdin until "quit" or ctx ends. End of input
// does not disconnect: a device runs until it is switched off.
func runInteractive(ctx context.Context, o Options) error {
	cfg := o.Device
	next := cfg.OnCommand
	cfg.OnCommand = func(c Command) {
		printCommand(o.Stdout, c)
		if next != nil {
			next(c)
		}
	}
	d, err := New(cfg)
	if err != nil {
		return err
	}
	if err := d.Connect(ctx); err != nil {
		return err
	}
	defer d.Close(context.WithoutCancel(ctx))
	fmt.Fprintf(o.Stdout, "%s (%s %s) online at %s, last seq %d, heartbeat %s; type help\n",
		d.ID(), d.Kind(), d.cfg.Model, d.cfg.Broker, d.Seq(), d.Heartbeat())
	sh := &shell{d: d, out: o.Stdout, timeout: o.Timeout}
	lines := readLines(o.Stdin)
	for {
		select {
		case <-ctx.Done():
			return sh.result()
		case line, ok := <-lines:
			if !ok {
				lines = nil // input ended; stay online until ctx ends
				continue
			}
			if sh.exec(ctx, strings.Fields(line)) {
				return sh.result()
			}
		}
	}
}

// readLines feeds input lines to a channel until EOF. A terminal read
// cannot be interrupted, so on quit the goroutine ends with the process.
func readLines(r io.Reader) <-chan string {
	ch := make(chan string)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			ch <- sc.Text()
		}
	}()
	return ch
}

func (sh *shell) result() error {
	if sh.failed > 0 {
		return fmt.Errorf("%d wait(s) got no answer: %w", sh.failed, ErrTimeout)
	}
	return nil
}

// exec runs one command line and reports whether the session should end.
func (sh *shell) exec(ctx context.Context, args []string) (quit bool) {
	if len(args) == 0 || strings.HasPrefix(args[0], "#") {
		return false
	}
	switch args[0] {
	case "quit", "exit":
		return true
	case "help":
		fmt.Fprint(sh.out, interactiveHelp)
	case "status":
		fmt.Fprintf(sh.out, "seq %d, heartbeat %s, sounder silenced %v\n", sh.d.Seq(), sh.d.Heartbeat(), sh.d.Silenced())
	case "wait":
		sh.wait(ctx, args[1:])
	case "sleep":
		sh.sleep(ctx, args[1:])
	case "powercut":
		sh.d.PowerCut()
		fmt.Fprintln(sh.out, "power cut: connection dropped, the broker publishes the will")
	case "boot":
		if err := sh.d.Connect(ctx); err != nil {
			fmt.Fprintf(sh.out, "boot failed: %v\n", err)
		} else {
			fmt.Fprintf(sh.out, "booted, last seq %d\n", sh.d.Seq())
		}
	default:
		sh.press(ctx, args[0])
	}
	return false
}

func (sh *shell) eventFor(word string) (devices.EventType, bool) {
	p := profileOf(sh.d.Kind())
	switch word {
	case "press":
		return p.primary, true
	case "clear":
		return p.clear, p.clear != ""
	}
	if t, ok := aliases[word]; ok {
		return t, true
	}
	t := devices.EventType(word)
	return t, t.Known()
}

func (sh *shell) press(ctx context.Context, word string) {
	t, ok := sh.eventFor(word)
	if !ok {
		fmt.Fprintf(sh.out, "unknown command %q; type help\n", word)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, sh.timeout)
	defer cancel()
	sent, err := sh.d.Press(ctx, t)
	if err != nil {
		fmt.Fprintf(sh.out, "press failed: %v\n", err)
		return
	}
	sh.last = sent
	fmt.Fprintf(sh.out, "seq %d %s → published, PUBACK in %s\n", sent.Seq, t, human(sent.Acked))
}

func (sh *shell) wait(ctx context.Context, args []string) {
	want := StateReceived
	if len(args) > 0 {
		s, err := ParseState(args[0])
		if err != nil {
			fmt.Fprintln(sh.out, err)
			return
		}
		want = s
	}
	if sh.last.Seq == 0 {
		fmt.Fprintln(sh.out, "nothing pressed yet")
		return
	}
	ctx, cancel := context.WithDeadline(ctx, sh.last.At.Add(sh.timeout))
	defer cancel()
	if _, err := sh.d.Wait(ctx, sh.last.Seq, want); err != nil {
		if errors.Is(err, ErrTimeout) {
			sh.failed++
		}
		fmt.Fprintf(sh.out, "wait: %v\n", err)
	}
}

func (sh *shell) sleep(ctx context.Context, args []string) {
	if len(args) != 1 {
		fmt.Fprintln(sh.out, "usage: sleep DURATION")
		return
	}
	d, err := time.ParseDuration(args[0])
	if err != nil || d < 0 {
		fmt.Fprintf(sh.out, "sleep: bad duration %q\n", args[0])
		return
	}
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
}

// printCommand shows one message from the gateway.
func printCommand(w io.Writer, c Command) {
	if c.Type != "reassure" {
		fmt.Fprintf(w, "← cmd %s\n", c.Raw)
		return
	}
	r := c.Reassurance
	if r.RTT > 0 {
		fmt.Fprintf(w, "← seq %d %s → %s in %s (alarm %s)\n", r.Seq, r.Type, r.State, human(r.RTT), r.Alarm)
		return
	}
	fmt.Fprintf(w, "← seq %d → %s (alarm %s)\n", r.Seq, r.State, r.Alarm)
}
