package devices

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Kind names what a device is for.
type Kind string

// The device kinds anxin knows.
const (
	KindCallButton    Kind = "call_button"
	KindPullCord      Kind = "pull_cord"
	KindSmokeDetector Kind = "smoke_detector"
	KindGasDetector   Kind = "gas_detector"
	KindSafetyBand    Kind = "safety_band"
	KindBedSensor     Kind = "bed_sensor"
	// KindFallSensor is a ceiling or wall radar that watches a room for
	// falls. Its own pre-alarm states (the radar waiting to see whether the
	// person gets up) raise nothing; a confirmed fall raises band.fall, P1.
	KindFallSensor Kind = "fall_sensor"
	// KindMotionSensor and KindDoorSensor report activity only
	// (activity.motion, activity.door), never an alarm by themselves.
	KindMotionSensor Kind = "motion_sensor"
	KindDoorSensor   Kind = "door_sensor"
	// KindCheckinButton is a dedicated check-in button (平安钟): its press
	// (call.press) is the resident's daily check-in, never a call.
	KindCheckinButton Kind = "checkin_button"
	// KindEdgeBox is a Raspberry Pi edge box (gateway/EDGE.md): provisioned
	// at the site it serves, it forwards its devices' messages to central
	// and heartbeats every EdgeHeartbeat. Central supervises it like a
	// mains device and raises edge.offline, not device.offline, for it.
	KindEdgeBox Kind = "edge_box"
)

// EdgeHeartbeat is how often an edge box sends its telemetry (heartbeat_s).
const EdgeHeartbeat = 30 * time.Second

// DefaultHeartbeat is how often a native device checks in unless configured.
const DefaultHeartbeat = 60 * time.Second

// KindInfo is the record of one device kind: data, not code.
type KindInfo struct {
	Kind Kind
	// Events lists what this kind may report; the simulator presses these.
	Events []EventType
	// Heartbeat is the check-in interval of a native device of this kind.
	Heartbeat time.Duration
	// MissedHeartbeats before the device counts as offline.
	MissedHeartbeats int
	// BatteryLow is the battery percentage at or under which it is low; 0 for mains devices.
	BatteryLow float64
	// ForeignClass is the supervision class of a device of this kind that
	// does not speak the native protocol (Zigbee, a vendor's JSON, an IoT
	// platform): ClassZigbeeBattery for battery devices, which report
	// rarely, ClassZigbeeMains for mains devices. Native devices are
	// ClassNative whatever their kind.
	ForeignClass string
	// Checkin: a call.press of this kind is a check-in, never a call alarm.
	Checkin bool
}

// SupervisionWindow is how long the device may be silent before it is offline.
func (k KindInfo) SupervisionWindow() time.Duration {
	return k.Heartbeat * time.Duration(k.MissedHeartbeats)
}

// Fall radars are mains powered and report often; motion and door sensors
// run on a coin cell. A fall is reported as band.fall, the vocabulary's one
// fall event, which alerting already raises as a P1 fall alarm: a new event
// type would reach the alarm engine before its rule does and raise nothing.
var kinds = []KindInfo{
	{Kind: KindCallButton, Events: []EventType{CallPress, CallCancel, DeviceBatteryLow, DeviceTamper, DeviceFault},
		Heartbeat: DefaultHeartbeat, MissedHeartbeats: 3, BatteryLow: 20, ForeignClass: ClassZigbeeBattery},
	{Kind: KindPullCord, Events: []EventType{CallPullcord, CallCancel, DeviceFault},
		Heartbeat: DefaultHeartbeat, MissedHeartbeats: 3, ForeignClass: ClassZigbeeMains},
	{Kind: KindSmokeDetector, Events: []EventType{SmokeAlarm, SmokeClear, SmokeTest, DeviceBatteryLow, DeviceTamper, DeviceFault},
		Heartbeat: DefaultHeartbeat, MissedHeartbeats: 3, BatteryLow: 20, ForeignClass: ClassZigbeeBattery},
	{Kind: KindGasDetector, Events: []EventType{GasAlarm, GasClear, DeviceFault},
		Heartbeat: DefaultHeartbeat, MissedHeartbeats: 3, ForeignClass: ClassZigbeeMains},
	{Kind: KindSafetyBand, Events: []EventType{BandSOS, BandFall, BandRemoved, BandWorn, BandGeofenceExit, BandHRAbnormal, DeviceBatteryLow},
		Heartbeat: DefaultHeartbeat, MissedHeartbeats: 3, BatteryLow: 15, ForeignClass: ClassZigbeeBattery},
	{Kind: KindBedSensor, Events: []EventType{BedExit, DeviceFault},
		Heartbeat: DefaultHeartbeat, MissedHeartbeats: 3, ForeignClass: ClassZigbeeMains},
	{Kind: KindFallSensor, Events: []EventType{BandFall, ActivityMotion, DeviceFault},
		Heartbeat: DefaultHeartbeat, MissedHeartbeats: 3, ForeignClass: ClassZigbeeMains},
	{Kind: KindMotionSensor, Events: []EventType{ActivityMotion, DeviceBatteryLow, DeviceTamper},
		Heartbeat: DefaultHeartbeat, MissedHeartbeats: 3, BatteryLow: 20, ForeignClass: ClassZigbeeBattery},
	{Kind: KindEdgeBox, Events: []EventType{DeviceTamper, DeviceFault},
		Heartbeat: EdgeHeartbeat, MissedHeartbeats: 3, ForeignClass: ClassZigbeeMains},
	{Kind: KindDoorSensor, Events: []EventType{ActivityDoor, DeviceBatteryLow, DeviceTamper},
		Heartbeat: DefaultHeartbeat, MissedHeartbeats: 3, BatteryLow: 20, ForeignClass: ClassZigbeeBattery},
	{Kind: KindCheckinButton, Events: []EventType{CallPress, DeviceBatteryLow, DeviceTamper, DeviceFault},
		Heartbeat: DefaultHeartbeat, MissedHeartbeats: 3, BatteryLow: 20, ForeignClass: ClassZigbeeBattery, Checkin: true},
}

// LookupKind returns the record of a kind.
func LookupKind(k Kind) (KindInfo, error) {
	i := slices.IndexFunc(kinds, func(ki KindInfo) bool { return ki.Kind == k })
	if i < 0 {
		names := make([]string, 0, len(kinds))
		for _, ki := range kinds {
			names = append(names, string(ki.Kind))
		}
		return KindInfo{}, fmt.Errorf("unknown device kind %q (known: %s)", k, strings.Join(names, ", "))
	}
	return kinds[i], nil
}

// Kinds lists the known kinds.
func Kinds() []Kind {
	out := make([]Kind, len(kinds))
	for i, k := range kinds {
		out[i] = k.Kind
	}
	return out
}
