// Package alerting is what happens to an alarm once a device has spoken.
//
// The Engine turns device events into alarms and keeps every open alarm in
// memory, backed by a Store that it writes through. An alarm has a priority
// (P1 life-safety, P2 wellbeing, P3 technical), a state (raised →
// acknowledged → dispatched → resolved, or cancelled), a repeat count and a
// timeline of who did what and when.
//
// An alarm's subject is a device or a site (DESIGN.md §3): a device alarm
// names its Device and the room or bed it is at (Site); a site alarm
// (Subject SubjectSite: a site-level incident such as fire in two rooms)
// names only the home or institution it is about (Site). Device alarms
// come from device events (HandleEvent) and from conditions the gateway
// detects (RaiseCondition: offline, low battery); site alarms only from
// RaiseSiteCondition. The caller looks up where the subject is and hands
// it over as a Location: the engine never asks.
//
// Rules are data (rules.go): each event type either raises an alarm type at
// a priority, or clears some alarm types. There is one open, uncleared alarm
// per (subject, alarm type); a repeat raises its count. A clear releases
// that slot, so the next alarm event raises a new alarm, never a hidden
// repeat.
//
// Durability: every method that changes an alarm hands its write to the
// Store while holding the engine's lock (so writes keep their order), then
// waits for the write to be synced without the lock (so concurrent callers
// share syncs), and only then tells subscribers and returns. A device may be
// acknowledged once HandleEvent has returned without error. A write the
// store refuses is undone in memory together with every write queued
// behind it (txn.go), subscribers never hear of it, and the caller gets
// ErrStoreFailure: the device's resend or the operator's retry then
// behaves exactly as the first try.
//
// Escalation is driven by time passed in: Tick(now) asks the Escalator
// (escalator.go) what is due for each open alarm and Run sleeps until the
// next thing is. The Escalator is stateless: it finds the policy for the
// alarm's priority, subject and site subtree (policy.go), plans the due steps,
// repeats, acknowledgement reminders and the unattended notice from what
// the alarm has stored (plan.go: Progress), routes the alarm to the nearest
// site up the tree with anyone on duty (route.go, roster.go), and resolves
// each target into Notifications per channel. Tick records every fired item
// on the timeline and stores the progress with the alarm and the
// notifications (the store's outbox) in one write, then hands the
// notifications to the delivery pipeline (package notify: dedup, retry with
// backoff, every attempt recorded). So after a restart pending steps fire
// on time, late ones fire once, and none fires twice. A step whose write is
// refused is still delivered (nobody waits on a full disk), undone, and
// tried again every few seconds; the retry's notifications carry the same
// keys, so the dedup stage lets each through once.
//
// The wall clock may jump (a Raspberry Pi without a real-time clock is put
// right by NTP): the engine reads a monotonic clock beside it and moves the
// open alarms' times by a jump, so escalations keep their elapsed schedule
// (clockjump.go).
//
// Walk-test alarms go to installers and do not escalate, except that a P1
// nobody watches or takes within DefaultTestGrace is handed to operators
// (testmode.go).
//
// Correlation (correlate.go) and service levels (sla.go) are pure functions
// over alarms; the gateway runs them.
//
// All Engine methods are safe for concurrent use. Subscribers are called on
// the goroutine that made a change, without the engine's lock, and must not
// block. While holding its lock the engine calls only the clock, Store.Commit
// (which must queue, not wait for the disk), and from Tick the Escalator's
// SiteTree, Roster, SiteChannels and Operator and Options.Info: those must be
// quick, do no I/O and never call the Engine, and whatever locks they take
// must never be held by anyone calling the Engine. Options.Deliver is called
// without the lock.
package alerting
