// Package edge is the edge box: what a gateway with an `edge:` section
// (Config) adds to itself when it runs on a Raspberry Pi in a room or a
// small institution. The gateway around it stays whole (broker, alarms,
// console for its site); this package holds only the box's own parts, and
// never imports gateway: the gateway hands it what it needs (Deps).
//
//   - Pins (button.go, panel.go): wired call buttons and pull cords as
//     inputs with the pull-up, both edges, a debounce window and a long
//     press that cancels; an LED and a buzzer as outputs playing named
//     patterns. Pins come from periph.io's registry (gpioreg) by their Pi
//     header names; the drivers are registered by cmd/anxin (host.Init,
//     or the test-only fakepins), and tests register gpiotest pins.
//   - The indicator (indicator.go) decides what the LED and the buzzer show
//     from local facts only: a press lights "raised" at once, smoke sounds
//     the buzzer at once, central's silence past confirm_timeout shows
//     "not yet delivered".
//   - The queue (queue.go) is the outbound queue to central in the
//     gateway's state file (package state, bucket edge_outbound). The
//     gateway writes an event's entry in the event's own write (QueueEvent
//     gives the record), so a device's PUBACK means both are durable.
//   - The uplink (uplink.go) is one paho connection at a time to central:
//     it sends the queue in order, removes an entry only on its PUBACK on
//     the current connection, relays central's commands back, heartbeats
//     the queue depth. Sync messages (sync.go) carry operators' actions on
//     the box to central's timeline; central's side is in package gateway.
//
// Time: the box's timers run on the monotonic clock (Clock); FakeClock
// drives them in tests, with a wall clock that can jump as a Pi's does
// when NTP first corrects it. (The gateway's own timers, escalation and
// supervision, handle such jumps too: alerting/clockjump.go,
// gateway/clockjump.go.)
//
// Subscriptions (subscriptions.go): the uplink holds central's cmd topic
// of the box and of every device on it, made on connect and reconciled
// when devices are added or removed (DevicesChanged). After a restart,
// Resume shows the calls still open, a queued one as not yet delivered.
//
// Concurrency: Box's methods are safe for concurrent use. Its locks are
// leaves to the gateway: indicator.mu (taken first), then output.mu, then
// the clock's; Queue.mu and uplink.mu are held only around their fields.
// Nothing is called out of the package under them, except the pins and
// the store; paho's handlers never block (commands go through a bounded
// channel to the relay goroutine).
package edge
