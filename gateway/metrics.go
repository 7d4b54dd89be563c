package gateway

import (
	"sync/atomic"

	"github.com/mochi-mqtt/server/v2/system"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/internal/buildinfo"
)

// metrics are the gateway's Prometheus series, on its own registry.
type metrics struct {
	events          *prometheus.CounterVec
	rejections      *prometheus.CounterVec
	raised          *prometheus.CounterVec
	escalations     *prometheus.CounterVec
	reassured       *prometheus.CounterVec
	duplicates      prometheus.Counter
	telemetry       prometheus.Counter
	throttled       prometheus.Counter
	authFailures    prometheus.Counter
	connectsRefused *prometheus.CounterVec
	acceptErrors    *prometheus.CounterVec
	pubsRefused     *prometheus.CounterVec
	pressToReceived prometheus.Histogram
	timeToAck       *prometheus.HistogramVec
	commitBatch     prometheus.Histogram
	commitSeconds   prometheus.Histogram
	// Notification delivery (notifiers.go).
	notifications  *prometheus.CounterVec
	notifyFailures *prometheus.CounterVec
	notifySkipped  *prometheus.CounterVec
	// configReloads counts config reloads by result (reload.go).
	configReloads *prometheus.CounterVec
	// watchdogWithheld counts the systemd watchdog pings not sent because
	// the gateway was unhealthy (watchdog.go).
	watchdogWithheld prometheus.Counter
}

// latencyBuckets resolve the milliseconds that matter for a button press.
var latencyBuckets = []float64{.0005, .001, .002, .003, .005, .0075, .01, .015, .025, .05, .1, .25, .5, 1, 2.5}

func newMetrics(reg prometheus.Registerer, g *Gateway) *metrics {
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "anxin_events_total",
			Help: "Device events accepted, by event type."}, []string{"type"}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "anxin_rejections_total",
			Help: "Device payloads refused, by reason."}, []string{"reason"}),
		raised: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "anxin_alarms_raised_total",
			Help: "Alarms raised, by priority."}, []string{"priority"}),
		escalations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "anxin_escalations_total",
			Help: "Escalation steps fired, by priority."}, []string{"priority"}),
		reassured: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "anxin_reassurances_total",
			Help: "Reassurance messages sent to devices, by state."}, []string{"state"}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{Name: "anxin_duplicate_events_total",
			Help: "Events recognised as redeliveries of an accepted (device, seq)."}),
		telemetry: prometheus.NewCounter(prometheus.CounterOpts{Name: "anxin_telemetry_messages_total",
			Help: "Telemetry messages accepted."}),
		throttled: prometheus.NewCounter(prometheus.CounterOpts{Name: "anxin_throttled_events_total",
			Help: "Events slowed down because their device exceeded its rate."}),
		authFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "anxin_mqtt_auth_failures_total",
			Help: "MQTT connections refused for a wrong id or password."}),
		pubsRefused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "anxin_mqtt_publishes_refused_total",
			Help: "PUBLISH packets refused by the broker's ACL (a topic the client may not publish on), by reason."},
			[]string{"reason"}),
		acceptErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "anxin_mqtt_accept_errors_total",
			Help: "Failed accepts of MQTT connections (e.g. out of file descriptors), by listener; each is retried."},
			[]string{"listener"}),
		connectsRefused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "anxin_mqtt_connects_refused_total",
			Help: "MQTT CONNECTs refused, by reason (credentials, client_id, will)."}, []string{"reason"}),
		pressToReceived: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "anxin_press_to_received_seconds",
			Help:    "From an event's arrival at the broker to its durable 'received' reassurance being sent.",
			Buckets: latencyBuckets}),
		timeToAck: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "anxin_alarm_time_to_acknowledge_seconds",
			Help:    "From an alarm being raised to an operator taking it, by priority (walk tests excluded).",
			Buckets: []float64{5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1800}}, []string{"priority"}),
		commitBatch: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "anxin_store_commit_batch_size",
			Help: "Writes that shared one sync of the alarm store.", Buckets: prometheus.ExponentialBuckets(1, 2, 10)}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "anxin_store_commit_seconds",
			Help: "Time to write and sync one batch of the alarm store.", Buckets: latencyBuckets}),
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "anxin_notifications_total",
			Help: "Notification delivery attempts, by channel, notifier kind and outcome (delivered, retrying, failed)."},
			[]string{"channel", "kind", "outcome"}),
		notifyFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "anxin_notification_failures_total",
			Help: "Failed notification attempts, by notifier (its channel, e.g. robot:qs-town)."}, []string{"notifier"}),
		notifySkipped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "anxin_notifications_skipped_total",
			Help: "Notifications not sent, by channel and reason (duplicate, inhibited)."}, []string{"channel", "reason"}),
		watchdogWithheld: prometheus.NewCounter(prometheus.CounterOpts{Name: "anxin_watchdog_pings_withheld_total",
			Help: "systemd watchdog pings not sent because the state store or the broker was unhealthy."}),
		configReloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "anxin_config_reloads_total",
			Help: "Config reloads (SIGHUP), by result: applied, restart_needed (some changes wait for a restart), failed (nothing changed)."},
			[]string{"result"}),
	}
	for _, r := range []string{ReloadApplied, ReloadRestartNeeded, ReloadFailed} {
		m.configReloads.WithLabelValues(r)
	}
	for _, r := range devices.Reasons() {
		m.rejections.WithLabelValues(string(r))
	}
	m.pubsRefused.WithLabelValues(refusedNotAuthorized)
	for _, r := range []string{refusedCredentials, refusedClientID, refusedWill} {
		m.connectsRefused.WithLabelValues(r)
	}
	for _, p := range []alerting.Priority{alerting.P1, alerting.P2, alerting.P3} {
		m.raised.WithLabelValues(p.String())
	}
	// anxin_build_info is 1, labelled with the running build, so that a
	// dashboard can show which version each gateway runs.
	bi := buildinfo.Get()
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{Name: "anxin_build_info",
		Help:        "Always 1; its labels are the running build's version, VCS revision and Go version.",
		ConstLabels: prometheus.Labels{"version": bi.Version, "revision": bi.Revision, "goversion": bi.GoVersion}})
	buildInfo.Set(1)
	openAlarms := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "anxin_alarms_open",
		Help: "Alarms open now, by priority."}, []string{"priority"})
	reg.MustRegister(m.events, m.rejections, m.raised, m.escalations, m.reassured, m.duplicates, m.telemetry,
		m.throttled, m.authFailures, m.connectsRefused, m.acceptErrors, m.pubsRefused, m.pressToReceived, m.timeToAck, m.commitBatch, m.commitSeconds,
		brokerCollector{g},
		m.notifications, m.notifyFailures, m.notifySkipped, m.configReloads, m.watchdogWithheld,
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "anxin_store_commit_failures_total",
			Help: "Writes the state store refused (device events, operator actions, escalation steps, readiness probes)."},
			func() float64 { return float64(g.db.CommitFailures()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "anxin_store_syncs_total",
			Help: "Write transactions of the state store, each one fsync (a group commit of many alarm writes counts once)."},
			func() float64 { return float64(g.db.Syncs()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "anxin_operators_on_duty",
			Help: "People on duty now at any site."}, func() float64 { return float64(g.duty.count(g.now())) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "anxin_devices_connected",
			Help: "Devices whose last word was online."}, func() float64 { return float64(g.reg.Connected()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "anxin_devices_in_test_mode",
			Help: "Devices in walk-test mode now, whose alarms go to installers."},
			func() float64 { return float64(g.testsRunning(g.now())) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "anxin_devices_provisioned",
			Help: "Devices in the registry."}, func() float64 { return float64(len(g.reg.List())) }),
		&openGauge{vec: openAlarms, g: g},
		buildInfo,
	)
	return m
}

// brokerCollector reads the embedded broker's own counters when scraped.
type brokerCollector struct{ g *Gateway }

var brokerDescs = []struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(i *system.Info) int64
}{
	{prometheus.NewDesc("anxin_mqtt_clients_connected", "MQTT clients connected now (devices and bridges).", nil, nil),
		prometheus.GaugeValue, func(i *system.Info) int64 { return atomic.LoadInt64(&i.ClientsConnected) }},
	{prometheus.NewDesc("anxin_mqtt_messages_received_total", "PUBLISH messages received by the broker.", nil, nil),
		prometheus.CounterValue, func(i *system.Info) int64 { return atomic.LoadInt64(&i.MessagesReceived) }},
	{prometheus.NewDesc("anxin_mqtt_messages_sent_total", "PUBLISH messages sent by the broker (reassurance, commands).", nil, nil),
		prometheus.CounterValue, func(i *system.Info) int64 { return atomic.LoadInt64(&i.MessagesSent) }},
	{prometheus.NewDesc("anxin_mqtt_messages_dropped_total", "Messages the broker dropped for a client too slow to take them.", nil, nil),
		prometheus.CounterValue, func(i *system.Info) int64 { return atomic.LoadInt64(&i.MessagesDropped) }},
	{prometheus.NewDesc("anxin_mqtt_inflight_dropped_total", "QoS 1 messages to devices dropped over the in-flight quota.", nil, nil),
		prometheus.CounterValue, func(i *system.Info) int64 { return atomic.LoadInt64(&i.InflightDropped) }},
	{prometheus.NewDesc("anxin_mqtt_retained_messages", "Retained messages held (device status).", nil, nil),
		prometheus.GaugeValue, func(i *system.Info) int64 { return atomic.LoadInt64(&i.Retained) }},
}

func (brokerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range brokerDescs {
		ch <- d.desc
	}
}

func (c brokerCollector) Collect(ch chan<- prometheus.Metric) {
	if c.g.broker == nil {
		return
	}
	for _, d := range brokerDescs {
		ch <- prometheus.MustNewConstMetric(d.desc, d.kind, float64(d.value(c.g.broker.Info)))
	}
}

// openGauge counts open alarms by priority when scraped.
type openGauge struct {
	vec *prometheus.GaugeVec
	g   *Gateway
}

func (o *openGauge) Describe(ch chan<- *prometheus.Desc) { o.vec.Describe(ch) }

func (o *openGauge) Collect(ch chan<- prometheus.Metric) {
	for p, n := range o.g.eng.OpenCounts(true) {
		o.vec.WithLabelValues(p.String()).Set(float64(n))
	}
	o.vec.Collect(ch)
}
