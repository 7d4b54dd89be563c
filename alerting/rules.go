package alerting

import "github.com/anxin-care/anxin/devices"

// Alarm types: what an operator is asked to deal with.
const (
	TypeCall       = "call"
	TypePullcord   = "pullcord"
	TypeSmoke      = "smoke"
	TypeGas        = "gas"
	TypeSOS        = "sos"
	TypeFall       = "fall"
	TypeBandOff    = "band_removed"
	TypeGeofence   = "geofence_exit"
	TypeHeartRate  = "hr_abnormal"
	TypeBedExit    = "bed_exit"
	TypeTamper     = "tamper"
	TypeBatteryLow = "battery_low"
	TypeFault      = "fault"
	TypeOffline    = "offline"
)

// rule says what one event type does to alarms. An event either raises (or
// repeats) an alarm of one type, or ends the condition of some types; an
// event with no rule (smoke.test) is accepted and recorded but raises nothing.
type rule struct {
	raise    string
	priority Priority
	clears   []string
}

var rules = map[devices.EventType]rule{
	devices.CallPress:        {raise: TypeCall, priority: P1},
	devices.CallPullcord:     {raise: TypePullcord, priority: P1},
	devices.CallCancel:       {clears: []string{TypeCall, TypePullcord}},
	devices.SmokeAlarm:       {raise: TypeSmoke, priority: P1},
	devices.SmokeClear:       {clears: []string{TypeSmoke}},
	devices.GasAlarm:         {raise: TypeGas, priority: P1},
	devices.GasClear:         {clears: []string{TypeGas}},
	devices.BandSOS:          {raise: TypeSOS, priority: P1},
	devices.BandFall:         {raise: TypeFall, priority: P1},
	devices.BandRemoved:      {raise: TypeBandOff, priority: P2},
	devices.BandWorn:         {clears: []string{TypeBandOff}},
	devices.BandGeofenceExit: {raise: TypeGeofence, priority: P2},
	devices.BandHRAbnormal:   {raise: TypeHeartRate, priority: P2},
	devices.BedExit:          {raise: TypeBedExit, priority: P2},
	devices.DeviceTamper:     {raise: TypeTamper, priority: P3},
	devices.DeviceBatteryLow: {raise: TypeBatteryLow, priority: P3},
	devices.DeviceFault:      {raise: TypeFault, priority: P3},
}

// PriorityOf returns the priority an event type raises, and false for
// events that raise nothing.
func PriorityOf(t devices.EventType) (Priority, bool) {
	r, ok := rules[t]
	return r.priority, ok && r.raise != ""
}
