package gateway

import (
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
)

func TestNextShiftBoundary(t *testing.T) {
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	shifts := []alerting.Shift{
		{Site: "qs-town", Operator: "zhang", Start: "08:00", End: "20:00"},
		{Site: "qs-county", Operator: "zhao", Start: "20:00", End: "08:00", TZ: "Asia/Urumqi"},
	}
	at := func(day, h, m int, loc *time.Location) time.Time { return time.Date(2026, 11, day, h, m, 0, 0, loc) }
	urumqi, _ := time.LoadLocation("Asia/Urumqi")
	tests := []struct {
		now, want time.Time
	}{
		{at(23, 7, 0, shanghai), at(23, 8, 0, shanghai)},
		{at(23, 8, 0, shanghai), at(23, 10, 0, shanghai)}, // Urumqi's 08:00 is Shanghai's 10:00
		{at(23, 10, 0, shanghai), at(23, 20, 0, shanghai)},
		{at(23, 20, 0, shanghai), at(23, 20, 0, urumqi)},
		{at(23, 20, 0, urumqi), at(24, 8, 0, shanghai)},
	}
	for _, tt := range tests {
		got, ok := nextShiftBoundary(shifts, shanghai, tt.now)
		if !ok || !got.Equal(tt.want) {
			t.Errorf("after %s: %s, want %s", tt.now, got.In(shanghai), tt.want.In(shanghai))
		}
	}
	if _, ok := nextShiftBoundary(nil, shanghai, at(23, 7, 0, shanghai)); ok {
		t.Error("a boundary without shifts")
	}
}
