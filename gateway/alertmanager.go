package gateway

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/alerting/notify"
)

// Alertmanagers (notifiers.alertmanagers): every alarm a configured
// Alertmanager wants is told to it, whatever the escalation policies say,
// as an alert of its own (notify.Alertmanager has the labels).
//
//   - A raise and a close are notifications of kind "firing" and
//     "resolved" on channel "alertmanager:NAME": put in the outbox, then
//     delivered by the courier through the pipeline like any other, so a
//     failure is retried with backoff, recorded on the alarm's timeline and
//     counted, and a restart sends again what was still on its way. The
//     engine's subscriber only queues them: the outbox write happens on a
//     goroutine of its own, never on the device's.
//   - Every repeat_interval (and once at start), every open alarm it wants
//     is posted again in batches, so that Alertmanager keeps it firing (its
//     endsAt is 4 intervals ahead) and one that lost its state relearns it.
//     The alarms closed within the last 4 intervals are posted again too,
//     resolved: a firing post that lands after the close (a retry, or a
//     re-post that read the alarm just before) is corrected within one
//     interval instead of firing on until its endsAt.
//     These re-posts are not put on timelines (one a minute per alarm would
//     drown them); a failure is logged once per outage and counted in
//     anxin_notification_failures_total{notifier="alertmanager:NAME"}.
//
// So a firing lost in a crash (between the raise and its outbox write) is
// posted at the next start, and an alarm whose close was lost resolves in
// Alertmanager by itself once its endsAt passes.

// alertmanagerPrefix makes the channel of an Alertmanager NAME.
const alertmanagerPrefix = "alertmanager:"

// alertmanagerBatch bounds the alerts of one re-post request.
const alertmanagerBatch = 500

// alertSink is one configured Alertmanager.
type alertSink struct {
	channel string
	am      *notify.Alertmanager
	failing bool // the last re-post failed; owned by the sink's loop
}

// alertFeed tells the configured Alertmanagers of alarms. onChange is
// safe for concurrent use; run owns the sinks' re-post state.
type alertFeed struct {
	sinks []*alertSink
	log   *slog.Logger

	mu     sync.Mutex
	queue  []alerting.Notification
	closed map[string]*alerting.Alarm // closed recently, by id: posted resolved again
	wake   chan struct{}
}

func newAlertFeed(log *slog.Logger) *alertFeed {
	return &alertFeed{log: log, closed: map[string]*alerting.Alarm{}, wake: make(chan struct{}, 1)}
}

// add registers an Alertmanager; before the gateway runs only.
func (f *alertFeed) add(channel string, am *notify.Alertmanager) {
	f.sinks = append(f.sinks, &alertSink{channel: channel, am: am})
}

// onChange is the engine's subscriber: it queues a firing notification
// for a raise and a resolved one for a close. It never blocks.
func (f *alertFeed) onChange(c alerting.Change) {
	if len(f.sinks) == 0 {
		return
	}
	var kind alerting.NoteKind
	switch {
	case c.Entry.Action == alerting.ActRaised:
		kind = alerting.NoteFiring
	case (c.Entry.Action == alerting.ActResolved || c.Entry.Action == alerting.ActCancelled) && !c.Alarm.State.Open():
		kind = alerting.NoteResolved
	default:
		return
	}
	var ns []alerting.Notification
	for _, s := range f.sinks {
		if s.am.Config().Wants(c.Alarm) {
			ns = append(ns, alerting.Notification{Key: c.Alarm.ID + "/" + string(kind) + "/" + s.channel,
				Channel: s.channel, Kind: kind, Step: 1, At: c.Entry.At, Alarm: c.Alarm,
				Site: c.Alarm.Site, Location: c.Alarm.Location})
		}
	}
	if len(ns) == 0 {
		return
	}
	f.mu.Lock()
	f.queue = append(f.queue, ns...)
	if kind == alerting.NoteResolved {
		f.closed[c.Alarm.ID] = c.Alarm
	}
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// alertDeps is what the feed's loops use of the gateway.
type alertDeps struct {
	queue   func(alerting.Notification) error // the outbox
	deliver func([]alerting.Notification)     // the courier
	open    func() []*alerting.Alarm
	locate  func(*alerting.Alarm) *alerting.Alarm // fills an alarm's site and path
	counted func(channel string, o notify.Outcome)
	now     func() time.Time
}

// run hands queued notifications to the outbox and the courier, and
// re-posts open alarms, until ctx is done.
func (f *alertFeed) run(ctx context.Context, d alertDeps) {
	if len(f.sinks) == 0 {
		return
	}
	var wg sync.WaitGroup
	for _, s := range f.sinks {
		wg.Go(func() { f.repost(ctx, s, d) })
	}
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.wake:
		}
		f.mu.Lock()
		ns := f.queue
		f.queue = nil
		f.mu.Unlock()
		var ready []alerting.Notification
		for _, n := range ns {
			if n.Alarm != nil {
				n.Alarm = d.locate(n.Alarm)
				n.Site, n.Location = n.Alarm.Site, n.Alarm.Location
			}
			if err := d.queue(n); err != nil {
				// Not durable: still worth a try now; the next re-post
				// (or Alertmanager's endsAt) covers a crash.
				f.log.Warn("alertmanager notification not put in the outbox", "key", n.Key, "err", err)
			}
			ready = append(ready, n)
		}
		if len(ready) > 0 {
			d.deliver(ready)
		}
	}
}

// repost posts every open alarm s wants, at once and then every interval.
func (f *alertFeed) repost(ctx context.Context, s *alertSink, d alertDeps) {
	t := time.NewTicker(s.am.Config().Repeat())
	defer t.Stop()
	for {
		f.repostOnce(ctx, s, d)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (f *alertFeed) repostOnce(ctx context.Context, s *alertSink, d alertDeps) {
	var alarms []*alerting.Alarm
	for _, a := range d.open() {
		if s.am.Config().Wants(a) {
			alarms = append(alarms, d.locate(a))
		}
	}
	for _, a := range f.recentlyClosed(s, d) {
		alarms = append(alarms, d.locate(a))
	}
	var err error
	for start := 0; start < len(alarms) && err == nil; start += alertmanagerBatch {
		_, err = s.am.Post(ctx, alarms[start:min(start+alertmanagerBatch, len(alarms))])
	}
	if ctx.Err() != nil || len(alarms) == 0 {
		return
	}
	switch {
	case err != nil:
		d.counted(s.channel, notify.Failed)
		if !s.failing {
			f.log.Warn("alertmanager re-post failed; trying again at the next interval", "channel", s.channel,
				"alarms", len(alarms), "err", err)
		}
		s.failing = true
	case s.failing:
		f.log.Info("alertmanager re-post works again", "channel", s.channel, "alarms", len(alarms))
		s.failing = false
		fallthrough
	default:
		d.counted(s.channel, notify.Delivered)
	}
}

// recentlyClosed returns the alarms s wants that closed within the last
// EndsAfterRepeats of its intervals, after the open ones in the same
// request so that a resolution wins; older ones are forgotten once no
// sink needs them.
func (f *alertFeed) recentlyClosed(s *alertSink, d alertDeps) []*alerting.Alarm {
	now := d.now()
	keep := notify.EndsAfterRepeats * s.am.Config().Repeat()
	longest := time.Duration(0)
	for _, x := range f.sinks {
		longest = max(longest, notify.EndsAfterRepeats*x.am.Config().Repeat())
	}
	var out []*alerting.Alarm
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, a := range f.closed {
		age := now.Sub(a.Closed)
		if age > longest {
			delete(f.closed, id)
			continue
		}
		if age <= keep && s.am.Config().Wants(a) {
			out = append(out, a)
		}
	}
	return out
}

// alertKind reports whether kind is one of the Alertmanager's, which say
// what an alarm is rather than ask someone to act.
func alertKind(kind alerting.NoteKind) bool {
	return kind == alerting.NoteFiring || kind == alerting.NoteResolved
}

// alertDeps returns the feed's view of the gateway.
func (g *Gateway) alertDeps() alertDeps {
	return alertDeps{
		queue:   func(n alerting.Notification) error { return g.db.QueueNotification(n, g.now()) },
		deliver: g.courier.deliver,
		open:    g.eng.Open,
		locate:  g.locateAlarm,
		counted: func(channel string, o notify.Outcome) { notifyMetrics{g.metrics}.Attempted(channel, "repost", o) },
		now:     g.now,
	}
}

// locateAlarm returns a with its site and location path filled in from
// the registry when the alarm does not carry them.
func (g *Gateway) locateAlarm(a *alerting.Alarm) *alerting.Alarm {
	if len(a.Location) > 0 {
		return a
	}
	info := g.alarmInfo(a)
	c := *a // a shallow copy: only the site and path change
	c.Site, c.Location = info.Site, info.Location
	if c.Resident == "" {
		c.Resident = info.Resident.Name
	}
	return &c
}
