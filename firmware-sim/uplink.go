package firmwaresim

// LinkDown takes the device's network away while it stays powered, as
// when a building's uplink fails: the socket dies without a DISCONNECT,
// the broker publishes the will, and the device keeps trying to reconnect
// with exponential backoff and jitter until LinkUp. Presses meanwhile are
// held and sent once it is back; the seq goes on.
func (d *Device) LinkDown() {
	d.link.down()
	d.log.Info("uplink down")
}

// LinkUp gives the network back; the device reconnects at its next
// backoff attempt.
func (d *Device) LinkUp() {
	d.link.restore()
	d.log.Info("uplink up")
}

// Online reports whether the device is connected and announced.
func (d *Device) Online() bool {
	d.mu.Lock()
	s := d.sess
	d.mu.Unlock()
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.up
}

// HeartbeatNow sends a telemetry reading at once, if the device is online;
// load generators use it for telemetry faster than the heartbeat.
func (d *Device) HeartbeatNow() bool {
	d.mu.Lock()
	s := d.sess
	d.mu.Unlock()
	if s == nil || !d.Online() {
		return false
	}
	d.sendTelemetry(s.client)
	return true
}
