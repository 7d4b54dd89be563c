package apiclient

import (
	"encoding/json"
	"time"
)

// Session is the answer to a login.
type Session struct {
	Token   string    `json:"token"`
	User    string    `json:"user"`
	Role    string    `json:"role"`
	Expires time.Time `json:"expires"`
}

// Site is one place in the site tree.
type Site struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Level    string    `json:"level"` // region, county, township, village, community, home, institution, room, bed
	Parent   string    `json:"parent,omitempty"`
	TimeZone string    `json:"time_zone,omitempty"`
	Address  string    `json:"address,omitempty"`
	Path     string    `json:"path,omitempty"` // names root first, in answers only
	Created  time.Time `json:"created,omitzero"`
	By       string    `json:"created_by,omitempty"`
}

// NewSite is what AddSite sends.
type NewSite struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Level    string `json:"level"`
	Parent   string `json:"parent,omitempty"`
	TimeZone string `json:"time_zone,omitempty"`
	Address  string `json:"address,omitempty"`
}

// SiteNode is a site with its subtree and the devices in service there and below.
type SiteNode struct {
	Site
	Devices  int         `json:"devices"`
	Children []*SiteNode `json:"children,omitempty"`
}

// Contact is someone to call for a resident.
type Contact struct {
	Name     string `json:"name"`
	Phone    string `json:"phone"`
	Relation string `json:"relation"`
}

// Resident is one elder. Age, HomePath, Incomplete and Warnings are in answers only.
type Resident struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	BirthYear  int        `json:"birth_year"`
	Sex        string     `json:"sex,omitempty"`
	Conditions []string   `json:"conditions,omitempty"`
	Language   string     `json:"language,omitempty"`
	Contacts   []Contact  `json:"contacts"`
	Home       string     `json:"home"`
	Wellbeing  *Wellbeing `json:"wellbeing,omitempty"`
	Plan       Plan       `json:"plan,omitempty"`
	AwayUntil  time.Time  `json:"away_until,omitzero"`
	Age        int        `json:"age,omitempty"`
	HomePath   string     `json:"home_path,omitempty"`
	Incomplete bool       `json:"incomplete,omitempty"`
	Warnings   []string   `json:"warnings,omitempty"`
}

// Plan is a resident's response plan (预案): per alarm type or family
// (smoke.alarm, smoke, band), what to do, in order.
type Plan map[string][]PlanStep

// PlanStep is one thing to do, with the number to call if any.
type PlanStep struct {
	Do    string `json:"do" yaml:"do"`
	Phone string `json:"phone,omitempty" yaml:"phone,omitempty"`
}

// Wellbeing are a resident's 主动关爱 rules.
type Wellbeing struct {
	NoActivityHours   float64 `json:"no_activity_hours,omitempty"`
	WindowStart       string  `json:"window_start,omitempty"`
	WindowEnd         string  `json:"window_end,omitempty"`
	CheckinBy         string  `json:"checkin_by,omitempty"`
	CheckinShortPress bool    `json:"checkin_short_press,omitempty"`
	TimeZone          string  `json:"time_zone,omitempty"`
}

// NewResident is what AddResident sends.
type NewResident struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	BirthYear  int       `json:"birth_year"`
	Sex        string    `json:"sex,omitempty"`
	Conditions []string  `json:"conditions,omitempty"`
	Language   string    `json:"language,omitempty"`
	Contacts   []Contact `json:"contacts"`
	Home       string    `json:"home"`
}

// Health is what the gateway last heard from a device.
type Health struct {
	Online   bool               `json:"online"`
	LastSeen time.Time          `json:"last_seen,omitzero"`
	Firmware string             `json:"fw,omitempty"`
	Model    string             `json:"model,omitempty"`
	Readings map[string]float64 `json:"readings,omitempty"`
}

// Device is a provisioned device with its health.
type Device struct {
	ID           string    `json:"id"`
	Kind         string    `json:"kind"`
	Vendor       string    `json:"vendor,omitempty"`
	Model        string    `json:"model,omitempty"`
	Format       string    `json:"format"`
	Ref          string    `json:"ref,omitempty"`
	Site         string    `json:"site,omitempty"`
	SitePath     string    `json:"site_path,omitempty"`
	Resident     string    `json:"resident,omitempty"`
	ResidentName string    `json:"resident_name,omitempty"`
	Location     string    `json:"location,omitempty"`
	Supervision  string    `json:"supervision"`
	Edge         string    `json:"edge,omitempty"` // the edge box it reaches central through
	Firmware     string    `json:"fw,omitempty"`
	Test         bool      `json:"test,omitempty"`
	TestUntil    time.Time `json:"test_until,omitzero"`
	TestMode     bool      `json:"test_mode"` // in walk-test mode now, until TestUntil
	State        string    `json:"state"`     // commissioning, active or retired
	// ModelStatus: a Zigbee2MQTT device's model record ("vendor model") or "generic".
	ModelStatus string    `json:"model_status,omitempty"`
	Installed   time.Time `json:"installed,omitzero"`
	Replaces    string    `json:"replaces,omitempty"`
	ReplacedBy  string    `json:"replaced_by,omitempty"`
	Retired     time.Time `json:"retired,omitzero"`
	Created     time.Time `json:"created"`
	By          string    `json:"created_by"`
	Health      Health    `json:"health"`
}

// NewDevice is what AddDevice sends; only ID and Kind are required.
type NewDevice struct {
	ID          string `json:"id"`
	Kind        string `json:"kind"`
	Vendor      string `json:"vendor,omitempty"`
	Model       string `json:"model,omitempty"`
	Format      string `json:"format,omitempty"`
	Ref         string `json:"ref,omitempty"`
	Site        string `json:"site,omitempty"`
	Resident    string `json:"resident,omitempty"`
	Location    string `json:"location,omitempty"`
	Supervision string `json:"supervision,omitempty"`
	Edge        string `json:"edge,omitempty"`
	Test        bool   `json:"test,omitempty"`
	Installed   bool   `json:"installed,omitempty"`
	Checkin     bool   `json:"checkin,omitempty"`
}

// Replacement is the new hardware of an installation; "" keeps the old value
// (NewID "" keeps the id and only issues a new password).
type Replacement struct {
	NewID  string `json:"new_id,omitempty"`
	Vendor string `json:"vendor,omitempty"`
	Model  string `json:"model,omitempty"`
	Ref    string `json:"ref,omitempty"`
}

// MQTTSettings tell an installer how to configure a device.
type MQTTSettings struct {
	Broker   string            `json:"broker"`
	ClientID string            `json:"client_id"`
	Username string            `json:"username"`
	Password string            `json:"password"`
	Topics   map[string]string `json:"topics"`
}

// Provisioned is a new device with its password, shown this once.
type Provisioned struct {
	Device
	Password string       `json:"password"`
	MQTT     MQTTSettings `json:"mqtt"`
}

// Alarm is an alarm as a device's history lists it.
type Alarm struct {
	ID       string    `json:"id"`
	Device   string    `json:"device"`
	Type     string    `json:"type"`
	Priority string    `json:"priority"`
	State    string    `json:"state"`
	Count    int       `json:"count"`
	Test     bool      `json:"test,omitempty"`
	TestMode bool      `json:"test_mode,omitempty"` // raised in walk-test mode, handed to operators
	Raised   time.Time `json:"raised_at"`
	Closed   time.Time `json:"closed_at,omitzero"`
	Outcome  string    `json:"outcome,omitempty"`
}

// DeviceAlarms is the alarm history of an installation.
type DeviceAlarms struct {
	Device  string   `json:"device"`
	History []string `json:"history"` // the device, then the ones it replaced
	Alarms  []Alarm  `json:"alarms"`
}

// RowError is one bad row of an import.
type RowError struct {
	Line  int    `json:"line"`
	Field string `json:"field,omitempty"`
	Error string `json:"error"`
}

// Imported is one device an import created, with its password.
type Imported struct {
	Line     int    `json:"line"`
	ID       string `json:"id"`
	Password string `json:"password"`
}

// ImportResult is the answer to an import.
type ImportResult struct {
	Rows       int        `json:"rows"`
	Created    []Imported `json:"created"`
	Count      int        `json:"count"`
	Errors     []RowError `json:"errors,omitempty"`
	MQTTBroker string     `json:"mqtt_broker,omitempty"`
	DryRun     bool       `json:"dry_run,omitempty"`
}

// AuditEntry is one change in the audit trail.
type AuditEntry struct {
	ID     string          `json:"id"`
	At     time.Time       `json:"at"`
	Who    string          `json:"who"`
	Action string          `json:"action"`
	Object string          `json:"object"`
	Note   string          `json:"note,omitempty"`
	Before json.RawMessage `json:"before,omitempty"`
	After  json.RawMessage `json:"after,omitempty"`
}

// EdgeBox is an edge box as central sees it.
type EdgeBox struct {
	ID          string    `json:"id"`
	Site        string    `json:"site,omitempty"`
	SitePath    string    `json:"site_path,omitempty"`
	Online      bool      `json:"online"`
	Uplink      string    `json:"uplink"` // connected, disconnected, offline or never
	QueueDepth  int       `json:"queue_depth"`
	QueueOldest time.Time `json:"queue_oldest,omitzero"`
	Firmware    string    `json:"fw,omitempty"`
	Model       string    `json:"model,omitempty"`
	LastSeen    time.Time `json:"last_seen,omitzero"`
	Devices     int       `json:"devices"`
	Alarm       string    `json:"alarm,omitempty"`
}
