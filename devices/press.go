package devices

import (
	"math"
	"time"
)

// A call button may say how long it was held: a call.press with
// data.press_ms, the milliseconds between press and release. A short press
// (under ShortPressMax) is how an elder whose rules allow it checks in for
// the day on their call button (平安钟); a press held longer, or one that
// does not say, is a call. When in doubt it is a call: ShortPress is true
// only for a number the device sent that is plainly short.

// DataPressMs is the data field of a call.press holding how long the
// button was held, in milliseconds.
const DataPressMs = "press_ms"

// ShortPressMax is the longest hold that is a short press. Emergency
// buttons that tell a long press from a short one are sold with 2-3 s for
// the long one; anything from 1 s up is a call.
const ShortPressMax = time.Second

// ShortPress reports whether ev is a call.press its device says was short:
// data.press_ms a finite number from 0 up to under ShortPressMax. A press
// without it, with a string, a negative number or anything else, is not.
func ShortPress(ev Event) bool {
	if ev.Type != CallPress {
		return false
	}
	ms, ok := ev.Data[DataPressMs].(float64)
	return ok && !math.IsNaN(ms) && ms >= 0 && ms < float64(ShortPressMax/time.Millisecond)
}
