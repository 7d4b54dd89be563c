package gateway

import (
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway/edge"
	"github.com/anxin-care/anxin/gateway/httpapi"
	"github.com/anxin-care/anxin/gateway/state"
	"github.com/anxin-care/anxin/gateway/timeseries"
)

// Defaults, named so a reader can find them.
const (
	DefaultMQTTAddr = ":1883"
	DefaultHTTPAddr = ":8080"
	DefaultDataDir  = "./anxin-data"
	// DefaultEventRate is the sustained events per second one device may
	// send before it is throttled; DefaultEventBurst is how many it may send at once.
	DefaultEventRate  = 20
	DefaultEventBurst = 40
	// DefaultSeenRetention is how long idempotency keys are kept.
	DefaultSeenRetention = 30 * 24 * time.Hour
	// DefaultPushRetention is how long the ids of IoT platforms' pushes
	// (HTTP ingest) are kept: CTWing and OneNET retry a push for minutes to
	// hours, never for days.
	DefaultPushRetention = 7 * 24 * time.Hour
	// DefaultHTTPWriteTimeout bounds an API answer, DefaultStreamWriteTimeout one stream event.
	DefaultHTTPWriteTimeout   = 30 * time.Second
	DefaultStreamWriteTimeout = 15 * time.Second
	// DefaultTimeZone is where operators are.
	DefaultTimeZone = "Asia/Shanghai"
)

// Config is everything the gateway needs to run. It is read from a YAML or
// JSON file (see deploy/anxin.example.yaml and configload.go) and flags
// override the file. The zero value of a field means its default.
type Config struct {
	MQTTAddr string `json:"mqtt_addr"`
	// MQTTTLSAddr, with TLSCertFile and TLSKeyFile (PEM), adds an MQTT
	// listener over TLS for devices that reach the gateway over the
	// internet; plain mqtt_addr stays for the LAN.
	MQTTTLSAddr string `json:"mqtt_tls_addr"`
	TLSCertFile string `json:"tls_cert_file"`
	TLSKeyFile  string `json:"tls_key_file"`
	HTTPAddr    string `json:"http_addr"`
	DataDir     string `json:"data_dir"`
	TimeZone    string `json:"time_zone"`
	// EventRate and EventBurst throttle one device's events (per second).
	EventRate  float64 `json:"event_rate"`
	EventBurst int     `json:"event_burst"`
	// Escalation replaces the default escalation policy of each priority it names.
	Escalation map[string]alerting.Policy `json:"escalation"`
	// EscalationPolicies are escalation policies in full: per priority and
	// optionally per site subtree, with repeats, reminders and unattended
	// targets. A priority they cover for every site ignores Escalation.
	EscalationPolicies alerting.EscalationPolicies `json:"escalation_policies"`
	// Shifts are the operators' planned duty shifts (duty.go).
	Shifts []alerting.Shift `json:"shifts"`
	// SiteChannels name the robots and webhooks that reach the people on
	// duty at a site; a site without an entry uses its parent's.
	SiteChannels map[string][]string `json:"site_channels"`
	// ContactChannels reach residents' emergency contacts, e.g. a webhook
	// to an SMS gateway.
	ContactChannels []string `json:"contact_channels"`
	// Notifiers are the webhooks and group robots (notifiers.go).
	Notifiers NotifiersConfig `json:"notifiers"`
	// Incidents tune correlation into site-level incidents (incidents.go).
	Incidents IncidentsConfig `json:"incidents"`
	// SessionTTL is how long an API login lasts.
	SessionTTL alerting.Duration `json:"session_ttl"`
	// HTTPWriteTimeout bounds handling and writing one API answer.
	HTTPWriteTimeout alerting.Duration `json:"http_write_timeout"`
	// StreamWriteTimeout bounds writing one event or heartbeat of an event
	// stream: a client that stops reading is dropped.
	StreamWriteTimeout alerting.Duration `json:"stream_write_timeout"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `json:"log_level"`
	// LogFormat is text (key=value lines, the default: what journalctl and
	// a person read) or json (one object a line, for log shippers).
	LogFormat string `json:"log_format"`
	// Adapters decode other wire formats that bridges publish (adapters.go).
	Adapters []devices.AdapterConfig `json:"adapters"`
	// Bridges are the MQTT accounts of programs such as Zigbee2MQTT.
	Bridges []Bridge `json:"bridges"`
	// Integrations are IoT platforms pushing to /ingest/v1/{name} (ingest_http.go).
	Integrations map[string]Integration `json:"integrations"`
	// TimeSeries selects the time-series store: embedded (default, in
	// data_dir/tsdb) or influxdb.
	TimeSeries timeseries.Config `json:"time_series"`
	// Instance names this gateway in the time series (default "anxin").
	Instance string `json:"instance"`
	// SLAShifts are the shifts of the service-level report, in time_zone
	// (default httpapi.DefaultSLAShifts: day 08:00–20:00, night 20:00–08:00).
	SLAShifts []httpapi.SLAShift `json:"sla_shifts"`
	// Edge makes this gateway an edge box (gateway/edge): its pins, and
	// the uplink that forwards its devices' events to central.
	Edge edge.Config `json:"edge"`
	// Debug turns on what a developer profiles with (debug.go); off by default.
	Debug DebugConfig `json:"debug"`
	// State chooses where the durable state lives: bbolt (default, in
	// data_dir) or postgres (gateway/state).
	State state.Config `json:"state"`

	// src is where LoadConfig read each field, for Validate's errors.
	src *configSource
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.MQTTAddr == "" {
		c.MQTTAddr = DefaultMQTTAddr
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = DefaultHTTPAddr
	}
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.TimeZone == "" {
		c.TimeZone = DefaultTimeZone
	}
	if c.EventRate == 0 {
		c.EventRate = DefaultEventRate
	}
	if c.EventBurst == 0 {
		c.EventBurst = DefaultEventBurst
	}
	if c.SessionTTL == 0 {
		c.SessionTTL = alerting.Duration(state.DefaultSessionTTL)
	}
	if c.HTTPWriteTimeout == 0 {
		c.HTTPWriteTimeout = alerting.Duration(DefaultHTTPWriteTimeout)
	}
	if c.StreamWriteTimeout == 0 {
		c.StreamWriteTimeout = alerting.Duration(DefaultStreamWriteTimeout)
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	if c.LogFormat == "" {
		c.LogFormat = LogText
	}
	return c
}

// Validate checks every field and names the first that is wrong; for a
// config from LoadConfig, with the file, line and column where it is.
func (c Config) Validate() error {
	err := c.validate()
	if err != nil && c.src != nil {
		return c.src.locate(err)
	}
	return err
}

func (c Config) validate() error {
	c = c.withDefaults()
	for name, addr := range map[string]string{"mqtt_addr": c.MQTTAddr, "http_addr": c.HTTPAddr} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("config %s: %q: want host:port, e.g. \":1883\"", name, addr)
		}
	}
	if c.MQTTTLSAddr != "" {
		if _, _, err := net.SplitHostPort(c.MQTTTLSAddr); err != nil {
			return fmt.Errorf("config mqtt_tls_addr: %q: want host:port, e.g. \":8883\"", c.MQTTTLSAddr)
		}
		if c.TLSCertFile == "" || c.TLSKeyFile == "" {
			return fmt.Errorf("config mqtt_tls_addr: needs tls_cert_file and tls_key_file")
		}
	}
	if _, err := time.LoadLocation(c.TimeZone); err != nil {
		return fmt.Errorf("config time_zone: %q: %w", c.TimeZone, err)
	}
	if c.HTTPWriteTimeout < 0 || c.StreamWriteTimeout < 0 {
		return fmt.Errorf("config http_write_timeout and stream_write_timeout must be positive")
	}
	if err := c.Debug.validate(); err != nil {
		return err
	}
	if c.EventRate < 0 || c.EventBurst < 1 {
		return fmt.Errorf("config event_rate and event_burst must be positive")
	}
	if _, err := c.policies(); err != nil {
		return err
	}
	if err := httpapi.ValidateSLAShifts(c.SLAShifts); err != nil {
		return fmt.Errorf("config %w", err)
	}
	if _, err := newAdapters(c.Adapters); err != nil {
		return err
	}
	if err := validateBridges(c.Bridges); err != nil {
		return err
	}
	if _, err := newIntegrations(c.Integrations); err != nil {
		return err
	}
	tc := c.TimeSeries
	if tc.Embedded.Dir == "" {
		tc.Embedded.Dir = c.DataDir // where it will be, for validation
	}
	if err := tc.Validate(); err != nil {
		return fmt.Errorf("config time_series: %w", err)
	}
	if err := c.Edge.Validate(); err != nil {
		return fmt.Errorf("config %w", err)
	}
	if err := c.State.Validate(); err != nil {
		return fmt.Errorf("config %w", err)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("config log_level: %q: want debug, info, warn or error", c.LogLevel)
	}
	switch c.LogFormat {
	case "", LogText, LogJSON:
	default:
		return fmt.Errorf("config log_format: %q: want text or json", c.LogFormat)
	}
	return c.validateAlerting()
}

// validateAlerting checks notifiers, channels, escalation policies, shifts
// and incidents against each other.
func (c Config) validateAlerting() error {
	if err := c.Notifiers.validate(); err != nil {
		return err
	}
	channels := c.Notifiers.channels()
	for site, chs := range c.SiteChannels {
		if site == "" {
			return fmt.Errorf("config site_channels: a site id is empty")
		}
		for i, ch := range chs {
			if !slices.Contains(channels, ch) {
				return fmt.Errorf("config site_channels.%s[%d] %q: no such notifier; configured: %v", site, i, ch, channels)
			}
		}
	}
	for i, ch := range c.ContactChannels {
		if !slices.Contains(channels, ch) {
			return fmt.Errorf("config contact_channels[%d] %q: no such notifier; configured: %v", i, ch, channels)
		}
	}
	ps, err := c.escalationPolicies()
	if err != nil {
		return err
	}
	_, err = alerting.NewEscalator(alerting.EscalatorConfig{Policies: ps, Tree: alerting.SiteMap{},
		Roster: nobodyOnDuty{}, ContactChannels: c.ContactChannels})
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	loc, _ := time.LoadLocation(c.TimeZone)
	if err := validateShifts(c.Shifts, loc); err != nil {
		return err
	}
	return c.Incidents.validate()
}

// escalationPolicies is the set the escalator applies: escalation_policies
// first (the old spelling of incident policies read as the new one); then,
// for each priority they do not cover for every device, that priority's
// policy from escalation (or its default); then the P1 incident policy
// (incidents.go) unless escalation_policies has a P1 policy with "subject":
// "site" and no site.
func (c Config) escalationPolicies() (alerting.EscalationPolicies, error) {
	simple, err := c.policies()
	if err != nil {
		return nil, err
	}
	channels := c.Notifiers.channels()
	given, _, err := readLegacyIncidentPolicies(c.EscalationPolicies)
	if err != nil {
		return nil, err
	}
	if err := given.Validate(channels); err != nil {
		return nil, fmt.Errorf("config escalation_policies: %w", err)
	}
	out := slices.Clone(given)
	for name := range c.Escalation {
		p, _ := alerting.ParsePriority(name)
		if hasPolicy(out, p, alerting.SubjectDevice, "") {
			return nil, fmt.Errorf("config escalation.%s: escalation_policies already has a %s policy for every site", name, p)
		}
	}
	for _, p := range alerting.FromPolicies(simple) {
		if !hasPolicy(given, p.Priority, alerting.SubjectDevice, "") {
			out = append(out, p)
		}
	}
	if !hasPolicy(out, alerting.P1, alerting.SubjectSite, "") {
		out = append(out, defaultIncidentPolicy(out))
	}
	if err := out.Validate(channels); err != nil {
		return nil, fmt.Errorf("config escalation: %w", err)
	}
	return out, nil
}

func hasPolicy(ps alerting.EscalationPolicies, p alerting.Priority, subject alerting.Subject, site string) bool {
	return slices.ContainsFunc(ps, func(x alerting.EscalationPolicy) bool {
		return x.Priority == p && (x.Subject == alerting.SubjectSite) == (subject == alerting.SubjectSite) && x.Site == site
	})
}

// legacyIncidentPrefix is the old spelling of a policy for site-level
// incidents, from when they were routed over a shadow site tree:
// "site": "incident:*" for every incident, "incident:<site id>" for the
// incidents under a site. It is still read, as "subject": "site" with
// "site" empty or <site id>, and Start logs a deprecation warning that
// says what to write instead.
const legacyIncidentPrefix = "incident:"

// legacyIncidentAll is the old spelling of every incident.
const legacyIncidentAll = "incident:*"

// readLegacyIncidentPolicies returns ps with the old spelling of incident
// policies rewritten, and the indexes of those rewritten.
func readLegacyIncidentPolicies(ps alerting.EscalationPolicies) (alerting.EscalationPolicies, []int, error) {
	var legacy []int
	out := slices.Clone(ps)
	for i, p := range ps {
		rest, ok := strings.CutPrefix(p.Site, legacyIncidentPrefix)
		if !ok {
			continue
		}
		if p.Subject == alerting.SubjectDevice {
			return nil, nil, fmt.Errorf("config escalation_policies[%d]: site %q is the old spelling of an incident policy, but subject is %q; write \"subject\": \"site\"",
				i, p.Site, p.Subject)
		}
		if rest == "" {
			return nil, nil, fmt.Errorf("config escalation_policies[%d].site %q: names no site; write \"subject\": \"site\" and leave \"site\" out for every incident",
				i, p.Site)
		}
		if p.Site == legacyIncidentAll {
			rest = ""
		}
		out[i].Subject, out[i].Site = alerting.SubjectSite, rest
		legacy = append(legacy, i)
	}
	return out, legacy, nil
}

// warnLegacyIncidentPolicies logs each escalation policy written in the old
// spelling of incident policies, with what to write instead.
func (c Config) warnLegacyIncidentPolicies(log *slog.Logger) {
	given, legacy, err := readLegacyIncidentPolicies(c.EscalationPolicies)
	if err != nil {
		return // Validate has refused it already
	}
	for _, i := range legacy {
		write := `"subject": "site"`
		if given[i].Site != "" {
			write += fmt.Sprintf(`, "site": %q`, given[i].Site)
		}
		log.Warn("config escalation_policies: a site of \"incident:…\" is deprecated; incident policies are selected by subject",
			"policy", i, "priority", given[i].Priority.String(), "site", c.EscalationPolicies[i].Site, "write", write)
	}
}

// policies merges the configured escalation over the defaults.
func (c Config) policies() (alerting.Policies, error) {
	ps := alerting.DefaultPolicies()
	for name, pol := range c.Escalation {
		p, err := alerting.ParsePriority(name)
		if err != nil {
			return nil, fmt.Errorf("config escalation: %w", err)
		}
		ps[p] = pol
	}
	if err := ps.Validate(); err != nil {
		return nil, fmt.Errorf("config %w", err)
	}
	return ps, nil
}
