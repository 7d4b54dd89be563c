package registry

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/anxin-care/anxin/gateway/state"
)

// Wellbeing (主动关爱, 平安钟) rules of a resident, optional, stored with
// the resident; the gateway's wellbeing.go runs them.
type Wellbeing struct {
	// NoActivityHours: no sign of life from any of the resident's devices
	// for this many hours, counted only inside the daily window, raises a
	// P2 wellbeing.no_activity alarm. 0: no such rule.
	NoActivityHours float64 `json:"no_activity_hours,omitempty"`
	// WindowStart and WindowEnd are the daily window, "HH:MM" in TimeZone
	// (default 07:00-22:00); an end at or before the start runs past midnight.
	WindowStart string `json:"window_start,omitempty"`
	WindowEnd   string `json:"window_end,omitempty"`
	// CheckinBy: a daily check-in press expected by this time, "HH:MM"
	// in TimeZone, raises a P2 wellbeing.missed_checkin alarm when none
	// came that day. "": no such rule.
	CheckinBy string `json:"checkin_by,omitempty"`
	// CheckinShortPress: a short press (devices.ShortPress) on a call
	// button assigned to the resident is their check-in, answered
	// "checked_in", and raises no call alarm; any other press of it still
	// raises its call alarm, and counts as the check-in too. Needs
	// CheckinBy. A dedicated check-in button (Device.CheckinButton) always
	// counts, and never raises a call alarm.
	CheckinShortPress bool `json:"checkin_short_press,omitempty"`
	// TimeZone of the window and the check-in time; DefaultWellbeingZone
	// when empty.
	TimeZone string `json:"time_zone,omitempty"`
}

// UnmarshalJSON reads the rules, also as stored before short presses:
// checkin_call_press (every press counted, and raised its alarm) reads as
// checkin_short_press, which does the same for a press that does not say
// it was short.
func (w *Wellbeing) UnmarshalJSON(b []byte) error {
	type plain Wellbeing
	var v struct {
		plain
		CallPress bool `json:"checkin_call_press"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*w = Wellbeing(v.plain)
	w.CheckinShortPress = w.CheckinShortPress || v.CallPress
	return nil
}

// Defaults of the wellbeing rules.
const (
	DefaultWellbeingZone = "Asia/Shanghai"
	DefaultWindowStart   = "07:00"
	DefaultWindowEnd     = "22:00"
)

// On reports whether any rule is set.
func (w *Wellbeing) On() bool { return w != nil && (w.NoActivityHours > 0 || w.CheckinBy != "") }

// Location is the rules' time zone.
func (w *Wellbeing) Location() *time.Location {
	loc, err := time.LoadLocation(orDefault(w.TimeZone, DefaultWellbeingZone))
	if err != nil {
		return time.UTC // checked on every write: not reached
	}
	return loc
}

// ClockTime parses "HH:MM" as minutes after midnight.
func ClockTime(s string) (time.Duration, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, fmt.Errorf("%q: want a time of day such as 07:30", s)
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

// checkWellbeing validates the rules and fills the defaults; rules with
// nothing set are dropped.
func checkWellbeing(p *Resident) error {
	w := p.Wellbeing
	if w == nil {
		return nil
	}
	if !w.On() {
		p.Wellbeing = nil
		return nil
	}
	if w.NoActivityHours < 0 || w.NoActivityHours > 72 {
		return state.FieldErrorf("wellbeing.no_activity_hours", "%g: want 0 (off) to 72 hours", w.NoActivityHours)
	}
	if w.NoActivityHours > 0 {
		w.WindowStart, w.WindowEnd = orDefault(w.WindowStart, DefaultWindowStart), orDefault(w.WindowEnd, DefaultWindowEnd)
		for field, v := range map[string]string{"window_start": w.WindowStart, "window_end": w.WindowEnd} {
			if _, err := ClockTime(v); err != nil {
				return &state.FieldError{Field: "wellbeing." + field, Err: err}
			}
		}
	}
	if w.CheckinBy != "" {
		if _, err := ClockTime(w.CheckinBy); err != nil {
			return &state.FieldError{Field: "wellbeing.checkin_by", Err: err}
		}
	} else if w.CheckinShortPress {
		return state.FieldErrorf("wellbeing.checkin_short_press", "a short press is a check-in only with a check-in rule: set checkin_by too")
	}
	w.TimeZone = orDefault(w.TimeZone, DefaultWellbeingZone)
	if _, err := time.LoadLocation(w.TimeZone); err != nil {
		return state.FieldErrorf("wellbeing.time_zone", "%q: want an IANA zone such as Asia/Shanghai", w.TimeZone)
	}
	return nil
}

// Away reports whether the resident is marked away at now: no wellbeing
// rule fires.
func (p Resident) Away(now time.Time) bool { return now.Before(p.AwayUntil) }
