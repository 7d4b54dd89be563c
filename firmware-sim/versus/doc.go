// Package versus runs the same load against anxin and against what a user
// would otherwise build, Debian's Mosquitto with a minimal responder, and
// prints one table with both and their ratios. cmd/firmware-sim calls it
// for "bench --against mosquitto".
//
// # The two sides
//
// anxin is started from a binary with a temporary data directory, an admin
// to provision with and the per-device throttle raised (or used at a given
// address, without CPU, RSS and restart). Mosquitto runs from a temporary
// config (loopback, no persistence, set_tcp_nodelay) with the responder
// beside it: this same binary re-executed (MaybeRunResponder), so that the
// responder's CPU and memory are read from /proc with Mosquitto's, as a
// user's own responder would be. Both sides get the same devices: anxin's
// through the bulk import, Mosquitto lets anyone in.
//
// # Measures and rounds
//
// Run goes round by round, measure by measure, anxin first in odd rounds
// and Mosquitto first in even ones, so that a machine's drift hits both.
// Each measure (measures.go) connects its own devices, which keep their seq
// in a state directory per side across rounds and restarts. Presses follow
// an open-loop schedule and are measured from their planned time, so a
// stalled server shows as latency, not as a slower generator. The table
// pools latencies over rounds and takes the median of one-figure measures.
//
// # Load on this side
//
// Pressing devices are firmwaresim Devices (paho, seq files); telemetry
// comes from plain paho clients on a 10 ms tick; idle devices are raw MQTT
// sessions without a goroutine each, so that 100,000 fit beside the server.
// Devices spread over 127.0.0.1 … 127.0.0.N, past the ephemeral ports of
// one source address; Run raises RLIMIT_NOFILE when it may.
//
// Run blocks until the table is complete; cancelling ctx stops it between
// measures and returns the rows so far. The servers and every device it
// started end with it.
package versus
