package gateway

import (
	"testing"
	"time"
)

// TestWindowTime: only time inside the daily window counts as silence:
// the night between two days does not, and a window past midnight does.
func TestWindowTime(t *testing.T) {
	sh, _ := time.LoadLocation("Asia/Shanghai")
	at := func(day, h, m int) time.Time { return time.Date(2026, 11, day, h, m, 0, 0, sh) }
	for _, c := range []struct {
		from, to   time.Time
		start, end string
		want       time.Duration
	}{
		{at(23, 8, 0), at(23, 12, 0), "07:00", "22:00", 4 * time.Hour},
		{at(23, 21, 0), at(24, 10, 0), "07:00", "22:00", 4 * time.Hour}, // 21-22, then 07-10
		{at(23, 23, 0), at(24, 6, 0), "07:00", "22:00", 0},
		{at(23, 5, 0), at(23, 8, 0), "07:00", "22:00", time.Hour},
		{at(23, 23, 0), at(24, 2, 0), "22:00", "06:00", 3 * time.Hour},
		{at(23, 0, 0), at(25, 0, 0), "00:00", "00:00", 48 * time.Hour}, // the whole day
		{at(23, 12, 0), at(23, 12, 0), "07:00", "22:00", 0},
	} {
		if got := windowTime(c.from, c.to, sh, c.start, c.end); got != c.want {
			t.Errorf("windowTime(%s, %s, %s-%s) = %s, want %s", c.from.Format(time.DateTime), c.to.Format(time.DateTime), c.start, c.end, got, c.want)
		}
	}
}
