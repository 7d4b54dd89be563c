// Package alerting is what happens to an alarm once a device has spoken.
//
// The Engine turns device events into alarms and keeps every open alarm in
// memory, backed by a Store that it writes through. An alarm has a priority
// (P1 life-safety, P2 wellbeing, P3 technical), a state (raised →
// acknowledged → dispatched → resolved, or cancelled), a repeat count and a
// timeline of who did what and when.
//
// Rules are data (rules.go): each event type either raises an alarm type at
// a priority, or clears some alarm types. There is one open, uncleared alarm
// per (device, alarm type); a repeat raises its count. A clear releases that
// slot, so the next alarm event raises a new alarm, never a hidden repeat.
//
// Durability: every method that changes an alarm hands its write to the
// Store while holding the engine's lock (so writes keep their order), then
// waits for the write to be synced without the lock (so concurrent callers
// share syncs), and only then tells subscribers and returns. A device may be
// acknowledged once HandleEvent has returned without error.
//
// Escalation (escalation.go) is driven by time passed in: Tick(now) fires due
// steps; Run sleeps until the next one is due. How many steps have fired is
// stored with the alarm, so after a restart pending steps fire on time and
// none fires twice.
//
// All Engine methods are safe for concurrent use. Subscribers are called on
// the goroutine that made a change and must not block.
package alerting
