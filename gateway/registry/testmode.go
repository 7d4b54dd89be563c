package registry

import "time"

// Walk-test mode as the registry stores it: a switch and a deadline
// (Device.Test, Device.TestUntil). The gateway's testmode.go says how the
// mode is switched, told to the device and ended.

const (
	// DefaultTestDuration is how long walk-test mode lasts when the
	// installer gives no duration.
	DefaultTestDuration = 2 * time.Hour
	// MaxTestDuration is the longest walk-test mode an installer may ask for.
	MaxTestDuration = 24 * time.Hour
)

// InTest reports whether the device is in walk-test mode at now.
func (d Device) InTest(now time.Time) bool { return d.Test && now.Before(d.TestUntil) }

// settleTest keeps Test and TestUntil together when a device is written at
// now: switching test mode on without a deadline gives it the default one,
// switching it off clears the deadline. prev is the device before the
// change, nil for a new one; a device already switched on keeps its
// deadline, so that an unrelated change never extends a walk test.
func settleTest(d, prev *Device, now time.Time) {
	switch {
	case !d.Test:
		d.TestUntil = time.Time{}
	case d.TestUntil.IsZero() && (prev == nil || !prev.Test):
		d.TestUntil = now.UTC().Add(DefaultTestDuration)
	}
}
