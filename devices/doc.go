// Package devices describes what a device is and what it says.
//
// It holds the canonical Event that every wire format is decoded into, the
// fixed vocabulary of event types and telemetry fields, the table of device
// kinds (with their supervision windows and classes), and the decoders
// (adapters) that turn a wire payload into events. The native anxin
// protocol (DESIGN.md §2) is the reference decoder; other formats are added
// as adapters.
//
// Decoders are pure functions of (topic, payload, time): they do no network
// or disk I/O and are safe to call from many goroutines at once. Every
// payload a decoder refuses comes back as a *RejectError carrying a Reason
// from the fixed list in errors.go, so that callers can count and log
// rejections by reason without parsing error strings.
//
// # Kinds and events
//
// kinds.go is the table of device kinds. A fall_sensor (ceiling radar)
// raises band.fall, P1, only when the radar confirms a fall, whether or not
// a pre-alarm came first; its pre-alarm states raise nothing.
// motion_sensor and door_sensor raise activity.motion and activity.door:
// activity events (EventType.Activity) that never raise an alarm and that
// the wellbeing rule "no activity for N hours" reads as signs of life.
// checkin_button is a dedicated check-in button (KindInfo.Checkin): its
// call.press is a check-in, never a call. A call button may say how long
// it was held (data.press_ms, press.go): ShortPress is true only for a
// plainly short press, which a resident's rule may take as the check-in.
//
// # Zigbee2MQTT, model-aware
//
// Zigbee2MQTT publishes each device's model in its retained bridge/devices.
// DecodeZ2MDevices turns that into a Z2MDevices table (friendly name →
// model); the adapter decodes a device whose model has a record in
// z2mModels (z2m_models.go) by that record, so that an SOS button raises a
// call on whatever its vendor calls a press, and any other device by the
// generic field table, listing it as "generic" (Z2MDevices.Listing).
// Zigbee2MQTT.Bridge classifies the bridge's own topics, which are never
// rejections.
//
// # IoT platform pushes
//
// NB-IoT devices report through their carrier's platform, which pushes
// over HTTP. DecodePush (CTWing, OneNET) turns a pushed body into Pushes:
// the platform's message id, the device reference and the message that a
// vendor_json adapter's rules read under IngestTopic. VerifyToken,
// VerifyOneNET and VerifyHMACSHA256 authenticate a push, in constant time.
//
// # Wiring in the gateway
//
// The gateway (not this package) is expected to:
//   - Zigbee2MQTT: before Match, ask Zigbee2MQTT.Bridge(topic). BridgeMeta:
//     accept and drop, uncounted. BridgeDevices: DecodeZ2MDevices, count
//     the skipped entries as bad_field, replace the in-memory table whole
//     (an atomic pointer) and, optionally, persist it so that it is there
//     before the retained copy is replayed. For a device topic, set
//     Input.Model = table.Model(ref) before Decode. Serve table.Listing()
//     to installers, where "generic" marks devices decoded without a record.
//   - Kinds: provision the new kinds like the others; the supervision class
//     of a non-native device is KindInfo.ForeignClass, or, for a Zigbee
//     device the bridge listed, Z2MDevice.SupervisionClass when not "".
//   - POST /ingest/v1/{integration}: look the integration up (platform,
//     token or secret, its vendor_json adapter whose topic is
//     ingest/{integration}/{device}); bound the body to MaxPushBody;
//     authenticate (CTWing: VerifyToken on the URL's token; OneNET:
//     VerifyOneNET on the body, and OneNETURLCheck to answer the GET
//     address check) and answer 401 on unauthenticated or bad_signature;
//     DecodePush, and answer 400 on a rejection; for each push whose ID the
//     store does not yet hold for the integration, map Push.Device (or
//     Push.IMEI) to a provisioned device, decode PushData and PushEvent
//     through the adapter with Push.Input, turn PushOnline and PushOffline
//     into a Status, drop PushOther; store the events, the adapter state
//     and the push ID in one durable commit, and only then answer 200. A
//     push whose ID is already held gets 200 and nothing else.
package devices
