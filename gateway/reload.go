package gateway

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// Reloading the config (SIGHUP; cmd/anxin handles the signal and calls
// Reload). What can change under a running gateway without losing an
// alarm changes at once:
//
//   - shifts: the duty roster is rebuilt, the shift watcher follows the
//     new boundaries;
//   - escalation, escalation_policies, contact_channels: a new escalator;
//   - notifiers, site_channels: a new delivery pipeline (deliveries in
//     flight finish on the old one) and routing by the new channels;
//   - adapters, integrations: new decoders for bridged devices and IoT
//     platforms' pushes (their vendor rules), with the stored Zigbee2MQTT
//     model tables.
//
// Every open alarm is then planned afresh (Engine.SetEscalator). Anything
// else (listen addresses, TLS files, data_dir, time_series, time_zone,
// bridges, timeouts, …) is bound at start: a changed value is logged and
// reported as "restart needed", and the running value stays. A field this
// file does not name counts as such, so a new config field is never
// reloaded by accident.
//
// All the new parts are built before any is swapped in: a config that is
// wrong (it does not load, or does not validate) or a part that cannot be
// built changes nothing, and is logged with the file, line and column.

// reloadable are the config fields (JSON names) Reload applies.
var reloadable = []string{"shifts", "escalation", "escalation_policies", "contact_channels", "site_channels",
	"notifiers", "adapters", "integrations"}

// Reload results, as anxin_config_reloads_total counts them.
const (
	ReloadApplied       = "applied"        // everything that changed was applied
	ReloadRestartNeeded = "restart_needed" // applied what could be; some changes wait for a restart
	ReloadFailed        = "failed"         // the config was refused: nothing changed
)

// ReloadReport says what a reload did.
type ReloadReport struct {
	Result string
	// Applied are the fields that changed and took effect.
	Applied []string
	// RestartNeeded are the fields that changed and keep their running
	// value until the gateway is restarted.
	RestartNeeded []string
}

// paths are the decoders of other wire formats in use.
type paths struct {
	adapters     []adapter
	integrations map[string]*integration // HTTP ingest (ingest_http.go)
}

func newPaths(cfg Config) (*paths, error) {
	ads, err := newAdapters(cfg.Adapters)
	if err != nil {
		return nil, err
	}
	ins, err := newIntegrations(cfg.Integrations)
	if err != nil {
		return nil, err
	}
	return &paths{adapters: ads, integrations: ins}, nil
}

// liveConfig is the config read while the gateway runs that a reload
// replaces.
type liveConfig struct {
	siteChannels map[string][]string
}

// Reload loads the config with load and applies what can change safely
// (see above). On an error nothing changes: the running config stays, and
// the error, logged too, says what was wrong and where.
func (g *Gateway) Reload(load func() (Config, error)) (ReloadReport, error) {
	g.reload.Lock()
	defer g.reload.Unlock()
	rep, err := g.reloadLocked(load)
	g.metrics.configReloads.WithLabelValues(rep.Result).Inc()
	switch {
	case err != nil:
		g.log.Error("config not reloaded; the running config stays", "err", err)
	case len(rep.RestartNeeded) > 0:
		g.log.Info("config reloaded", "applied", rep.Applied)
		g.log.Warn("config: restart needed for: "+strings.Join(rep.RestartNeeded, ", "),
			"restart_needed", rep.RestartNeeded)
	default:
		g.log.Info("config reloaded", "applied", rep.Applied)
	}
	return rep, err
}

func (g *Gateway) reloadLocked(load func() (Config, error)) (ReloadReport, error) {
	failed := ReloadReport{Result: ReloadFailed}
	cfg, err := load()
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		return failed, err
	}
	cfg = cfg.withDefaults()
	changed := changedFields(g.applied, cfg)
	var rep ReloadReport
	for _, f := range changed {
		if slices.Contains(reloadable, f) {
			rep.Applied = append(rep.Applied, f)
		} else {
			rep.RestartNeeded = append(rep.RestartNeeded, f)
		}
	}
	is := func(fields ...string) bool {
		return slices.ContainsFunc(rep.Applied, func(f string) bool { return slices.Contains(fields, f) })
	}
	if is("notifiers") && !reflect.DeepEqual(g.applied.Notifiers.Alertmanagers, cfg.Notifiers.Alertmanagers) {
		// Raises and closes go to the new ones at once; the loops that
		// re-post open alarms were started with the gateway.
		rep.RestartNeeded = append(rep.RestartNeeded, "notifiers.alertmanagers (re-posting)")
	}

	// Build everything first.
	var p *paths
	if is("adapters", "integrations") {
		if p, err = newPaths(cfg); err != nil {
			return failed, err
		}
		if err := g.loadZ2MTables(p.adapters); err != nil {
			return failed, err
		}
	}
	var pipe deliverer
	if is("notifiers") {
		if pipe, err = g.newPipeline(cfg); err != nil {
			return failed, err
		}
	}
	next := g.applied
	for _, f := range rep.Applied {
		setField(&next, f, cfg)
	}
	// Then swap it in. Shifts first: the only part that can still fail
	// (the roster is rebuilt from the state file).
	if is("shifts") {
		if err := g.duty.SetShifts(cfg.Shifts); err != nil {
			return failed, fmt.Errorf("config shifts: %w", err)
		}
	}
	if p != nil {
		g.paths.Store(p)
	}
	if pipe != nil {
		g.courier.setPipe(pipe)
	}
	g.live.Store(&liveConfig{siteChannels: cfg.SiteChannels})
	if is("shifts", "escalation", "escalation_policies", "contact_channels", "site_channels", "notifiers") {
		esc, err := g.newEscalator(next)
		if err != nil { // validated above: not reached
			return failed, errors.Join(errors.New("escalation policies not replaced"), err)
		}
		g.eng.SetEscalator(esc)
	}
	g.applied = next
	rep.Result = ReloadApplied
	if len(rep.RestartNeeded) > 0 {
		rep.Result = ReloadRestartNeeded
	}
	return rep, nil
}

// changedFields are the JSON names of the fields that differ between a
// and b, in the order of Config.
func changedFields(a, b Config) []string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	var out []string
	for i := range va.NumField() {
		f := va.Type().Field(i)
		name := jsonName(f)
		if !f.IsExported() || name == "" {
			continue
		}
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			out = append(out, name)
		}
	}
	return out
}

// setField sets dst's field named (in JSON) name to src's.
func setField(dst *Config, name string, src Config) {
	vd, vs := reflect.ValueOf(dst).Elem(), reflect.ValueOf(src)
	for i := range vd.NumField() {
		if f := vd.Type().Field(i); f.IsExported() && jsonName(f) == name {
			vd.Field(i).Set(vs.Field(i))
		}
	}
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "-" {
		return ""
	}
	return name
}
