package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/alerting/notify"
	"github.com/anxin-care/anxin/gateway/state"
)

// Notifiers: the webhooks and group robots of the config reach people
// through the delivery pipeline of alerting/notify (inhibit → dedup → retry
// with backoff → the channel's notifier).
//
// Channels are named by what a policy writes: a webhook NAME is the channel
// "webhook:NAME"; a WeCom or a DingTalk robot NAME is "robot:NAME", either
// way, because a policy names the group it reaches, not its vendor. So a
// robot's name must be unique across wecom and dingtalk.
//
// Every attempt is put on the alarm's timeline (action "notified": channel,
// attempt number, outcome, HTTP status or error, the wait before the next)
// and counted: anxin_notifications_total{channel,kind,outcome},
// anxin_notification_failures_total{notifier} (every failed attempt, by
// channel), anxin_notifications_skipped_total{channel,reason}. A
// notification is skipped ("inhibited") when its alarm has moved on since
// its step fell due (a step of an alarm acknowledged meanwhile) or when it
// is one of the offline alarms a site-level incident speaks for
// (incidents.go); the skip is noted on the alarm's timeline.
//
// Crashes: the engine stores that a step fired, and the step's
// notifications in an outbox (state.DB.Outbox), in one write, before it
// hands them over; so a step never fires twice and its notifications are
// never lost. Each stays in the outbox until it is delivered or given up.
// At start, those still in the outbox whose alarm still wants them (a step
// while the alarm is raised, a reminder while it is acknowledged) are
// delivered again, and the others dropped. A crash between a delivery and
// its removal from the outbox sends it twice, with the same key (the
// webhook's Idempotency-Key), because a duplicate beats a missed emergency.

// NotifiersConfig is the `notifiers` section of the config.
type NotifiersConfig struct {
	// Webhooks by name: channel "webhook:NAME".
	Webhooks map[string]notify.WebhookConfig `json:"webhooks"`
	// WeCom and DingTalk group robots by name: channel "robot:NAME".
	WeCom    map[string]notify.WeComConfig    `json:"wecom"`
	DingTalk map[string]notify.DingTalkConfig `json:"dingtalk"`
	// Alertmanagers by name: channel "alertmanager:NAME", told of every
	// alarm they want rather than named by policies (alertmanager.go).
	Alertmanagers map[string]notify.AlertmanagerConfig `json:"alertmanagers"`
	// Backoff is the schedule of retries; notify.DefaultBackoff's fields
	// where left out.
	Backoff BackoffConfig `json:"backoff"`
}

// BackoffConfig is notify.Backoff as config writes it ("2s").
type BackoffConfig struct {
	Base        alerting.Duration `json:"base"`
	Factor      float64           `json:"factor"`
	Max         alerting.Duration `json:"max"`
	MaxAttempts int               `json:"max_attempts"`
	Jitter      *float64          `json:"jitter"`
}

func (b BackoffConfig) backoff() notify.Backoff {
	d := notify.DefaultBackoff
	if b.Base != 0 {
		d.Base = time.Duration(b.Base)
	}
	if b.Factor != 0 {
		d.Factor = b.Factor
	}
	if b.Max != 0 {
		d.Max = time.Duration(b.Max)
	}
	if b.MaxAttempts != 0 {
		d.MaxAttempts = b.MaxAttempts
	}
	if b.Jitter != nil {
		d.Jitter = *b.Jitter
	}
	return d
}

// channels lists the configured channel names, sorted.
func (c NotifiersConfig) channels() []string {
	var out []string
	for name := range c.Webhooks {
		out = append(out, alerting.TargetWebhookPrefix+name)
	}
	for name := range c.WeCom {
		out = append(out, alerting.TargetRobotPrefix+name)
	}
	for name := range c.DingTalk {
		out = append(out, alerting.TargetRobotPrefix+name)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// validate checks every notifier, naming it; secrets never appear.
func (c NotifiersConfig) validate() error {
	for name, w := range c.Webhooks {
		if err := state.ValidSlug(name); err != nil {
			return fmt.Errorf("config notifiers.webhooks name %w", err)
		}
		if err := w.Validate(); err != nil {
			return fmt.Errorf("config notifiers.webhooks.%s: %w", name, err)
		}
	}
	for name, r := range c.WeCom {
		if err := state.ValidSlug(name); err != nil {
			return fmt.Errorf("config notifiers.wecom name %w", err)
		}
		if _, dup := c.DingTalk[name]; dup {
			return fmt.Errorf("config notifiers: robot %q is both a wecom and a dingtalk robot; both would be channel robot:%s", name, name)
		}
		if err := r.Validate(); err != nil {
			return fmt.Errorf("config notifiers.wecom.%s: %w", name, err)
		}
	}
	for name, r := range c.DingTalk {
		if err := state.ValidSlug(name); err != nil {
			return fmt.Errorf("config notifiers.dingtalk name %w", err)
		}
		if err := r.Validate(); err != nil {
			return fmt.Errorf("config notifiers.dingtalk.%s: %w", name, err)
		}
	}
	for name, a := range c.Alertmanagers {
		if err := state.ValidSlug(name); err != nil {
			return fmt.Errorf("config notifiers.alertmanagers name %w", err)
		}
		if err := a.Validate(); err != nil {
			return fmt.Errorf("config notifiers.alertmanagers.%s: %w", name, err)
		}
	}
	if err := c.Backoff.backoff().Validate(); err != nil {
		return fmt.Errorf("config notifiers.backoff: %w", err)
	}
	return nil
}

// newNotifiers builds the channels of cfg. Messages show times in the
// gateway's zone; DingTalk signs with the gateway's clock.
func (g *Gateway) newNotifiers(cfg Config, client *http.Client) (map[string]alerting.Notifier, error) {
	loc, err := time.LoadLocation(g.cfg.TimeZone)
	if err != nil {
		return nil, err
	}
	out := map[string]alerting.Notifier{}
	add := func(channel string, n alerting.Notifier, err error) error {
		if err != nil {
			return fmt.Errorf("config notifiers %s: %w", channel, err)
		}
		out[channel] = n
		return nil
	}
	for name, c := range cfg.Notifiers.Webhooks {
		c.Location, c.Now = loc, g.now
		n, err := notify.NewWebhook(c, client)
		if err := add(alerting.TargetWebhookPrefix+name, n, err); err != nil {
			return nil, err
		}
	}
	for name, c := range cfg.Notifiers.WeCom {
		c.Location = loc
		n, err := notify.NewWeCom(c, client)
		if err := add(alerting.TargetRobotPrefix+name, n, err); err != nil {
			return nil, err
		}
	}
	for name, c := range cfg.Notifiers.DingTalk {
		c.Location, c.Now = loc, g.now
		n, err := notify.NewDingTalk(c, client)
		if err := add(alerting.TargetRobotPrefix+name, n, err); err != nil {
			return nil, err
		}
	}
	for name, c := range cfg.Notifiers.Alertmanagers {
		c.Location, c.Now = loc, g.now
		n, err := notify.NewAlertmanager(c, client)
		if err := add(alertmanagerPrefix+name, n, err); err != nil {
			return nil, err
		}
		// The feed's re-post loops start with the gateway; a reload
		// changes the posts of raises and closes, not them (reload.go).
		if !g.started {
			g.alerts.add(alertmanagerPrefix+name, n)
		}
	}
	return out, nil
}

// newPipeline builds the delivery pipeline over cfg's channels, which
// share the gateway's notifyClient.
func (g *Gateway) newPipeline(cfg Config) (*notify.Pipeline, error) {
	channels, err := g.newNotifiers(cfg, g.notifyClient)
	if err != nil {
		return nil, err
	}
	pipe, err := notify.New(notify.Config{
		Channels: channels,
		Backoff:  cfg.Notifiers.Backoff.backoff(),
		Recorder: notify.RecorderFunc(g.recordAttempt),
		Metrics:  notifyMetrics{g.metrics},
		Inhibit:  g.inhibit,
		Now:      g.now,
	})
	if err != nil {
		return nil, err
	}
	for ch := range channels {
		g.metrics.notifyFailures.WithLabelValues(ch) // present from the start, so increase() sees the first
	}
	return pipe, nil
}

// recordAttempt puts one delivery attempt on its alarm's timeline.
func (g *Gateway) recordAttempt(a notify.Attempt) {
	if a.Outcome != notify.Delivered {
		g.log.Warn("notification attempt failed", "alarm", a.Alarm, "channel", a.Channel, "attempt", a.Number,
			"outcome", string(a.Outcome), "status", a.Status, "err", a.Error)
	}
	if a.Alarm == "" {
		return
	}
	e := alerting.Entry{At: a.At.Add(a.Took), Kind: a.Note, Step: a.Step, Targets: []string{a.Channel}, Note: attemptNote(a)}
	if err := g.eng.RecordNotification(a.Alarm, e); err != nil {
		g.log.Warn("notification attempt not recorded", "alarm", a.Alarm, "channel", a.Channel, "err", err)
	}
}

// attemptNote is how the timeline reads an attempt:
// "webhook:county attempt 2 (webhook): retrying, HTTP 500: …; next in 4s".
func attemptNote(a notify.Attempt) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s attempt %d (%s): %s", a.Channel, a.Number, a.Kind, a.Outcome)
	if a.Status != 0 {
		fmt.Fprintf(&b, ", HTTP %d", a.Status)
	}
	if a.Error != "" {
		b.WriteString(": " + a.Error)
	}
	if a.RetryIn > 0 {
		fmt.Fprintf(&b, "; next in %s", a.RetryIn.Round(time.Millisecond))
	}
	return b.String()
}

// stillDue reports whether a notification of kind still says something
// true of an alarm in state: a step, repeat or unattended notice while it
// is raised, a reminder while it is acknowledged; for Alertmanager, firing
// while it is open, resolved once it is closed.
func stillDue(kind alerting.NoteKind, state alerting.State) bool {
	switch kind {
	case alerting.NoteReminder:
		return state == alerting.Acknowledged
	case alerting.NoteFiring: // Alertmanager's (alertmanager.go)
		return state.Open()
	case alerting.NoteResolved:
		return !state.Open()
	}
	return state == alerting.Raised
}

// inhibit is the pipeline's inhibition: it drops a notification whose
// alarm has moved on, or that a site-level incident speaks for, and notes
// why on the alarm's timeline.
func (g *Gateway) inhibit(n alerting.Notification) bool {
	if n.Alarm == nil {
		return false
	}
	why := ""
	if a, err := g.eng.Get(n.Alarm.ID); err == nil && !stillDue(n.Kind, a.State) {
		why = fmt.Sprintf("the alarm is %s", a.State)
	} else if reason, ok := g.incidents.inhibiting(n.Alarm); ok && !alertKind(n.Kind) {
		why = reason
	}
	if why == "" {
		return false
	}
	e := alerting.Entry{Action: alerting.ActNote, Kind: n.Kind, Step: n.Step, Targets: []string{n.Channel},
		Note: fmt.Sprintf("%s: %s %d not sent: %s", n.Channel, n.Kind, n.Step, why)}
	if err := g.eng.Record(n.Alarm.ID, e); err != nil {
		g.log.Warn("inhibited notification not recorded", "alarm", n.Alarm.ID, "err", err)
	}
	return true
}

// notifyMetrics counts the pipeline's work in Prometheus.
type notifyMetrics struct{ m *metrics }

var _ notify.Metrics = notifyMetrics{}

func (n notifyMetrics) Attempted(channel, kind string, o notify.Outcome) {
	n.m.notifications.WithLabelValues(channel, kind, string(o)).Inc()
	if o != notify.Delivered {
		n.m.notifyFailures.WithLabelValues(channel).Inc()
	}
}

func (n notifyMetrics) Skipped(channel, reason string) {
	n.m.notifySkipped.WithLabelValues(channel, reason).Inc()
}

// deliverer delivers notifications, retries included, until ctx is done:
// the notify pipeline (notify.Pipeline.Deliver).
type deliverer interface {
	Deliver(ctx context.Context, ns ...alerting.Notification) error
}

// outbox is the state store's outbox as the courier uses it: the engine's
// write puts notifications there, the courier reads and forgets them.
type outbox interface {
	Outbox() ([]state.OutboxItem, error)
	ForgetNotification(key string) error
}

var (
	_ deliverer = (*notify.Pipeline)(nil)
	_ outbox    = (*state.DB)(nil)
)

// courier hands notifications to the pipeline on goroutines of their own,
// through the outbox, so that the engine never waits on a receiver.
type courier struct {
	pipe deliverer // guarded by mu: a config reload replaces it (setPipe)
	box  outbox
	log  *slog.Logger
	// hold says how long to keep a notification back before it is sent:
	// long enough for the burst it may belong to to be seen (incidents.go).
	hold func(alerting.Notification) time.Duration

	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// newCourier returns a courier that delivers through pipe and forgets
// from box what it delivered or gave up. hold may be nil: nothing waits.
func newCourier(pipe deliverer, box outbox, hold func(alerting.Notification) time.Duration, log *slog.Logger) *courier {
	if hold == nil {
		hold = func(alerting.Notification) time.Duration { return 0 }
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &courier{pipe: pipe, box: box, log: log, hold: hold, ctx: ctx, cancel: cancel}
}

// deliver is the engine's Options.Deliver: it returns at once.
func (c *courier) deliver(ns []alerting.Notification) {
	if !c.start() {
		c.log.Warn("notifications not sent: the gateway is stopping", "count", len(ns))
		return
	}
	go func() {
		defer c.wg.Done()
		for _, n := range ns { // already in the outbox: the engine's write put them there
			c.send(n)
		}
	}()
}

// setPipe delivers through pipe from now on (a config reload);
// deliveries in flight finish on the pipeline they started with.
func (c *courier) setPipe(pipe deliverer) {
	c.mu.Lock()
	c.pipe = pipe
	c.mu.Unlock()
}

// start counts a goroutine in, unless the courier is closed.
func (c *courier) start() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.wg.Add(1)
	return true
}

// send delivers n on its own goroutine and takes it out of the outbox once
// it is delivered or given up; a delivery cut short by Close stays there.
func (c *courier) send(n alerting.Notification) {
	if !c.start() {
		return
	}
	go func() {
		defer c.wg.Done()
		if d := c.hold(n); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-c.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		c.mu.Lock()
		pipe := c.pipe
		c.mu.Unlock()
		err := pipe.Deliver(c.ctx, n)
		if err != nil && c.ctx.Err() != nil {
			return
		}
		if err != nil {
			c.log.Warn("notification given up", "key", n.Key, "err", err)
		}
		c.forget(n.Key)
	}()
}

func (c *courier) forget(key string) {
	if err := c.box.ForgetNotification(key); err != nil {
		c.log.Warn("delivered notification left in the outbox", "key", key, "err", err)
	}
}

// replay sends again what the outbox held at start, if its alarm still
// wants it, with the alarm as it is now.
func (c *courier) replay(get func(id string) (*alerting.Alarm, error)) {
	items, err := c.box.Outbox()
	if err != nil {
		c.log.Error("outbox not read", "err", err)
		return
	}
	for _, it := range items {
		n := it.N
		var a *alerting.Alarm
		if n.Alarm != nil {
			a, err = get(n.Alarm.ID)
		}
		if n.Alarm == nil || err != nil || !stillDue(n.Kind, a.State) {
			c.log.Info("outbox notification dropped: its alarm moved on", "key", n.Key)
			c.forget(n.Key)
			continue
		}
		n.Alarm = a
		c.log.Info("outbox notification sent again after a restart", "key", n.Key, "queued", it.Queued)
		c.send(n)
	}
}

// close cancels deliveries in flight (they stay in the outbox) and waits
// for their goroutines.
func (c *courier) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
}
