// Package devices describes what a device is and what it says.
//
// It holds the canonical Event that every wire format is decoded into, the
// fixed vocabulary of event types and telemetry fields, the table of device
// kinds (with their supervision windows), and the decoders (adapters) that
// turn a wire payload into events. The native anxin protocol (DESIGN.md §2)
// is the reference decoder; other formats are added as adapters.
//
// Decoders are pure functions of (topic, payload, time): they do no network
// or disk I/O and are safe to call from many goroutines at once. Every
// payload a decoder refuses comes back as a *RejectError carrying a Reason
// from the fixed list in errors.go, so that callers can count and log
// rejections by reason without parsing error strings.
package devices
