package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway/edge"
	"github.com/anxin-care/anxin/gateway/httpapi"
	"github.com/anxin-care/anxin/gateway/registry"
	"github.com/anxin-care/anxin/gateway/state"
	"github.com/anxin-care/anxin/gateway/timeseries"
	"github.com/anxin-care/anxin/internal/sdnotify"
	"github.com/anxin-care/anxin/mqttlisten"
)

// Gateway is one running anxin: broker, alarm engine, state and HTTP API.
type Gateway struct {
	cfg    Config
	log    *slog.Logger
	now    func() time.Time
	db     *state.DB
	reg    *registry.Registry
	eng    *alerting.Engine
	broker *mqtt.Server
	http   *http.Server
	// pprof serves profiles on pprofLn when debug.pprof_listen is set.
	pprof   *http.Server
	pprofLn net.Listener
	hub     *httpapi.Hub
	sup     *devices.Supervisor
	care    *care // wellbeing rules' memory (wellbeing.go)
	ts      *timeseries.Buffered
	box     *edge.Box // the edge box's pins and uplink; nil unless edge mode (edge.go)

	elapsed    func() time.Duration // never jumps (Deps.Elapsed); nil: everything runs on now
	clockWatch clockWatch           // jumps of now against elapsed (clockjump.go)

	duty      *duty      // who is on duty where (duty.go)
	incidents *incidents // site-level incidents (incidents.go)
	courier   *courier   // notification delivery (notifiers.go)
	alerts    *alertFeed // alarms told to Alertmanagers (alertmanager.go)
	// notifyClient is the notifiers' HTTP client; its idle connections are
	// closed once the courier's deliveries have ended.
	notifyClient *http.Client

	// paths are the adapters and integrations (HTTP ingest) in use,
	// replaced whole by a config reload (reload.go).
	paths        atomic.Pointer[paths]
	adapterLocks deviceLocks
	// live is what a reload can change beyond paths: site_channels; reload
	// is the config as last applied (reload.go).
	live     atomic.Pointer[liveConfig]
	reload   sync.Mutex // one reload at a time; guards applied
	applied  Config
	metrics  *metrics
	refusals *refusalLog // rate-limited log lines of refusals (refusallog.go)
	prom     *prometheus.Registry

	mqttLn, tlsLn, httpLn net.Listener
	mqttListeners         []*mqttlisten.Listener // serve the broker; /readyz asks them
	cancel                context.CancelFunc
	wg                    sync.WaitGroup
	closeOnce             sync.Once
	started               bool // Start succeeded: Close logs the stop
	systemd               *sdnotify.Notifier

	// backupToken may take backups from this machine (backup.go).
	backupToken string
}

// Deps are the gateway's injected parts; zero values take real ones.
type Deps struct {
	Now    func() time.Time
	Logger *slog.Logger
	// Elapsed reads a clock that never jumps (time since any fixed point):
	// escalations and device supervision are measured on it, so that the
	// wall clock (Now) put right by NTP, as on a Raspberry Pi without a
	// real-time clock, neither fires nor holds them. Nil with Now nil: Go's
	// monotonic clock; nil with Now given: everything runs on Now.
	Elapsed func() time.Duration
	// Systemd is told READY=1 once the gateway serves, and its watchdog
	// is pinged while Healthy (watchdog.go); nil when not run by systemd.
	Systemd *sdnotify.Notifier
}

// Start opens the data directory, binds both listeners and starts serving.
// It returns when the gateway is ready; Close stops it.
//
// A failure to start returns one error that names what is at fault (the
// address, directory or file) after releasing whatever was already opened.
func Start(ctx context.Context, cfg Config, deps Deps) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	g := &Gateway{cfg: cfg, log: deps.Logger, now: deps.Now, elapsed: deps.Elapsed, systemd: deps.Systemd}
	if g.now == nil {
		g.now = time.Now
		if g.elapsed == nil {
			start := time.Now()
			g.elapsed = func() time.Duration { return time.Since(start) }
		}
	}
	if g.log == nil {
		g.log = NewLogger(os.Stderr, cfg.LogLevel, cfg.LogFormat)
	}
	if err := g.start(ctx); err != nil {
		g.Close()
		return nil, err
	}
	return g, nil
}

// start is Start after the config is checked; on error, Close releases
// what it opened, so every field it sets may still be nil then.
func (g *Gateway) start(ctx context.Context) (err error) {
	cfg := g.cfg
	g.applied = cfg
	g.live.Store(&liveConfig{siteChannels: cfg.SiteChannels})
	p, err := newPaths(cfg)
	if err != nil {
		return err
	}
	// The data directory holds more than a bbolt state (the backup token,
	// the embedded time series): it is made whatever the state backend.
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("data directory %s: %w", cfg.DataDir, err)
	}
	if g.db, err = state.OpenConfig(ctx, cfg.State, cfg.DataDir); err != nil {
		return err
	}
	if g.backupToken, err = writeBackupToken(cfg.DataDir); err != nil {
		return err
	}
	if err = g.loadZ2MTables(p.adapters); err != nil {
		return err
	}
	g.paths.Store(p)
	if g.db.Migrated > 0 {
		g.log.Info("state file migrated: site-level incidents are now alarms about sites", "records", g.db.Migrated,
			"data_dir", cfg.DataDir)
	}
	if g.reg, err = registry.NewRegistry(g.db); err != nil {
		return err
	}
	g.prom = prometheus.NewRegistry()
	g.prom.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	g.metrics = newMetrics(g.prom, g)
	g.refusals = newRefusalLog(g.log)
	if err := g.startAlerting(); err != nil {
		return err
	}
	g.db.ObserveBatches(func(n int, d time.Duration) {
		g.metrics.commitBatch.Observe(float64(n))
		g.metrics.commitSeconds.Observe(d.Seconds())
	})
	if g.ts, err = g.openSeries(cfg); err != nil {
		return err
	}
	g.hub, g.sup = httpapi.NewHub(), devices.NewSupervisor()
	if g.elapsed != nil {
		g.sup = devices.NewSupervisorOn(g.elapsed)
	}
	if g.care, err = newCare(g.db); err != nil {
		return err
	}
	g.wellbeingAtStart(g.now())
	g.eng.Subscribe(g.onChange)
	g.eng.Subscribe(g.hub.PublishChange)
	g.eng.Subscribe(g.recordAlarm)
	g.eng.Subscribe(g.alerts.onChange)
	if err := g.openEdge(); err != nil {
		return err
	}

	if g.mqttLn, err = net.Listen("tcp", cfg.MQTTAddr); err != nil {
		return fmt.Errorf("mqtt listen %s: %w", cfg.MQTTAddr, err)
	}
	if g.httpLn, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		return fmt.Errorf("http listen %s: %w", cfg.HTTPAddr, err)
	}
	if g.tlsLn, err = listenTLS(cfg); err != nil {
		return err
	}
	if g.broker, g.mqttListeners, err = newBroker(g.mqttLn, g.tlsLn, &deviceHook{g: g}, g.log); err != nil {
		return err
	}
	if err := g.broker.Serve(); err != nil {
		return fmt.Errorf("mqtt: %w", err)
	}
	g.http = &http.Server{Handler: g.api(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: httpIdleTimeout,
		ConnContext: httpapi.ConnContext}

	var runCtx context.Context
	runCtx, g.cancel = context.WithCancel(context.WithoutCancel(ctx))
	// The outbox is read before escalation starts: the steps that fell due
	// while the gateway was down add their own items, which replay must
	// not see (it would send them twice and take them out before they are
	// delivered).
	g.courier.replay(g.eng.Get)
	g.goRun(func() { g.eng.Run(runCtx) })
	g.goRun(func() { g.incidents.run(runCtx) })
	g.goRun(func() { g.alerts.run(runCtx, g.alertDeps()) })
	g.goRun(func() { g.duty.watchShifts(runCtx, g.eng.Reschedule) })
	g.goRun(func() { g.housekeeping(runCtx) })
	g.goRun(func() { g.runSupervision(runCtx) })
	g.goRun(func() { g.runGauges(runCtx) })
	if err := g.startPprof(); err != nil {
		return err
	}
	if g.box != nil {
		g.box.Start(runCtx)
	}
	g.goRun(func() {
		if err := g.http.Serve(g.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			g.log.Error("http server stopped", "err", err)
		}
	})
	g.notifyReady(runCtx)
	g.log.Info("anxin gateway started", "mqtt", g.MQTTAddr(), "http", g.HTTPAddr(), "data_dir", cfg.DataDir,
		"state", cfg.State.Where(cfg.DataDir), "devices", len(g.reg.List()), "open_alarms", len(g.eng.Open()))
	g.started = true
	return nil
}

// startAlerting builds the duty roster, incidents, notifiers and the
// escalator over the site tree, and the alarm engine that uses them.
func (g *Gateway) startAlerting() error {
	loc, err := time.LoadLocation(g.cfg.TimeZone)
	if err != nil {
		return err
	}
	if g.duty, err = newDuty(g.db, g.cfg.Shifts, loc, g.now, g.log); err != nil {
		return err
	}
	g.alerts = newAlertFeed(g.log)
	g.notifyClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	pipe, err := g.newPipeline(g.cfg)
	if err != nil {
		return err
	}
	g.courier = newCourier(pipe, g.db, offlineHold(time.Duration(g.cfg.Incidents.OfflineHold)), g.log)
	esc, err := g.newEscalator(g.cfg)
	if err != nil {
		return err
	}
	g.eng, err = alerting.NewEngine(g.db, alerting.Options{Now: g.now, Elapsed: g.elapsed, Logger: g.log,
		Escalator: esc, Info: g.alarmInfo, Deliver: g.courier.deliver, Watched: g.watching})
	if err != nil {
		return err
	}
	// Nothing is delivered before startAlerting returns (the engine's Run
	// and the outbox's replay start later), so the pipeline's inhibition,
	// which asks the incidents, never runs before they are built.
	g.incidents, err = newIncidents(g.eng, g.db, g.siteLocation, g.reg.Sites().Subtree,
		g.cfg.Incidents.correlateOptions(g.siteOf), g.log)
	return err
}

func (g *Gateway) goRun(fn func()) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		fn()
	}()
}

// MQTTAddr is the bound MQTT address, e.g. 127.0.0.1:41883.
func (g *Gateway) MQTTAddr() string { return g.mqttLn.Addr().String() }

// MQTTTLSAddr is the bound MQTT-over-TLS address, "" when TLS is off.
func (g *Gateway) MQTTTLSAddr() string {
	if g.tlsLn == nil {
		return ""
	}
	return g.tlsLn.Addr().String()
}

// listenTLS opens the TLS listener for devices when the config asks for one.
func listenTLS(cfg Config) (net.Listener, error) {
	if cfg.MQTTTLSAddr == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("config tls_cert_file/tls_key_file: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.MQTTTLSAddr)
	if err != nil {
		return nil, fmt.Errorf("mqtt tls listen %s: %w", cfg.MQTTTLSAddr, err)
	}
	return tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}), nil
}

// HTTPAddr is the bound HTTP address.
func (g *Gateway) HTTPAddr() string { return g.httpLn.Addr().String() }

// DB gives tests and the admin command the state store.
func (g *Gateway) DB() *state.DB { return g.db }

// Engine gives tests the alarm engine.
func (g *Gateway) Engine() *alerting.Engine { return g.eng }

// Close stops serving: devices are disconnected, HTTP requests in flight
// get a few seconds to finish, queued writes are synced, the file closed.
func (g *Gateway) Close() error {
	g.closeOnce.Do(func() {
		if g.started {
			g.systemd.Send("STOPPING=1")
		}
		if g.cancel != nil {
			g.cancel()
		}
		if g.http != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			g.hub.Close()
			g.http.Shutdown(ctx)
			cancel()
		} else if g.httpLn != nil {
			g.httpLn.Close()
		}
		if g.pprof != nil {
			g.pprof.Close()
		}
		if g.box != nil {
			g.box.Close()
		}
		if g.broker != nil {
			g.broker.Close()
		} else if g.mqttLn != nil {
			g.mqttLn.Close()
			if g.tlsLn != nil {
				g.tlsLn.Close()
			}
		}
		g.wg.Wait()
		if g.courier != nil {
			g.courier.close()
		}
		if g.notifyClient != nil {
			g.notifyClient.CloseIdleConnections()
		}
		if g.ts != nil {
			g.ts.Close()
		}
		if g.db != nil {
			g.db.Close()
		}
		if g.started {
			g.log.Info("anxin gateway stopped")
		}
	})
	return nil
}

// housekeeping prunes old idempotency records once an hour.
func (g *Gateway) housekeeping(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			g.housekeep(g.now())
		}
	}
}

// housekeep forgets, at now, the events' idempotency keys older than
// DefaultSeenRetention and the platform pushes' ids older than
// DefaultPushRetention.
func (g *Gateway) housekeep(now time.Time) {
	for _, p := range []struct {
		what  string
		keep  time.Duration
		prune func(time.Time) (int, error)
	}{
		{"idempotency keys", DefaultSeenRetention, g.db.PruneSeen},
		{"push records", DefaultPushRetention, g.db.PrunePushes},
	} {
		n, err := p.prune(now.Add(-p.keep))
		if err != nil {
			g.log.Warn("pruning failed", "what", p.what, "err", err)
		} else if n > 0 {
			g.log.Info("pruned", "what", p.what, "count", n)
		}
	}
}

// Housekeep runs one housekeeping pass at now; tests on a fake clock call it.
func (g *Gateway) Housekeep(now time.Time) { g.housekeep(now) }

// The log formats of Config.LogFormat.
const (
	LogText = "text" // slog's key=value lines
	LogJSON = "json" // one JSON object a line
)

// NewLogger returns the gateway's logger: records at level and above
// (info when level is not one), written to w as text or json.
func NewLogger(w io.Writer, level, format string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: l}
	if format == LogJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Registry gives tests and the lead's wiring the registry model.
func (g *Gateway) Registry() *registry.Registry { return g.reg }

// Location returns where a device is and who uses it. An unknown device
// has an empty Location. Safe for concurrent use; it takes only read locks.
func (g *Gateway) Location(deviceID string) registry.Location { return g.reg.Location(deviceID) }

// TimeSeries gives tests and the console the time-series writer.
func (g *Gateway) TimeSeries() *timeseries.Buffered { return g.ts }
