package registry

import (
	"encoding/json"
	"testing"
)

// TestWellbeingReadsOlderCallPress: rules stored before short presses,
// with checkin_call_press, read as checkin_short_press; the other fields
// read as they are.
func TestWellbeingReadsOlderCallPress(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Wellbeing
	}{
		{`{"checkin_by":"09:00","checkin_call_press":true}`, Wellbeing{CheckinBy: "09:00", CheckinShortPress: true}},
		{`{"checkin_by":"09:00","checkin_short_press":true}`, Wellbeing{CheckinBy: "09:00", CheckinShortPress: true}},
		{`{"no_activity_hours":4,"time_zone":"Asia/Urumqi"}`, Wellbeing{NoActivityHours: 4, TimeZone: "Asia/Urumqi"}},
	} {
		t.Run(c.in, func(t *testing.T) {
			var w Wellbeing
			if err := json.Unmarshal([]byte(c.in), &w); err != nil || w != c.want {
				t.Fatalf("read %+v %v, want %+v", w, err, c.want)
			}
		})
	}
}

// FuzzWellbeingJSON: reading rules (an API body, a stored record) never
// panics, and an accepted body reads the older field as the newer one.
func FuzzWellbeingJSON(f *testing.F) {
	for _, s := range []string{`{"checkin_by":"09:00","checkin_call_press":true}`, `{"checkin_short_press":false}`,
		`{"no_activity_hours":"4"}`, `null`, `[]`, `{"checkin_call_press":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var w Wellbeing
		if json.Unmarshal(b, &w) != nil {
			return
		}
		var raw struct {
			Short *bool `json:"checkin_short_press"`
			Call  *bool `json:"checkin_call_press"`
		}
		if json.Unmarshal(b, &raw) == nil && raw.Call != nil && *raw.Call && !w.CheckinShortPress {
			t.Fatalf("checkin_call_press true read as no short-press rule: %s", b)
		}
	})
}
