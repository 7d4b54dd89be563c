package timeseries

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// Measurement is one of the four fixed measurements of the schema.
type Measurement string

// The measurements (DESIGN.md §5). Nothing else is accepted, so that every
// dashboard can rely on the names.
const (
	// Telemetry holds device readings; fields are the devices package's
	// telemetry vocabulary (battery, rssi, hr, spo2, temp_c, …).
	Telemetry Measurement = "telemetry"
	// Events holds one point per accepted device event; field "count" = 1.
	Events Measurement = "events"
	// Alarms holds one point per alarm transition (tag "state"); fields
	// "count" = 1 and, on the transitions that have them, the durations
	// "tta_s", "ttd_s" and "ttr_s" measured from the alarm being raised.
	Alarms Measurement = "alarms"
	// Gateway holds the gateway's periodic self-report (fleet and queue
	// gauges), once for the whole gateway and once per site.
	Gateway Measurement = "gateway"
)

// Measurements lists the schema's measurements.
func Measurements() []Measurement { return []Measurement{Telemetry, Events, Alarms, Gateway} }

// Valid reports whether m is one of the schema's measurements.
func (m Measurement) Valid() bool { return slices.Contains(Measurements(), m) }

// Tag keys. Site path levels follow the county → township → village → site
// tree (DESIGN.md §4) so that a dashboard can filter or group at any level.
const (
	TagDevice   = "device"   // device id
	TagKind     = "kind"     // device kind: call_button, smoke_detector, …
	TagType     = "type"     // event type (events) or alarm type (alarms)
	TagPriority = "priority" // P1, P2, P3 (events that raise alarms, alarms)
	TagState    = "state"    // alarm transition: raised, acknowledged, dispatched, resolved, cancelled, escalated
	TagOutcome  = "outcome"  // resolution outcome code (alarms, state=resolved)
	TagCounty   = "county"
	TagTownship = "township"
	TagVillage  = "village"
	TagSite     = "site"     // home or institution
	TagResident = "resident" // resident id, never a name
	TagInstance = "instance" // gateway instance (gateway measurement)
)

// Field names used outside the telemetry vocabulary.
const (
	FieldCount = "count" // 1 per event or alarm transition, so sum() counts
	FieldTTA   = "tta_s" // seconds from raised to acknowledged
	FieldTTD   = "ttd_s" // seconds from raised to dispatched
	FieldTTR   = "ttr_s" // seconds from raised to resolved or cancelled

	FieldDevicesTotal      = "devices_total"
	FieldDevicesOnline     = "devices_online"
	FieldDevicesOffline    = "devices_offline"
	FieldDevicesLowBattery = "devices_low_battery"
	FieldAlarmsOpen        = "alarms_open"
	FieldAlarmsOpenP1      = "alarms_open_p1"
	FieldOperatorsOnDuty   = "operators_on_duty"
)

// Point is one observation: a measurement, the tags that identify its
// series, numeric fields and a time. Fields are float64 only: everything
// the dashboards aggregate is a number, and text belongs in tags or in the
// durable state store.
type Point struct {
	Measurement Measurement
	Tags        map[string]string
	Fields      map[string]float64
	Time        time.Time
}

// maxNameLen bounds tag keys, tag values and field names.
const maxNameLen = 256

// Validate reports why p cannot be stored, as an error wrapping ErrInvalidPoint.
func (p Point) Validate() error {
	if !p.Measurement.Valid() {
		return fmt.Errorf("%w: measurement %q is not one of %v", ErrInvalidPoint, p.Measurement, Measurements())
	}
	if p.Time.IsZero() || p.Time.Before(time.Unix(0, 0)) {
		return fmt.Errorf("%w: time %v is before 1970", ErrInvalidPoint, p.Time)
	}
	if len(p.Fields) == 0 {
		return fmt.Errorf("%w: %s point has no fields", ErrInvalidPoint, p.Measurement)
	}
	for k, v := range p.Tags {
		if err := checkName("tag key", "", k); err != nil {
			return err
		}
		if err := checkName("tag value of ", k, v); err != nil {
			return err
		}
	}
	for k, v := range p.Fields {
		if err := checkName("field", "", k); err != nil {
			return err
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: field %s is %v", ErrInvalidPoint, k, v)
		}
	}
	return nil
}

// checkName reports what is wrong with a tag key, tag value or field name;
// the description is what+of, joined only on error to keep Validate free of
// allocations.
func checkName(what, of, s string) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s%s "+format, append([]any{ErrInvalidPoint, what, of}, args...)...)
	}
	switch {
	case s == "":
		return bad("is empty")
	case len(s) > maxNameLen:
		return bad("is longer than %d bytes", maxNameLen)
	case s[0] == '_':
		// Flux reserves leading underscores (_time, _value, _field, …).
		return bad("%q starts with an underscore", s)
	case strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }):
		// Line protocol has no escape for control characters, and a
		// backslash before its separators is ambiguous; ids never need them.
		return bad("%q contains a control character or backslash", s)
	}
	return nil
}

// Series names one series: a measurement and its full tag set.
type Series struct {
	Measurement Measurement
	Tags        map[string]string
}

// String renders the series like line protocol's series key, tags sorted.
func (s Series) String() string {
	var b strings.Builder
	b.WriteString(string(s.Measurement))
	for _, k := range slices.Sorted(maps.Keys(s.Tags)) {
		b.WriteString("," + k + "=" + s.Tags[k])
	}
	return b.String()
}

// matches reports whether every tag of filter is present in tags with the same value.
func matches(tags, filter map[string]string) bool {
	for k, v := range filter {
		if tags[k] != v {
			return false
		}
	}
	return true
}
