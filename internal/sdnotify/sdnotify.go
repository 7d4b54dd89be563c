// Package sdnotify tells systemd how the service is, over the datagram
// socket systemd names in $NOTIFY_SOCKET (sd_notify(3)), in a few lines of
// pure Go: no libsystemd, no cgo, so it builds for the Pi with
// CGO_ENABLED=0.
//
// A unit with Type=notify waits for READY=1 before it counts the service
// as started; with WatchdogSec= it restarts the service when WATCHDOG=1
// has not come for that long. Watch sends WATCHDOG=1 only while the
// caller's health check passes: a process that still runs but can no
// longer store an alarm is restarted, not left pretending.
//
// A nil *Notifier does nothing, so a caller need not check whether it runs
// under systemd. Safe for concurrent use.
package sdnotify

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Notifier sends to one notify socket.
type Notifier struct {
	socket string
	// Watchdog is the unit's WatchdogSec (0: no watchdog); Watch pings at
	// half of it, as sd_watchdog_enabled(3) advises.
	Watchdog time.Duration
}

// New returns a notifier for socket (a path, or "@name" for an abstract
// socket) with the given watchdog interval.
func New(socket string, watchdog time.Duration) *Notifier {
	return &Notifier{socket: socket, Watchdog: watchdog}
}

// FromEnv returns the notifier systemd asked for through $NOTIFY_SOCKET,
// $WATCHDOG_USEC and $WATCHDOG_PID, or nil when not run by systemd as
// Type=notify. A watchdog meant for another process (WATCHDOG_PID not
// ours) is left out.
func FromEnv() (*Notifier, error) {
	socket := os.Getenv("NOTIFY_SOCKET")
	if socket == "" {
		return nil, nil
	}
	n := &Notifier{socket: socket}
	if usec := os.Getenv("WATCHDOG_USEC"); usec != "" {
		if pid := os.Getenv("WATCHDOG_PID"); pid != "" && pid != strconv.Itoa(os.Getpid()) {
			return n, nil
		}
		v, err := strconv.ParseUint(usec, 10, 63)
		if err != nil || v == 0 {
			return nil, fmt.Errorf("WATCHDOG_USEC=%q: want a positive number of microseconds", usec)
		}
		n.Watchdog = time.Duration(v) * time.Microsecond
	}
	return n, nil
}

// Send sends one notification, e.g. "READY=1" or "STATUS=…" (several
// lines in one datagram are fine).
func (n *Notifier) Send(state string) error {
	if n == nil {
		return nil
	}
	name := n.socket
	if strings.HasPrefix(name, "@") {
		name = "\x00" + name[1:] // Linux abstract namespace
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify %s: %w", n.socket, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("sd_notify %s: %w", n.socket, err)
	}
	return nil
}

// Watch pings the watchdog every Watchdog/2 while healthy() is nil, until
// ctx ends. While it is not, it sends no ping but a STATUS line saying
// why, once per change, and onUnhealthy (may be nil) hears of it. It
// returns at once when there is no watchdog.
func (n *Notifier) Watch(ctx context.Context, healthy func() error, onUnhealthy func(error)) {
	if n == nil || n.Watchdog <= 0 {
		return
	}
	t := time.NewTicker(n.Watchdog / 2)
	defer t.Stop()
	var last error
	for {
		err := healthy()
		switch {
		case err == nil:
			if last != nil {
				n.Send("STATUS=healthy again")
			}
			n.Send("WATCHDOG=1")
		case last == nil || err.Error() != last.Error():
			n.Send("STATUS=unhealthy, watchdog not pinged: " + oneLine(err))
			if onUnhealthy != nil {
				onUnhealthy(err)
			}
		}
		last = err
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", " ")
}
