package httpapi

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/gateway/registry"
	"github.com/anxin-care/anxin/gateway/state"
	"github.com/anxin-care/anxin/gateway/timeseries"
	"github.com/prometheus/client_golang/prometheus"
)

// Engine is what the API asks of the alarm engine (*alerting.Engine).
type Engine interface {
	Open() []*alerting.Alarm
	Get(id string) (*alerting.Alarm, error)
	Ack(id, operator, note string) (*alerting.Alarm, error)
	// DispatchTo records that responder (may be empty) is on the way.
	DispatchTo(id, operator, responder, note string) (*alerting.Alarm, error)
	Resolve(id, operator, outcome, note string) (*alerting.Alarm, error)
	Note(id, operator, note string) (*alerting.Alarm, error)
	// CancelDevice cancels the open alarms of a device taken out of
	// service, with outcome device_removed.
	CancelDevice(device, who, note string) ([]*alerting.Alarm, error)
	// Reschedule plans every open alarm's escalation afresh, after the
	// people on duty changed.
	Reschedule()
}

// Duty is the gateway's duty roster as the API reads and changes it.
type Duty interface {
	alerting.Roster
	// Belongs reports whether op is on the roster, and whether site is
	// one of their sites.
	Belongs(op, site string) (onRoster, atSite bool)
	// Check writes a check-in or check-out by a user, then applies it.
	Check(c alerting.Check, by string) error
	// Staffed returns the sites with anyone on duty at at, by site id.
	Staffed(at time.Time) []SiteDuty
	// Rebuild reloads the roster after a change to the users.
	Rebuild() error
}

// Devices is the device side of the gateway: its MQTT broker.
type Devices interface {
	// MQTTAddr is the address the broker listens on.
	MQTTAddr() string
	// Disconnect stops a device's connections, its own and its listeners'.
	Disconnect(device string)
	// DevicesChanged says devices were added to or taken out of the
	// registry: an edge box subscribes to or drops their commands from
	// central at once.
	DevicesChanged()
	// TellTestMode sends the device its walk-test mode at now.
	TellTestMode(d registry.Device, now time.Time)
	// Ready is nil when the broker accepts connections.
	Ready() error
	// ModelStatus says how a bridged device is decoded: "vendor model"
	// when anxin has a record of the model its bridge listed, "generic"
	// otherwise; "" for a native device.
	ModelStatus(d registry.Device) string
	// EdgeBoxes lists the edge boxes in service with their uplink state.
	EdgeBoxes() []EdgeBox
}

// TimeSeries is the time-series store: its status (/readyz) and what the
// wall reads of it (SeriesReader).
type TimeSeries interface {
	Status() timeseries.Status
	SeriesReader
}

// Options are what New needs. Every field is required but Logger, Now and Ingest.
type Options struct {
	DB         *state.DB
	Registry   *registry.Registry
	Engine     Engine
	Duty       Duty
	Devices    Devices
	TimeSeries TimeSeries
	// Hub carries the alarm stream and the device watches; the gateway
	// feeds it (PublishChange, Emit) and the API serves it.
	Hub *Hub
	// Metrics serves /metrics; Registerer takes the API's own metrics.
	Metrics    http.Handler
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	Now        func() time.Time
	// Ingest serves /ingest/v1/ (IoT platforms' pushes, authenticated by
	// their integration, not by a login); nil: no such route.
	Ingest http.Handler
	// BackupToken, when set, may take backups (GET /api/v1/backup) and do
	// nothing else, from a loopback address only: the gateway writes it to
	// its data directory for the nightly backup timer.
	BackupToken string
	// UI serves the browser pages (the console, its login page, the
	// wall and their assets; package webui) at "/", below every route
	// of the API; nil: no pages.
	UI http.Handler

	// TimeZone is the zone reports are in (e.g. Asia/Shanghai).
	TimeZone string
	// SiteChannels returns the channels that reach the people on duty at
	// a site (the config's site_channels, inherited down the tree); nil:
	// none.
	SiteChannels func(site string) []string
	// SLAShifts are the shifts of the service-level report;
	// DefaultSLAShifts when none.
	SLAShifts []SLAShift
	// SessionTTL is how long a login lasts.
	SessionTTL time.Duration
	// HTTPWriteTimeout bounds one answer; StreamWriteTimeout one event of
	// a stream.
	HTTPWriteTimeout, StreamWriteTimeout time.Duration
}

// server is the API: its handlers are its methods.
type server struct {
	Options
	db      *state.DB
	reg     *registry.Registry
	eng     Engine
	duty    Duty
	hub     *Hub
	log     *slog.Logger
	logins  *logins
	streams *streamMetrics
	live    liveSessions
	walls   wallStreams
}

// New builds the API's handler: routes, authentication, the event streams,
// health, readiness and metrics, each request under the deadlines of opts.
func New(opts Options) http.Handler {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	srv := &server{Options: opts, db: opts.DB, reg: opts.Registry, eng: opts.Engine, duty: opts.Duty,
		hub: opts.Hub, log: opts.Logger, logins: newLogins(opts.Registerer), streams: newStreamMetrics(opts.Registerer)}
	srv.hub.setViewer(func(a *alerting.Alarm) (AlarmView, []string) { return srv.alarmView(a), srv.ancestry(a.Site) })
	return srv.withDeadlines(srv.routes())
}

func (srv *server) now() time.Time { return srv.Now() }
