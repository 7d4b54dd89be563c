package firmwaresim

import "errors"

// Sentinel errors. Callers test them with errors.Is; the wrapped message says
// which device, seq or field was involved.
var (
	// ErrTimeout means the gateway did not answer in time: no reassurance
	// reached the wanted state before the deadline.
	ErrTimeout = errors.New("timed out waiting for reassurance")
	// ErrUnsupportedEvent means the device's kind cannot report that event
	// type (a call button has no smoke sensor).
	ErrUnsupportedEvent = errors.New("event type not reported by this kind of device")
	// ErrNotConnected means the device was used before Connect or after Close.
	ErrNotConnected = errors.New("device is not connected")
	// ErrLost means a bench run finished with presses that never got their
	// reassurance.
	ErrLost = errors.New("presses lost")
	// ErrInvalidConfig wraps every configuration problem, naming the field.
	ErrInvalidConfig = errors.New("invalid configuration")
)
