package gateway

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway/registry"
	"github.com/anxin-care/anxin/gateway/state"
)

// Wellbeing (主动关爱, 平安钟; DESIGN.md §3): per resident, optional rules
// stored with the resident (registry.Wellbeing):
//
//   - no activity: no sign of life from any of the resident's devices for
//     N hours, counted only inside a daily window (07:00-22:00 in the
//     resident's zone, Asia/Shanghai by default; the night does not count),
//     raises a P2 wellbeing.no_activity alarm; the next sign of life
//     resolves it (restored);
//   - missed check-in: no check-in press on the day by HH:MM raises a P2
//     wellbeing.missed_checkin alarm; a late press resolves it;
//   - a resident marked away (away_until) raises neither, and silence and
//     deadlines count again only from the end of the absence.
//
// Both alarms are about the resident's home site (RaiseSiteCondition),
// with the resident named: the responder goes to the home, and nothing
// about one device is wrong. Two residents sharing one home site with
// rules share the alarm of each type.
//
// A sign of life is an event of one of the resident's devices (assigned to
// them, or unassigned at or under their home) that a person causes:
// activity.motion, activity.door, bed.exit, any button press (call.*,
// band.sos), band.worn, band.geofence_exit; or a band's step count going
// up. A check-in is a press of a device marked as a check-in button
// (Device.Checkin: answered {"type":"reassure","state":"checked_in"}, and
// no call alarm) or, where the rule says checkin_call_press, any call
// press (which still raises its call alarm: a press is never swallowed).
//
// Times run on the gateway's clock. What the rules remember (last sign of
// life, last check-in, which silence or deadline an alarm was raised for)
// is a state.Wellbeing record per resident: a check-in is written before
// it is answered; signs of life are kept in memory and written by the
// supervision pass (every few seconds), so a crash loses at most that much.

// Wellbeing alarm types.
const (
	TypeNoActivity    = "wellbeing.no_activity"
	TypeMissedCheckin = "wellbeing.missed_checkin"
)

// StateCheckedIn is the reassurance state a check-in press is answered with.
const StateCheckedIn = "checked_in"

// care is the wellbeing rules' memory.
type care struct {
	mu    sync.Mutex
	recs  map[string]*state.Wellbeing // by resident id
	dirty map[string]bool
	steps map[string]float64 // device → last step count
}

func newCare(db *state.DB) (*care, error) {
	recs, err := db.Wellbeings()
	if err != nil {
		return nil, fmt.Errorf("load wellbeing records: %w", err)
	}
	return &care{recs: recs, dirty: map[string]bool{}, steps: map[string]float64{}}, nil
}

// rec returns the record of resident, made at now if there is none; c.mu held.
func (c *care) rec(resident string, now time.Time) *state.Wellbeing {
	r, ok := c.recs[resident]
	if !ok {
		r = &state.Wellbeing{Since: now.UTC()}
		c.recs[resident] = r
		c.dirty[resident] = true
	}
	return r
}

// lifeSign reports whether an event of type t is a person's doing.
func lifeSign(t devices.EventType) bool {
	switch t {
	case devices.CallPress, devices.CallCancel, devices.CallPullcord, devices.BandSOS, devices.BandWorn,
		devices.BandGeofenceExit, devices.BedExit:
		return true
	}
	return t.Activity()
}

// residentsOf are the residents a device's signs of life count for: its
// own resident, or, for a device assigned to nobody, everyone living at
// or above its site (a motion sensor in the hall of a home).
func (g *Gateway) residentsOf(d registry.Device) []registry.Resident {
	if d.Resident != "" {
		if p, ok := g.reg.Residents().Get(d.Resident); ok && p.Wellbeing.On() {
			return []registry.Resident{p}
		}
		return nil
	}
	if d.Site == "" {
		return nil
	}
	above := map[string]bool{}
	for _, s := range g.reg.Sites().Path(d.Site) {
		above[s.ID] = true
	}
	return g.reg.Residents().List(func(p registry.Resident) bool { return p.Wellbeing.On() && above[p.Home] })
}

// lifeSignOf records a sign of life of device d at at and resolves the
// no-activity alarms it ends. It returns residentsOf(d).
func (g *Gateway) lifeSignOf(d registry.Device, at time.Time) []registry.Resident {
	ps := g.residentsOf(d)
	for _, p := range ps {
		g.care.mu.Lock()
		r := g.care.rec(p.ID, at)
		if at.After(r.LastActivity) {
			r.LastActivity = at.UTC()
			g.care.dirty[p.ID] = true
		}
		g.care.mu.Unlock()
		a, err := g.eng.EndSiteCondition(p.Home, TypeNoActivity, "activity from "+d.ID)
		if err != nil {
			g.log.Error("no-activity alarm not closed", "resident", p.ID, "device", d.ID, "err", err)
		} else if a != nil {
			g.log.Info("resident active again", "resident", p.ID, "device", d.ID, "alarm", a.ID)
		}
	}
	return ps
}

// careEvent records what a durable event means to the wellbeing rules:
// a sign of life, and, for a call press that raised its alarm, the
// check-in of a resident whose rule counts their call button's presses.
func (g *Gateway) careEvent(d registry.Device, ev devices.Event, arrived time.Time) {
	if !lifeSign(ev.Type) {
		return
	}
	ps := g.lifeSignOf(d, arrived)
	if ev.Type != devices.CallPress {
		return
	}
	for _, p := range ps {
		if p.ID == d.Resident && p.Wellbeing.CheckinShortPress && p.Wellbeing.CheckinBy != "" {
			if err := g.checkIn(p, d, arrived); err != nil {
				g.log.Error("check-in lost", "resident", p.ID, "device", d.ID, "err", err)
			}
		}
	}
}

// checkinPress reports whether ev is a check-in rather than a call: a
// press of a dedicated check-in button (Device.CheckinButton), or a short
// press (devices.ShortPress) of a call button assigned to a resident whose
// rule makes it one (Wellbeing.CheckinShortPress). Anything else, a press
// that does not say how long it was held included, is a call: a call
// taken for a check-in would leave an elder waiting for help.
func (g *Gateway) checkinPress(d registry.Device, ev devices.Event) bool {
	if ev.Type != devices.CallPress {
		return false
	}
	if d.CheckinButton() {
		return true
	}
	if d.Resident == "" || !devices.ShortPress(ev) {
		return false
	}
	p, ok := g.reg.Residents().Get(d.Resident)
	return ok && p.Wellbeing.On() && p.Wellbeing.CheckinShortPress && p.Wellbeing.CheckinBy != ""
}

// takeCheckin records a check-in press of d (checkinPress) at arrived: a
// sign of life, and the check-in of every resident it counts for, stored.
// It calls only the store and the engine, so that a bridged device's
// decoding may call it under the device's adapter lock. An error means a
// check-in was not stored: the press must be sent again.
func (g *Gateway) takeCheckin(d registry.Device, arrived time.Time) error {
	for _, p := range g.lifeSignOf(d, arrived) {
		if err := g.checkIn(p, d, arrived); err != nil {
			return err
		}
	}
	return nil
}

// answerCheckin tells the device its press seq was taken as the check-in.
func (g *Gateway) answerCheckin(d registry.Device, seq uint64) {
	r := Reassure{Type: "reassure", Seq: seq, State: StateCheckedIn}
	b, _ := json.Marshal(r)
	g.hub.EmitAbout(d.ID, "reassure", r, d.Test)
	if err := g.broker.Publish(devices.Topic(d.ID, devices.ChannelCmd), b, false, 1); err != nil {
		g.log.Warn("check-in not answered", "device", d.ID, "err", err)
		return
	}
	g.metrics.reassured.WithLabelValues(StateCheckedIn).Inc()
}

// checkinButton handles a check-in press of a native device: the
// resident's check-in, stored before the device is answered "checked_in",
// and no call alarm. handled is false for any other event. An error means
// the check-in was not stored: the device gets no PUBACK and resends.
func (g *Gateway) checkinButton(d registry.Device, ev devices.Event, arrived time.Time) (handled bool, err error) {
	if !g.checkinPress(d, ev) {
		return false, nil
	}
	if err := g.takeCheckin(d, arrived); err != nil {
		return true, err
	}
	g.log.Info("check-in press", "device", d.ID, "seq", ev.Seq, "short", devices.ShortPress(ev))
	g.answerCheckin(d, ev.Seq)
	return true, nil
}

// checkIn records resident p's check-in through device d at at, durably,
// and resolves a missed-check-in alarm.
func (g *Gateway) checkIn(p registry.Resident, d registry.Device, at time.Time) error {
	g.care.mu.Lock()
	r := g.care.rec(p.ID, at)
	if at.After(r.LastCheckin) {
		r.LastCheckin = at.UTC()
	}
	rec := *r
	g.care.mu.Unlock()
	if err := g.db.PutWellbeings(map[string]state.Wellbeing{p.ID: rec}); err != nil {
		g.care.mu.Lock()
		g.care.dirty[p.ID] = true // the pass writes it
		g.care.mu.Unlock()
		return fmt.Errorf("check-in of %s not stored: %w", p.ID, err)
	}
	g.log.Info("resident checked in", "resident", p.ID, "device", d.ID)
	if _, err := g.eng.EndSiteCondition(p.Home, TypeMissedCheckin, "checked in on "+d.ID); err != nil {
		g.log.Error("missed-check-in alarm not closed", "resident", p.ID, "err", err)
	}
	return nil
}

// careTelemetry counts a band's step count going up as a sign of life.
func (g *Gateway) careTelemetry(d registry.Device, tm *devices.Telemetry, at time.Time) {
	steps, ok := tm.Fields["steps"]
	if !ok {
		return
	}
	g.care.mu.Lock()
	prev, seen := g.care.steps[d.ID]
	g.care.steps[d.ID] = steps
	g.care.mu.Unlock()
	if seen && steps > prev {
		g.lifeSignOf(d, at)
	}
}

// checkWellbeing runs every resident's rules at now and writes what
// changed; the supervision pass calls it.
func (g *Gateway) checkWellbeing(now time.Time) {
	for _, p := range g.reg.Residents().List(func(p registry.Resident) bool { return p.Wellbeing.On() }) {
		g.careRules(p, now)
	}
	g.care.mu.Lock()
	out := make(map[string]state.Wellbeing, len(g.care.dirty))
	for id := range g.care.dirty {
		out[id] = *g.care.recs[id]
	}
	clear(g.care.dirty)
	g.care.mu.Unlock()
	if len(out) == 0 {
		return
	}
	if err := g.db.PutWellbeings(out); err != nil {
		g.log.Error("wellbeing records not stored", "residents", len(out), "err", err)
		g.care.mu.Lock()
		for id := range out {
			g.care.dirty[id] = true
		}
		g.care.mu.Unlock()
	}
}

// careRules runs resident p's rules at now.
func (g *Gateway) careRules(p registry.Resident, now time.Time) {
	w := p.Wellbeing
	if p.Away(now) {
		return
	}
	loc := w.Location()
	g.care.mu.Lock()
	r := g.care.rec(p.ID, now)
	from := latest(r.LastActivity, r.Since, p.AwayUntil)
	noActivity := w.NoActivityHours > 0 && !r.NoActivityFrom.Equal(from) &&
		windowTime(from, now, loc, w.WindowStart, w.WindowEnd) >= time.Duration(w.NoActivityHours*float64(time.Hour))
	var deadline time.Time
	missed := false
	if w.CheckinBy != "" {
		by, _ := registry.ClockTime(w.CheckinBy)
		y, m, d := now.In(loc).Date()
		day := time.Date(y, m, d, 0, 0, 0, 0, loc)
		deadline = day.Add(by)
		missed = !now.Before(deadline) && deadline.After(latest(r.Since, p.AwayUntil)) &&
			r.LastCheckin.Before(day) && !r.MissedDeadline.Equal(deadline)
	}
	g.care.mu.Unlock()

	at := g.siteLocation(p.Home)
	at.Resident = p.Name
	if noActivity {
		note := fmt.Sprintf("%s: no activity for %gh within %s-%s (%s) since %s", p.Name, w.NoActivityHours,
			w.WindowStart, w.WindowEnd, w.TimeZone, from.In(loc).Format(time.DateTime))
		if a, _, err := g.eng.RaiseSiteCondition(at, TypeNoActivity, alerting.P2, note); err != nil {
			g.log.Error("no-activity alarm not stored", "resident", p.ID, "err", err)
		} else {
			g.log.Warn("resident inactive", "resident", p.ID, "home", p.Home, "since", from, "alarm", a.ID)
			g.care.mu.Lock()
			r.NoActivityFrom = from
			g.care.dirty[p.ID] = true
			g.care.mu.Unlock()
		}
	}
	if missed {
		note := fmt.Sprintf("%s: no check-in by %s (%s)", p.Name, w.CheckinBy, w.TimeZone)
		if a, _, err := g.eng.RaiseSiteCondition(at, TypeMissedCheckin, alerting.P2, note); err != nil {
			g.log.Error("missed-check-in alarm not stored", "resident", p.ID, "err", err)
		} else {
			g.log.Warn("check-in missed", "resident", p.ID, "home", p.Home, "deadline", deadline, "alarm", a.ID)
			g.care.mu.Lock()
			r.MissedDeadline = deadline
			g.care.dirty[p.ID] = true
			g.care.mu.Unlock()
		}
	}
}

func latest(ts ...time.Time) time.Time {
	var m time.Time
	for _, t := range ts {
		if t.After(m) {
			m = t
		}
	}
	return m
}

// windowTime is how much of [from, to) lies inside the daily window
// start-end in loc ("HH:MM"; an end at or before the start runs past
// midnight). Silence of more than maxWindowDays counts as all window.
func windowTime(from, to time.Time, loc *time.Location, start, end string) time.Duration {
	const maxWindowDays = 60
	if !from.Before(to) {
		return 0
	}
	if to.Sub(from) > maxWindowDays*24*time.Hour {
		return to.Sub(from)
	}
	ws, _ := registry.ClockTime(start)
	we, _ := registry.ClockTime(end)
	if we <= ws {
		we += 24 * time.Hour
	}
	y, m, d := from.In(loc).Date()
	var sum time.Duration
	for day := time.Date(y, m, d-1, 0, 0, 0, 0, loc); day.Before(to); day = time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, loc) {
		lo, hi := latest(from, day.Add(ws)), day.Add(we)
		if to.Before(hi) {
			hi = to
		}
		if hi.After(lo) {
			sum += hi.Sub(lo)
		}
	}
	return sum
}
