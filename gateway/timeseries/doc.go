// Package timeseries keeps the gateway's time series: device telemetry,
// events, alarm statistics and the gateway's own gauges, for the 24-hour
// wall dashboard and for Grafana.
//
// # Use
//
// The gateway opens one writer from its config and hands it to the ingest
// pipeline:
//
//	ts, err := timeseries.Open(cfg, reg, logger) // *Buffered
//	ts.Write(ctx, timeseries.Point{Measurement: timeseries.Telemetry, …})
//	samples, err := ts.Query(ctx, timeseries.Query{…, Every: time.Minute, Fn: timeseries.Mean})
//	ts.Status()  // for /readyz detail
//	ts.Close()
//
// Store is the one interface: Write, Query (one field of the series that
// match a tag filter, over [Start, End), in epoch-aligned windows with
// mean/max/min/count/sum/last, or raw), Series (tag sets seen since a
// time), Flush and Close. Embedded and Influx implement it, and so does
// Buffered, which wraps either.
//
// # Schema
//
// Four measurements, all fields float64 (text goes in tags):
//
//	measurement  tags                                              fields
//	telemetry    device kind county township village site resident battery rssi linkquality hr spo2 temp_c
//	                                                               smoke_obscuration gas_lel steps, and an edge
//	                                                               box's queue_depth queue_oldest_ts (devices.Field*)
//	events       device kind type priority county township village count (=1)
//	             site resident
//	alarms       type priority state outcome device kind county    count (=1); tta_s on state=acknowledged,
//	             township village site resident                    ttd_s on dispatched, ttr_s on resolved/cancelled
//	gateway      instance [county township village site]           devices_total devices_online devices_offline
//	                                                               devices_low_battery alarms_open alarms_open_p1
//	                                                               operators_on_duty
//
// type is the event type (events) or alarm type (alarms); state is one of
// raised, acknowledged, dispatched, resolved, cancelled, escalated; a
// gateway point without site tags is the whole gateway, one with them is
// that site's share. A resident is tagged by id, never by name: personal
// data stays in the durable store. Tags are the dashboards' filters and groups; anything
// unbounded (alarm ids, sequence numbers) is not a tag, which keeps the
// number of series close to the number of devices.
//
// # Embedded store
//
// The default. One bbolt file (tsdb.bolt) in the data directory, chosen
// over hourly append-only segment files because bbolt is already how the
// gateway keeps durable state (one dependency, one way to back up), its
// transactions put a point and its per-minute rollup on disk together
// (a crash never leaves them disagreeing), and its ordered keys give range
// scans and whole-hour deletes without an index of our own. Raw points are
// kept RawRetention (default 24 h) and per-minute rollups (count, sum, min,
// max, last of each field) Retention (default 7 days), both in one bucket
// per hour, so expiry is deleting whole hours: it runs on the first write
// of each hour and once a minute when idle. Queries whose window is whole
// minutes read rollups (a day of one device is 1,440 reads) plus raw points
// for partial minutes at the ends; other queries read raw points. Keys are
// time-major so a commit appends to a few pages whatever number of series
// it touches. Points older than the retention, more than a day ahead of
// the clock, or of new series beyond MaxSeries are skipped and logged.
//
// Memory: the Go heap holds the series index (about 0.5–1 KB a series, at
// most MaxSeries, default 100,000) and the batch being written; the data
// stays in the file, which bbolt maps read-only, so its pages are the
// kernel's page cache, not the heap. A 1,000-device fleet sending four
// readings a minute for 24 h (1.44 M points) holds about 3 MB of heap,
// tested against a 24 MB bound (TestEmbeddedFleetDay), in a file of about
// 140 bytes a point, raw and rollup together (≈200 MB for that fleet's day;
// each further day of rollups alone adds about half). The clock is
// injected (EmbeddedConfig.Now) so tests compress days.
//
// # InfluxDB store
//
// For real deployments: InfluxDB 2.x, or 1.8 through its v2-compatible API
// (flux-enabled = true; token "user:password" or ":" without auth; org
// ignored; bucket "database/retention-policy"). Writes are one line-protocol
// request per batch through the client's blocking API; reads are Flux that
// Flux 0.65 (InfluxDB 1.8.10) understands. Series are listed with a
// last() over the range, which reads it all: keep the range short.
//
// # Buffered writer
//
// The alarm path never waits on a time-series store. Buffered.Write copies
// points into a bounded queue (Capacity points, default 100,000; a queued
// telemetry point with its maps is about 0.7 KB, so ≈70 MB at worst) and
// returns; when the queue is full the newest points are dropped and counted.
// One goroutine drains it in batches; while the store fails it retries the
// same batch with jittered exponential backoff (MinBackoff to MaxBackoff),
// so points arrive in order once the store is back. A batch the store
// refuses as bad data (ErrRejected) is dropped and counted, not retried.
// Metrics go to the Registerer passed in: anxin_tsdb_dropped_points_total
// {reason}, anxin_tsdb_buffer_depth, anxin_tsdb_buffer_capacity,
// anxin_tsdb_write_duration_seconds, anxin_tsdb_written_points_total,
// anxin_tsdb_write_errors_total, anxin_tsdb_healthy; Status, Healthy,
// Depth, Dropped and LastError are for /readyz detail.
//
// # Concurrency
//
// Every Store here is safe for concurrent use. Embedded serialises writers
// (bbolt does anyway) while queries run in parallel read transactions.
// Buffered's Write takes a mutex for a few hundred nanoseconds a point and
// never does I/O; its maps belong to the writer once passed in.
package timeseries
