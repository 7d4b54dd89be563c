package firmwaresim

import (
	"log/slog"
	"math/rand/v2"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// onMessage applies a message from the gateway. paho calls it on its
// delivery goroutine, in arrival order, so it must not block.
func (d *Device) onMessage(_ mqtt.Client, m mqtt.Message) {
	if m.Topic() != d.topics.cmd {
		d.log.Warn("message on unexpected topic", slog.String("topic", m.Topic()))
		return
	}
	cmd, err := decodeCommand(m.Payload(), time.Now())
	if err != nil {
		d.log.Warn("bad cmd from gateway", slog.Any("err", err), slog.String("payload", truncate(m.Payload(), 200)))
	} else {
		cmd = d.apply(cmd)
	}
	if d.cfg.OnCommand != nil {
		d.cfg.OnCommand(cmd)
	}
}

func (d *Device) apply(cmd Command) Command {
	switch cmd.Type {
	case "reassure":
		cmd.Reassurance = d.track.record(cmd.Reassurance)
		r := cmd.Reassurance
		d.log.Debug("reassured", slog.Uint64("seq", r.Seq), slog.String("state", string(r.State)),
			slog.String("alarm", r.Alarm), slog.Duration("rtt", r.RTT))
	case "silence":
		d.sens.silence()
		d.log.Info("sounder silenced by gateway")
	case "config":
		if cmd.HeartbeatS > 0 {
			d.setHeartbeat(time.Duration(cmd.HeartbeatS) * time.Second)
		}
	default:
		d.log.Warn("unknown cmd type ignored", slog.String("type", cmd.Type))
	}
	return cmd
}

// setHeartbeat applies a heartbeat from the gateway, clamped to what the
// firmware accepts, and wakes the heartbeat loop without blocking.
func (d *Device) setHeartbeat(hb time.Duration) {
	clamped := min(max(hb, MinHeartbeat), MaxHeartbeat)
	if clamped != hb {
		d.log.Warn("heartbeat out of range, clamped", slog.Duration("asked", hb), slog.Duration("applied", clamped))
	}
	d.heartbeat.Store(int64(clamped))
	select {
	case d.hbChanged <- struct{}{}:
	default: // a wake-up is already pending; it reads the new value
	}
	d.log.Info("heartbeat set by gateway", slog.Duration("heartbeat", clamped))
}

// heartbeatLoop sends telemetry every heartbeat until the session ends.
// While the link is down the heartbeat is skipped, as a radio would.
func (d *Device) heartbeatLoop(s *session) {
	defer s.wg.Done()
	// Each interval is jittered by ±10 %, as a device's crystal and radio
	// wake-ups are: a fleet booted together spreads out instead of beating
	// on the gateway in step.
	t := time.NewTimer(heartbeatJitter(d.Heartbeat()))
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-d.hbChanged:
			t.Reset(heartbeatJitter(d.Heartbeat()))
		case <-t.C:
			if s.client.IsConnectionOpen() {
				d.sendTelemetry(s.client)
			}
			t.Reset(heartbeatJitter(d.Heartbeat()))
		}
	}
}

// sendTelemetry publishes the current readings at QoS 0: a lost heartbeat
// is replaced by the next one, and supervision allows for a few missing.
func (d *Device) sendTelemetry(c mqtt.Client) {
	msg := map[string]any{"ts": d.cfg.Now().UnixMilli()}
	for k, v := range d.sens.telemetry(d.cfg.Now()) {
		msg[k] = v
	}
	if err := c.Publish(d.topics.telemetry, 0, false, mustJSON(msg)).Error(); err != nil {
		d.log.Debug("telemetry not sent", slog.Any("err", err))
	}
}

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}

func heartbeatJitter(d time.Duration) time.Duration {
	return d - d/10 + rand.N(d/5+1)
}
