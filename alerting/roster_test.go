package alerting_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/alerting/alertingtest"
)

func TestShifts(t *testing.T) {
	v := alertingtest.Village
	urumqi := mustZone("Asia/Urumqi")
	// 2026-11-23 is a Monday.
	bj := func(day, h, m int) time.Time { return time.Date(2026, 11, day, h, m, 0, 0, shanghai) }
	tests := []struct {
		name  string
		shift alerting.Shift
		on    []time.Time
		off   []time.Time
	}{
		{"day shift", alerting.Shift{Site: v, Operator: "li", Start: "08:00", End: "20:00"},
			[]time.Time{bj(23, 8, 0), bj(23, 19, 59), bj(24, 12, 0)},
			[]time.Time{bj(23, 7, 59), bj(23, 20, 0), bj(23, 23, 0)}},
		{"night shift crosses midnight", alerting.Shift{Site: v, Operator: "li", Start: "20:00", End: "08:00"},
			[]time.Time{bj(23, 20, 0), bj(23, 23, 59), bj(24, 0, 0), bj(24, 7, 59)},
			[]time.Time{bj(23, 19, 59), bj(24, 8, 0), bj(24, 12, 0)}},
		{"weekdays only: the Friday night shift runs into Saturday", alerting.Shift{Site: v, Operator: "li",
			Weekdays: []string{"mon", "tue", "wed", "thu", "fri"}, Start: "22:00", End: "06:00"},
			[]time.Time{bj(27, 23, 0), bj(28, 5, 0)},
			[]time.Time{bj(28, 23, 0), bj(29, 23, 0), bj(23, 5, 0)}},
		{"24-hour shift", alerting.Shift{Site: v, Operator: "li", Weekdays: []string{"sun"}, Start: "08:00", End: "08:00"},
			[]time.Time{bj(29, 8, 0), bj(30, 7, 59)},
			[]time.Time{bj(30, 8, 0), bj(29, 7, 59)}},
		{"midnight end", alerting.Shift{Site: v, Operator: "li", Start: "16:00", End: "24:00"},
			[]time.Time{bj(23, 23, 59)}, []time.Time{bj(24, 0, 0)}},
		{"the shift's own zone: 09:00–18:00 in Urumqi is 11:00–20:00 in Beijing",
			alerting.Shift{Site: v, Operator: "li", Start: "09:00", End: "18:00", TZ: "Asia/Urumqi"},
			[]time.Time{bj(23, 11, 0), time.Date(2026, 11, 23, 17, 59, 0, 0, urumqi)},
			[]time.Time{bj(23, 10, 59), bj(23, 20, 0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRoster(t, []alerting.Shift{tt.shift})
			for _, at := range tt.on {
				if got := ids(r.OnDuty(v, at)); !slices.Equal(got, []string{"li"}) {
					t.Errorf("at %s: on duty %v, want [li]", at, got)
				}
			}
			for _, at := range tt.off {
				if got := r.OnDuty(v, at); len(got) != 0 {
					t.Errorf("at %s: on duty %v, want nobody", at, ids(got))
				}
			}
		})
	}
}

func TestCheckInAndOut(t *testing.T) {
	v := alertingtest.Village
	bj := func(day, h, m int) time.Time { return time.Date(2026, 11, day, h, m, 0, 0, shanghai) }
	r := newRoster(t, []alerting.Shift{{Site: v, Operator: "li", Start: "08:00", End: "20:00"}})
	for _, c := range []alerting.Check{
		{Site: v, Operator: "li", At: bj(23, 12, 0), In: false},  // goes home sick at noon
		{Site: v, Operator: "li", At: bj(24, 7, 30), In: true},   // comes in early next day
		{Site: v, Operator: "zhao", At: bj(24, 21, 0), In: true}, // covers the night, no shift planned
		{Site: v, Operator: "zhao", At: bj(25, 6, 0), In: false}, // and leaves
		{Site: v, Operator: "li", At: bj(24, 20, 30), In: true},  // overtime after her shift
		{Site: v, Operator: "li", At: bj(24, 22, 0), In: false},  // recorded after a later check: out of order
	} {
		if err := r.Check(c); err != nil {
			t.Fatal(err)
		}
	}
	want := []struct {
		at  time.Time
		ops []string
	}{
		{bj(23, 11, 59), []string{"li"}},
		{bj(23, 12, 0), nil},            // checked out
		{bj(23, 19, 0), nil},            // still out: the plan has not changed since
		{bj(24, 7, 0), nil},             // the plan says off before 08:00
		{bj(24, 7, 30), []string{"li"}}, // early check-in
		{bj(24, 9, 0), []string{"li"}},  // the plan took over at 08:00
		{bj(24, 20, 15), nil},           // shift over
		{bj(24, 21, 0), []string{"li", "zhao"}},
		{bj(24, 22, 0), []string{"zhao"}},
		{bj(25, 5, 59), []string{"zhao"}},
		{bj(25, 6, 0), nil},
		{bj(25, 8, 0), []string{"li"}},
	}
	for _, w := range want {
		if got := ids(r.OnDuty(v, w.at)); !slices.Equal(got, w.ops) {
			t.Errorf("at %s: on duty %v, want %v", w.at.Format("01-02 15:04"), got, w.ops)
		}
	}
	if err := r.Check(alerting.Check{Site: v, Operator: "nobody", At: bj(23, 1, 0), In: true}); !errors.Is(err, alerting.ErrUnknownOperator) {
		t.Fatalf("check-in of an unknown operator: %v, want ErrUnknownOperator", err)
	}
}

func TestRosterConfigErrors(t *testing.T) {
	tests := []struct {
		ops    []alerting.Operator
		shifts []alerting.Shift
		want   string
	}{
		{[]alerting.Operator{{ID: ""}}, nil, "operators[0].id is empty"},
		{[]alerting.Operator{{ID: "a"}, {ID: "a"}}, nil, `operators[1].id "a" appears twice`},
		{people, []alerting.Shift{{Site: "", Operator: "li", Start: "08:00", End: "20:00"}}, "shifts[0]: site is empty"},
		{people, []alerting.Shift{{Site: "s", Operator: "ghost", Start: "08:00", End: "20:00"}}, `shifts[0]: operator "ghost": unknown operator`},
		{people, []alerting.Shift{{Site: "s", Operator: "li", Start: "8:00", End: "20:00"}}, `shifts[0]: start "8:00"`},
		{people, []alerting.Shift{{Site: "s", Operator: "li", Start: "08:00", End: "25:00"}}, `shifts[0]: end "25:00"`},
		{people, []alerting.Shift{{Site: "s", Operator: "li", Start: "24:00", End: "08:00"}}, `shifts[0]: start "24:00"`},
		{people, []alerting.Shift{{Site: "s", Operator: "li", Start: "08:00", End: "20:00", Weekdays: []string{"mon", "funday"}}},
			`shifts[0]: weekdays[1] "funday"`},
		{people, []alerting.Shift{{Site: "s", Operator: "li", Start: "08:00", End: "20:00", TZ: "Mars/Olympus"}}, `shifts[0]: tz "Mars/Olympus"`},
	}
	for _, tt := range tests {
		_, err := alerting.NewDutyRoster(tt.ops, tt.shifts, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewDutyRoster: %v, want an error containing %q", err, tt.want)
		}
	}
}
