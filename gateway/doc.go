// Package gateway is the running anxin process: it wires devices and
// alerting to the outside world, and holds the device path.
//
// Start opens the data directory (package state: a bbolt file), loads the
// registry (package registry) and the alarm Engine (package alerting),
// binds the embedded MQTT broker (mochi) and the HTTP API (package
// httpapi), and returns a *Gateway whose Close stops it all. Run is Start
// plus waiting for the context; only cmd/anxin handles signals, so a whole
// gateway runs inside a test on 127.0.0.1:0. A Start that fails releases
// what it opened and returns one error naming the address, directory or
// file at fault; a data directory another process holds is that error
// after a short wait, not a hang.
//
// The map of the code:
//
//	gateway             wiring (gateway.go, config.go, api.go: what the API
//	                    is given) and the device path: broker hook and ACL
//	                    (broker.go, broker_acl.go, refusallog.go), ingest,
//	                    adapters' bridges and Zigbee2MQTT's model table
//	                    (adapters.go, z2m.go), IoT platforms' HTTP pushes
//	                    (ingest_http.go), supervision, walk-test mode,
//	                    duty roster, site-level incidents, the notifier
//	                    courier, time series and metrics
//	gateway/state       the bbolt store: schema and its version, the commit
//	                    loop, users, sessions, audit trail, secrets, outbox
//	gateway/registry    sites, residents, devices, their health and location
//	gateway/httpapi     routes, auth, handlers, wire types, the SSE hub
//	gateway/timeseries  telemetry, events and alarm statistics over time
//	gateway/edge        an edge box's pins, LED and buzzer, outbound queue
//	                    and uplink to central (wired in edge.go; central's
//	                    side of a box's sync messages is edge_sync.go)
//
// Subpackages never import gateway; the API gets what it needs of the
// gateway as the narrow interfaces of httpapi.Options. Inside gateway, the
// duty roster, the incidents and the notification courier hold no pointer
// back to the Gateway either: each is built from the few calls it makes,
// declared beside it (dutyStore and a clock; incidentEngine,
// incidentRecords and a site-location function; a deliverer, the outbox
// and a hold), and startAlerting wires them, so their unit tests build them
// from an engine over alertingtest.MemStore, a state file or fakes.
//
// The alarm path: a device publishes on anxin/v1/{id}/event. The broker
// hook (broker.go) authenticates and authorises it (one rule for every
// publish a client can cause, its will included: broker_acl.go), throttles
// a flooding device on its own connection, and calls ingest (ingest.go) on
// the device's connection goroutine before the PUBACK is written. ingest
// decodes the payload (devices.DecodeNative), hands the event to the
// engine, which returns once the alarm is synced to disk (state.DB's
// committer shares one fsync among all devices writing at that moment),
// then publishes the "received" reassurance on the device's cmd topic.
// Only then does the broker send the PUBACK. The device's own cmd
// subscription is put in its session at CONNECT, so the answer never races
// its SUBSCRIBE. Operators' actions come through the API (package httpapi),
// change the alarm through the same engine, and reach the device
// (onChange) and the live stream (httpapi.Hub, fed by the engine
// subscriber wired in Start) after they are durable.
//
// When the store cannot commit (a full disk), the engine undoes the change
// in memory, the device gets no PUBACK and its connection is dropped so
// that it resends, and an operator's action fails with 500 and can be
// retried: a retry behaves as the first try did. The refusal is logged with
// what was refused, counted in anxin_store_commit_failures_total, and
// /readyz fails until a commit succeeds again (state.DB.Healthy probes
// with a small write through the commit queue after a failed commit).
//
// A bridged message (Zigbee2MQTT, vendor JSON: adapters.go) takes the same
// path with one difference: its adapter decodes it against what it
// remembers of the device, and that memory advances in the same write as
// the events it produced (alerting.Write.DeviceState), so a message costs
// one sync, and a resend after a failed write decodes into the same events
// again. An IoT platform's HTTP push (ingest_http.go) is decoded by its
// integration's vendor rules on the same path, with the push's id written
// in that same write (alerting.Write.Receipts, bucket ingest_pushes), and
// answered 200 only after it.
//
// Around that path, by file: bridges and adapters for Zigbee2MQTT and
// vendor JSON (adapters.go); supervision of check-in windows and batteries
// (supervision.go), of devices past commissioning only (lifecycle.go);
// residents' wellbeing rules, run by the supervision pass, and check-in
// presses, which raise no call (wellbeing.go); a config reload (SIGHUP),
// which swaps in new shifts, policies, notifiers and adapters (reload.go);
// edge boxes as central sees them: a box publishes for the devices behind
// it (broker_acl.go), a silent box raises one edge.offline about its site
// and its devices are not supervised until it is back (edge_central.go);
// systemd's READY=1 and a watchdog pinged only while the store commits and
// the broker accepts (watchdog.go, internal/sdnotify);
// walk-test mode, which ends by itself at a stored
// deadline and gives an unwatched P1 to operators after a minute
// (testmode.go); the duty roster the escalator routes with over the
// registry's site tree (duty.go); notifiers with their outbox
// (notifiers.go), and the Alertmanagers told of every alarm they want,
// through the same outbox (alertmanager.go); site-level incidents, which are alarms about a home or
// institution rather than a device (incidents.go); and the time series
// (series.go, over package timeseries), written through a bounded queue
// that never holds up an alarm.
//
// Concurrency: every exported method of Gateway, state.DB and
// registry.Registry is safe for concurrent use. The engine's subscribers
// (reassurance, stream, watch, time series, incidents, Alertmanagers) run after a change
// is durable, without the engine's lock, and never block.
//
// # Lock order
//
// This is the one place the lock order of the gateway and its packages is
// written; a lock may be taken while holding only the locks above it,
// never one above it while holding one below. Locks not listed are leaves:
// held only around their own fields, calling nothing out of their type
// (httpapi's Hub.mu and login tables, courier.mu, alertFeed.mu, each rate limiter's tokenBucket.mu,
// DutyRoster's own lock, care.mu of the wellbeing rules, the incidents'
// openIndex.mu, each device's health lock in the registry and its record's
// lock in devices.Supervisor, and the edge box's locks, package edge's doc).
//
//  0. Gateway.reload (reload.go): one config reload at a time. Taken only
//     by Reload, with nothing held; under it the reload takes duty.w and
//     duty.mu (SetShifts), courier.mu and Engine.mu (SetEscalator), each
//     on its own and briefly.
//  1. deviceLocks (adapters.go): one bridged message of a device at a time,
//     so that two never decode against the same adapter state. Held from
//     reading the state until the write that holds the next one is synced
//     (commitBridged): the message's events and that state are one write of
//     the group commit, or, with no event, a write of the state alone
//     through the same commit queue. Under it only the store (AdapterState,
//     Commit, and PutWellbeings for a check-in press), the engine
//     (HandleEventWith, EndSiteCondition), care.mu (a leaf) and the
//     registry's read locks (AlarmLocation, Residents) are called; the
//     device's telemetry, supervision, the
//     hub, the time series and the reassurance (the broker) come after it
//     is released. Different devices never wait for each other's lock: a
//     bridge's messages share each sync with every device writing then.
//  2. incidents.mu (incidents.go): one correlation pass at a time; held
//     while the pass calls the engine (Open, OpenAtSite, RaiseSiteCondition,
//     EndSiteCondition, Record) and writes its records
//     (state.DB.PutIncident). Only correlation passes (and CorrelateNow in
//     tests) take it: the notification path (inhibit) takes only
//     incidents.recMu and the index's leaf lock. The index is loaded from
//     the engine (Open) once, by whichever comes first, with no lock held.
//  3. Engine.closedMu, then Engine.mu (package alerting). While holding
//     Engine.mu the engine calls, and only calls: the clock;
//     state.DB.Commit, which takes DB.closing for reading and queues the
//     write for the committer goroutine without waiting for the disk
//     (unless its queue of 4×maxBatch writes is full: then it waits for
//     room, which is the back-pressure of a disk that cannot keep up);
//     and, from Tick, the escalator's Tree (registry.Sites.Parent:
//     Sites.mu read), Roster and Operator (duty.mu read, then the
//     DutyRoster's lock), SiteChannels (config, no lock) and Info
//     (alarmInfo: registry.Registry.mu, Sites.mu and Residents.mu, read).
//     Where an alarm is (its site, location path, resident's name) is
//     looked up by the gateway before it calls the engine and handed to
//     HandleEvent, RaiseCondition or RaiseSiteCondition as data.
//  4. registry.Registry.w (the registry's one writer: devices, sites,
//     residents), then the read-write locks of its collections,
//     Registry.mu, Sites.mu and Residents.mu; duty.w, then duty.mu
//     (duty.go); incidents.recMu (incidents.go). None of them is ever held
//     while calling the engine, the broker or the notifiers, so the engine
//     may take the read locks under Engine.mu without a deadlock.
//     Registry.w and duty.w are held across their own bbolt transactions
//     and are never taken under Engine.mu.
//
// The engine's subscribers and Options.Deliver run with no engine lock
// held; they may call the broker (reassurance) and must not block. The
// HTTP handlers hold no lock of their own while they call the engine, the
// registry, the roster or the store.
package gateway
