package gateway

import (
	"context"
	"fmt"
)

// Under systemd (deploy/systemd/anxin-edge.service, Type=notify with
// WatchdogSec), the gateway says READY=1 once its store is open, its broker
// and HTTP API serve and its timers run, and pings the watchdog only while
// Healthy: a gateway whose store can no longer commit an alarm, or whose
// broker stopped accepting devices, stops pinging and systemd restarts it.
// It says STOPPING=1 when it closes.

// notifyReady tells systemd the gateway serves and starts the watchdog.
func (g *Gateway) notifyReady(ctx context.Context) {
	if g.systemd == nil {
		return
	}
	if err := g.systemd.Send("READY=1"); err != nil {
		g.log.Warn("systemd not told ready", "err", err)
	}
	g.goRun(func() {
		healthy := func() error {
			err := g.Healthy()
			if err != nil {
				g.metrics.watchdogWithheld.Inc()
			}
			return err
		}
		g.systemd.Watch(ctx, healthy, func(err error) {
			g.log.Error("unhealthy: systemd watchdog no longer pinged", "err", err, "watchdog", g.systemd.Watchdog)
		})
	})
}

// Healthy is nil while the gateway can do its job: the state store commits
// and every broker listener accepts connections (what /readyz checks).
func (g *Gateway) Healthy() error {
	if err := g.db.Healthy(); err != nil {
		return fmt.Errorf("state store cannot commit: %w", err)
	}
	if err := (apiDevices{g}).Ready(); err != nil {
		return fmt.Errorf("mqtt: %w", err)
	}
	return nil
}
