package firmwaresim

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/anxin-care/anxin/devices"
)

// reading is one telemetry field a kind reports: a mean with jitter, rounded
// to a number of decimals. A counter (steps) grows by up to jitter per
// heartbeat instead.
type reading struct {
	field    string
	mean     float64
	jitter   float64
	decimals int
	counter  bool
	// diurnal is the amplitude of a day/night rhythm around mean: highest
	// mid-afternoon, lowest in the small hours (heart rate, temperature).
	diurnal float64
}

// profile is what the simulator needs to know about a kind beyond the kinds
// table in devices: data, so that a new kind is a new record.
type profile struct {
	model   string
	battery bool              // battery powered: reports and drains battery
	primary devices.EventType // what a plain "press" means on this device
	clear   devices.EventType // what "clear" means; "" when nothing to clear
	// readings always reported; alarmed overrides some while the primary
	// condition holds (a smoke detector in alarm sees smoke).
	readings []reading
	alarmed  map[string]float64
}

var rssi = reading{field: devices.FieldRSSI, mean: -67, jitter: 5}

var profiles = map[devices.Kind]profile{
	devices.KindCallButton: {model: "CB-200", battery: true, primary: devices.CallPress, clear: devices.CallCancel,
		readings: []reading{rssi}},
	devices.KindPullCord: {model: "PC-100", primary: devices.CallPullcord, clear: devices.CallCancel,
		readings: []reading{rssi}},
	devices.KindSmokeDetector: {model: "SD-300", battery: true, primary: devices.SmokeAlarm, clear: devices.SmokeClear,
		readings: []reading{rssi, {field: devices.FieldSmokeObscuration, mean: 0.03, jitter: 0.01, decimals: 2}},
		alarmed:  map[string]float64{devices.FieldSmokeObscuration: 0.35}},
	devices.KindGasDetector: {model: "GD-150", primary: devices.GasAlarm, clear: devices.GasClear,
		readings: []reading{rssi, {field: devices.FieldGasLEL, mean: 1.5, jitter: 0.5, decimals: 1}},
		alarmed:  map[string]float64{devices.FieldGasLEL: 25}},
	devices.KindSafetyBand: {model: "SB-500", battery: true, primary: devices.BandSOS,
		readings: []reading{rssi,
			{field: devices.FieldHR, mean: 70, jitter: 4, diurnal: 8},
			{field: devices.FieldSpO2, mean: 97, jitter: 1},
			{field: devices.FieldTempC, mean: 36.6, jitter: 0.2, decimals: 1, diurnal: 0.3},
			{field: devices.FieldSteps, jitter: 40, counter: true}}},
	devices.KindBedSensor: {model: "BS-10", primary: devices.BedExit,
		readings: []reading{rssi}},
	devices.KindFallSensor: {model: "FR-60", primary: devices.BandFall,
		readings: []reading{rssi}},
	devices.KindMotionSensor: {model: "MS-20", battery: true, primary: devices.ActivityMotion,
		readings: []reading{rssi}},
	devices.KindDoorSensor: {model: "DS-20", battery: true, primary: devices.ActivityDoor,
		readings: []reading{rssi}},
	devices.KindCheckinButton: {model: "CK-10", battery: true, primary: devices.CallPress,
		readings: []reading{rssi}},
	// An edge box as central sees it (a real box is anxin itself, not a
	// simulated device): mains powered, heartbeats its uplink queue, and its
	// "press" is a fault report.
	devices.KindEdgeBox: {model: "anxin-edge", primary: devices.DeviceFault,
		readings: []reading{{field: devices.FieldQueueDepth}}},
}

func profileOf(k devices.Kind) profile { return profiles[k] }

// batteryDrain is the percentage a battery device loses per heartbeat: about
// two years from full at one heartbeat a minute, which is what such devices
// are sold with.
const batteryDrain = 100.0 / (2 * 365 * 24 * 60)

// sensors is the simulated physical state behind a device's telemetry.
type sensors struct {
	mu       sync.Mutex
	prof     profile
	rng      *rand.Rand
	battery  float64
	counters map[string]float64
	alarmed  bool
	silenced bool
}

// newSensors seeds the readings from the device id, so a fleet is varied
// but a given device tells the same story on every run.
func newSensors(id string, p profile) *sensors {
	h := fnv.New64a()
	h.Write([]byte(id))
	rng := rand.New(rand.NewPCG(h.Sum64(), 0x616e78696e))
	return &sensors{prof: p, rng: rng, battery: 60 + 40*rng.Float64(), counters: map[string]float64{}}
}

// telemetry samples the sensors at the device's local time now into a
// telemetry payload's fields.
func (s *sensors) telemetry(now time.Time) map[string]float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]float64, len(s.prof.readings)+1)
	if s.prof.battery {
		s.battery = max(s.battery-batteryDrain, 0)
		out[devices.FieldBattery] = math.Round(s.battery)
	}
	for _, r := range s.prof.readings {
		out[r.field] = s.sample(r, now)
	}
	return out
}

func (s *sensors) sample(r reading, now time.Time) float64 {
	noise := (s.rng.Float64()*2 - 1) * r.jitter
	v := r.mean + noise + r.diurnal*dayNight(now)
	if r.counter {
		s.counters[r.field] += math.Abs(noise)
		v = s.counters[r.field]
	} else if a, ok := s.prof.alarmed[r.field]; ok && s.alarmed {
		v = a + noise
	}
	scale := math.Pow10(r.decimals)
	return math.Round(v*scale) / scale
}

// dayNight is +1 at 15:00 and -1 at 03:00 local time, a cosine between.
func dayNight(t time.Time) float64 {
	h := float64(t.Hour()) + float64(t.Minute())/60
	return math.Cos(2 * math.Pi * (h - 15) / 24)
}

// observe updates the physical state after the device reported t.
func (s *sensors) observe(t devices.EventType) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch t {
	case s.prof.primary:
		s.alarmed, s.silenced = true, false
	case s.prof.clear:
		s.alarmed = false
	}
}

func (s *sensors) silence() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.silenced = true
}
