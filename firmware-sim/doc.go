// Package firmwaresim simulates anxin devices as their firmware really
// behaves on the wire, and measures the gateway from the device's side.
//
// # Devices
//
// A Device is one call button, pull cord, smoke or gas detector, safety band
// or bed sensor speaking the native protocol (DESIGN.md §2) through
// paho.mqtt.golang. New validates a Config; Connect opens a persistent MQTT
// session (client id = username = device id, CleanSession=false) with the
// will {"online":false}, subscribes to its cmd topic, then publishes a
// retained {"online":true,…} status and a first telemetry reading. From then
// on it sends telemetry every heartbeat (QoS 0) with readings plausible for
// its kind (the profiles table in profile.go, data rather than code), and
// reconnects by itself with jittered backoff. The reconnection is the
// device's own loop, not paho's AutoReconnect: paho resends stored messages
// concurrently with its OnConnect handler, and a publish made then is sent
// twice and races inside paho (eclipse-paho/paho.mqtt.golang#703). Close
// switches the device off politely (explicit offline status, clean
// disconnect); PowerCut drops the socket without a DISCONNECT, so the broker
// publishes the will, and a later Connect is a reboot. Unacknowledged events
// live in RAM, as on most buttons: a reboot loses them, the seq survives.
//
// Press publishes an event (QoS 1) with the device's next seq and returns at
// the broker's PUBACK. While the link is down it holds the event and sends it
// once the device is back; if the link fails under a publish it sends the
// same payload, same seq, again. The seq is a per-device counter kept in
// StateDir/{id}.json and written (temporary file, fsync, rename, fsync of the
// directory) before the event is handed to MQTT: a crash may skip a seq but
// never reuses one, because (device, seq) is the gateway's idempotency key
// and a reused seq would be dropped as a repeat. A corrupt state file is an
// error, not a reset to 1, for the same reason.
// Config.SeqReserve > 1 writes a high-water mark that covers several presses,
// as flash-conscious firmware does; load tests use it to keep fsync off the
// measured path.
//
// The device applies what the gateway sends on cmd: reassurances are
// recorded by seq, "silence" mutes the sounder, "config" sets the heartbeat
// (clamped to MinHeartbeat..MaxHeartbeat). Wait blocks until a seq's
// reassurance reaches a state (a later state counts, since the gateway may
// skip one) and reports the round trip from the press.
//
// # Load generation
//
// Bench connects a fleet and presses at a fixed total rate on an open-loop
// schedule: press i is due at start + i/rate whether or not earlier presses
// have been answered, and its latency runs from that planned time to the
// "received" reassurance. A stalled gateway therefore shows up as latency
// and as lost presses, instead of silently slowing the generator down
// (coordinated omission).
//
// # Concurrency
//
// Device methods are safe for concurrent use. Presses on one device are
// serialised from seq allocation until the publish is queued, so the
// gateway sees each device's seqs in order (a resend after a link failure
// may overtake later presses, as on real hardware). Commands are handled on
// paho's delivery goroutine in arrival order; Config.OnCommand runs there
// too and must not block. Every goroutine a Device starts ends with Close or
// PowerCut; every loop is bounded by a context, a deadline or the schedule.
//
// # Fleets and scenarios
//
// A fleet file is the registry's device import CSV (fleetfile.go), with
// its sites and residents beside it; GenerateFleet makes one of homes and
// institutions, ProvisionFleet creates it on a gateway. RunScenario
// replays a script (package scenario: "at 10s smoke home-12/kitchen") on a
// fleet: event steps press one device at the target, storms every device
// of a building within a second, uplink drops take a building's network
// away (LinkDown: the device notices and reconnects with backoff), and
// press and telemetry rates run in the background. Package versus runs the
// side-by-side benchmark against Mosquitto.
//
// Run is what cmd/firmware-sim calls: "press" (one event and its
// reassurances), "run" (a device online with commands from stdin), "bench"
// (a rate, or a scenario on a fleet), "fleet" (generate a fleet file) and
// "provision" (devices created through POST /api/v1/devices, or a fleet
// through the bulk import, printed as the id,password CSV that bench
// --devices-file reads). Test helpers (an
// embedded broker, a fake gateway that answers with the real decoder) live
// in simtest.
package firmwaresim
