package devices

import "time"

// EventType is one word of the fixed event vocabulary (DESIGN.md §2).
type EventType string

// The event vocabulary. Adapters map vendor payloads onto these and nothing else.
const (
	CallPress    EventType = "call.press"
	CallCancel   EventType = "call.cancel"
	CallPullcord EventType = "call.pullcord"

	SmokeAlarm EventType = "smoke.alarm"
	SmokeClear EventType = "smoke.clear"
	SmokeTest  EventType = "smoke.test"

	GasAlarm EventType = "gas.alarm"
	GasClear EventType = "gas.clear"

	BandSOS          EventType = "band.sos"
	BandFall         EventType = "band.fall"
	BandRemoved      EventType = "band.removed"
	BandWorn         EventType = "band.worn"
	BandGeofenceExit EventType = "band.geofence_exit"
	BandHRAbnormal   EventType = "band.hr_abnormal"
	BedExit          EventType = "bed.exit"
	DeviceTamper     EventType = "device.tamper"
	DeviceBatteryLow EventType = "device.battery_low"
	DeviceFault      EventType = "device.fault"

	// Activity events say someone moved or a door opened. They never raise
	// an alarm by themselves: a wellbeing rule ("no activity from any of a
	// resident's devices for N hours", DESIGN.md §3) reads them as the
	// latest sign of life. They are events, not telemetry, because that
	// rule needs them durable and de-duplicated like any event; a sensor
	// raises one per episode (motion begins, a door opens), not per report.
	ActivityMotion EventType = "activity.motion"
	ActivityDoor   EventType = "activity.door"
)

var knownEventTypes = map[EventType]bool{
	CallPress: true, CallCancel: true, CallPullcord: true,
	SmokeAlarm: true, SmokeClear: true, SmokeTest: true,
	GasAlarm: true, GasClear: true,
	BandSOS: true, BandFall: true, BandRemoved: true, BandWorn: true,
	BandGeofenceExit: true, BandHRAbnormal: true, BedExit: true,
	DeviceTamper: true, DeviceBatteryLow: true, DeviceFault: true,
	ActivityMotion: true, ActivityDoor: true,
}

// Known reports whether t is in the event vocabulary.
func (t EventType) Known() bool { return knownEventTypes[t] }

// Activity reports whether t is an activity event: a sign of life that
// never raises an alarm by itself.
func (t EventType) Activity() bool { return t == ActivityMotion || t == ActivityDoor }

// Event is one thing a device reported, in canonical form.
type Event struct {
	Device string    `json:"device"`
	Seq    uint64    `json:"seq"`
	Type   EventType `json:"type"`
	// DeviceTime is the device's own clock, zero when absent or implausible.
	DeviceTime time.Time `json:"device_time,omitzero"`
	// Received is the gateway's clock when the payload arrived.
	Received time.Time      `json:"received"`
	Data     map[string]any `json:"data,omitempty"`
}

// Time is the best estimate of when the event happened: the device's clock
// when it is plausible, the gateway's receive time otherwise.
func (e Event) Time() time.Time {
	if !e.DeviceTime.IsZero() {
		return e.DeviceTime
	}
	return e.Received
}

// Telemetry is a set of numeric readings at one instant.
type Telemetry struct {
	Device string             `json:"device"`
	Time   time.Time          `json:"time"`
	Fields map[string]float64 `json:"fields"`
}

// The telemetry field vocabulary. Stores and dashboards use these names.
const (
	FieldBattery          = "battery"
	FieldRSSI             = "rssi"
	FieldLinkQuality      = "linkquality"
	FieldHR               = "hr"
	FieldSpO2             = "spo2"
	FieldTempC            = "temp_c"
	FieldSmokeObscuration = "smoke_obscuration"
	FieldGasLEL           = "gas_lel"
	FieldSteps            = "steps"
	// An edge box's heartbeat: how many messages its outbound queue holds
	// and the device time (ms) of the oldest, 0 when empty.
	FieldQueueDepth    = "queue_depth"
	FieldQueueOldestTS = "queue_oldest_ts"
)

var knownFields = map[string]bool{
	FieldBattery: true, FieldRSSI: true, FieldLinkQuality: true, FieldHR: true, FieldSpO2: true,
	FieldTempC: true, FieldSmokeObscuration: true, FieldGasLEL: true, FieldSteps: true,
	FieldQueueDepth: true, FieldQueueOldestTS: true,
}

// KnownField reports whether name is in the telemetry vocabulary.
func KnownField(name string) bool { return knownFields[name] }

// Status is what a device says of itself on its retained status topic.
type Status struct {
	Device   string    `json:"device"`
	Online   bool      `json:"online"`
	Firmware string    `json:"fw,omitempty"`
	Model    string    `json:"model,omitempty"`
	Time     time.Time `json:"time"`
}

// plausibleSkew bounds how far a device clock may be from the gateway's
// before the gateway ignores it: buttons without RTC report 1970 after a
// power cut, and a bad NTP answer can put them in the future.
const plausibleSkew = 24 * time.Hour

// deviceTime converts a device's millisecond timestamp, returning zero when
// it is absent or implausible against now.
func deviceTime(ms int64, now time.Time) time.Time {
	if ms <= 0 {
		return time.Time{}
	}
	t := time.UnixMilli(ms).UTC()
	if d := t.Sub(now); d > plausibleSkew || d < -plausibleSkew {
		return time.Time{}
	}
	return t
}
