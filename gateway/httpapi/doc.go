// Package httpapi is the gateway's HTTP API under /api/v1, with /healthz,
// /readyz and /metrics: the operator console's and anxinctl's only way in.
//
// New(Options) returns the whole API as one http.Handler. It never imports
// package gateway: what it needs of the running process comes in Options
// as narrow interfaces declared here — Engine (the alarm engine's
// actions), Duty (the roster: who may check in where, who is on duty),
// Devices (the broker: its address, dropping a device's connections,
// telling a device its walk-test mode, readiness), TimeSeries (its status
// and what the wall reads of it) — plus the state DB, the registry, the metrics handler, a clock and a
// logger. The gateway builds it in gateway/api.go.
//
// By file: the route table, authentication, roles and the per-request
// deadlines (api.go); the console's cookie sessions, CSRF, /me and logout
// (api_session.go); the one rule of what each caller sees, by the sites
// they serve (scope.go); alarms as the console shows them, with the
// resident's card and response plan (api_alarms.go); logins, throttled per account and per
// source and hashed through a one-core gate so that guessing cannot starve
// the alarm path (api_login.go); alarms, devices, sites, residents, users,
// duty, the audit trail, CSV import and service-level reports (api_*.go),
// each with its wire types (DeviceView, NewDevice, SiteView, DutyView,
// ImportResult, SLAReportView …; gateway/apiclient keeps its own copies,
// checked against these by its contract test). Bad input is answered 400
// with a FieldErrorBody naming the field (writeRegistryError).
//
// The wall (the 24-hour dashboard at /wall) has its own three files: its
// summary, read from memory and from the time-series store so that the
// embedded store and InfluxDB answer alike (wall_summary.go); the series
// endpoint over timeseries.Store.Query (api_series.go); and wall tokens,
// sessions of role wall that read only the routes naming that role and
// whose open streams close when an admin revokes them (api_wall.go).
//
// The event streams are Server-Sent Events served from a Hub (stream.go,
// watch.go): the alarm stream and one watch per device. The gateway owns
// the feeding side: it subscribes Hub.PublishChange to the engine and
// calls Hub.Emit and Hub.EmitAbout from the device path. The alarm
// stream's ids are positions "<boot>-<n>", and the hub keeps its last
// StreamWindow frames, so that a console reconnecting with Last-Event-ID
// gets exactly what it missed, or "event: reload" when the gateway
// restarted or the window no longer reaches back (resume.go). A watch is
// live only.
//
// Alarms go out as AlarmView (the alarm with its location path,
// resident, step, who is going, what the device was told); the hub asks
// New's viewer for it and for the alarm's sites before it takes its lock,
// and a reader gets a frame only if the alarm is in their scope.
//
// Concurrency: the handler is safe for concurrent use; each request runs
// on its own goroutine. Hub sends never block (a subscriber that cannot
// keep up is dropped, and reconnects), and hub.mu is a leaf lock: held
// only around the hub's own maps. The login tables have their own leaf
// locks. Handlers hold no lock of this package while they call the
// engine, the registry, the duty roster or the store.
package httpapi
