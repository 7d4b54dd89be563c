// Package gateway is the running anxin process: it wires devices and
// alerting to the outside world.
//
// Start opens the data directory (DB, a bbolt file), loads the device
// Registry and the alarm Engine, binds the embedded MQTT broker (mochi) and
// the HTTP API, and returns a *Gateway whose Close stops it all. Run is
// Start plus waiting for the context; only cmd/anxin handles signals, so a
// whole gateway runs inside a test on 127.0.0.1:0.
//
// The alarm path: a device publishes on anxin/v1/{id}/event. The broker
// hook (broker.go) authenticates and authorises it, throttles a flooding
// device on its own connection, and calls ingest (ingest.go) on the
// device's connection goroutine before the PUBACK is written. ingest decodes
// the payload (devices.DecodeNative), hands the event to the engine, which
// returns once the alarm is synced to disk (the DB committer shares one fsync
// among all devices writing at that moment), then publishes the "received"
// reassurance on the device's cmd topic. Only then does the broker send the
// PUBACK. Operators' actions come through the API (api.go; logins, throttled
// and hashed on at most one core, in api_login.go), change the alarm
// through the same engine, and reach the device (onChange) and the
// live stream (stream.go, Server-Sent Events) after they are durable.
//
// Around that path, by file: the Registry of sites, residents and devices
// with its audit trail (registry*.go, sites.go, residents.go, audit.go);
// bridges and adapters for Zigbee2MQTT and vendor JSON (adapters.go);
// supervision of check-in windows and batteries (supervision.go); the
// installer's per-device watch stream (watch.go); duty rosters, the site
// tree the escalator routes over, notifiers with their outbox, and
// site-level incidents (duty.go, notifiers.go, incidents.go); service-level
// reports (api_reports.go); and the time series (series.go, over package
// timeseries), written through a bounded queue that never holds up an alarm.
//
// Concurrency: every exported method of Gateway, DB and Registry is safe for
// concurrent use. The engine's subscribers (reassurance, stream, watch, time
// series) never block.
package gateway
