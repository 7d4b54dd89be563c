package alerting

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// EscalatorConfig is what an Escalator applies policies with.
type EscalatorConfig struct {
	Policies EscalationPolicies
	Tree     SiteTree
	Roster   Roster
	// SiteChannels returns the channels that reach the people on duty at
	// a site: its WeCom or DingTalk group robot, "console" … Targets that
	// stand for people (operators, supervisor, next_level …) are sent
	// through the channels of the site those people are on duty at.
	SiteChannels func(site string) []string
	// ContactChannels reach residents' emergency contacts, for example a
	// webhook to an SMS or voice-call gateway.
	ContactChannels []string
	// Operator looks up an acknowledged alarm's owner for reminders;
	// without it the owner is known only by id.
	Operator func(id string) (Operator, bool)
}

// Escalator applies escalation policies to alarms: it plans what is due,
// resolves the targets over the site tree and the roster, and builds one
// Notification per channel. It keeps no state of its own (what has fired
// is the caller's Progress), so it is safe for concurrent use as long as
// its Tree and Roster are.
type Escalator struct {
	cfg    EscalatorConfig
	router Router
}

// AlarmInfo is what the gateway knows about where an alarm is and whom it
// concerns.
type AlarmInfo struct {
	Site     string   // the device's room or bed; a site alarm's site
	Location []string // site names from the root down to Site
	Resident Resident
}

// Fired is one due notification, resolved.
type Fired struct {
	Due
	// Routed is the site the alarm is offered to now, empty when nobody
	// is on duty on its path.
	Routed        string
	Notifications []Notification
	// Unresolved says which targets reached nobody and why, for the
	// alarm's timeline: "next_level: nobody on duty".
	Unresolved []string
	// People counts the people on duty its targets stand for: the
	// console shows them the alarm even where no channel reaches their site.
	People int
}

// The reasons a target reached nobody, after "TARGET: " in Fired.Unresolved,
// a timeline entry's Unresolved and NobodyReached.Reason (joined by "; ").
// The console translates them by these exact words (gateway/webui's
// catalogues have a reason.* key for each; a test keeps them in step).
const (
	ReasonNobodyOnDuty = "nobody on duty"
	ReasonNoContacts   = "the resident has no emergency contacts"
	ReasonNoChannel    = "no channel reaches site"  // followed by " SITE-ID"
	ReasonNoTarget     = "the step names no target" // the whole reason
)

// Reasons maps each reason's words to its catalogue key's suffix.
var Reasons = map[string]string{
	ReasonNobodyOnDuty: "nobody_on_duty",
	ReasonNoContacts:   "no_contacts",
	ReasonNoChannel:    "no_channel",
	ReasonNoTarget:     "no_target",
}

// ErrNoTree is returned when an Escalator is built without a site tree or roster.
var ErrNoTree = errors.New("escalator needs a site tree and a roster")

// NewEscalator checks cfg and returns an Escalator.
func NewEscalator(cfg EscalatorConfig) (*Escalator, error) {
	if cfg.Tree == nil || cfg.Roster == nil {
		return nil, ErrNoTree
	}
	if err := cfg.Policies.Validate(nil); err != nil {
		return nil, err
	}
	for i, p := range cfg.Policies {
		for _, steps := range [][]Step{p.Steps, p.Reminders, {{Targets: p.Unattended}}} {
			for _, s := range steps {
				if slices.Contains(s.Targets, TargetEmergencyContacts) && len(cfg.ContactChannels) == 0 &&
					!slices.ContainsFunc(s.Targets, isChannel) {
					return nil, fmt.Errorf("escalation[%d] (%s) notifies %s, but no contact channel is configured and the step names no robot or webhook",
						i, p.Priority, TargetEmergencyContacts)
				}
			}
		}
	}
	if cfg.SiteChannels == nil {
		cfg.SiteChannels = func(string) []string { return nil }
	}
	return &Escalator{cfg: cfg, router: Router{Tree: cfg.Tree, Roster: cfg.Roster}}, nil
}

func isChannel(t string) bool {
	return strings.HasPrefix(t, TargetRobotPrefix) || strings.HasPrefix(t, TargetWebhookPrefix)
}

// Router returns the router the escalator routes with.
func (x *Escalator) Router() Router { return x.router }

// Evaluate returns what is due for alarm a at now, resolved into
// notifications, with the progress to store before they are sent and when
// the next one falls due. The caller records each Fired on the alarm's
// timeline, stores the new progress with the alarm, and only then hands
// the notifications to the delivery pipeline.
func (x *Escalator) Evaluate(a *Alarm, prog Progress, info AlarmInfo, now time.Time) (fired []Fired, after Progress, next time.Time) {
	subject := SubjectDevice
	if a.IsSite() {
		subject = SubjectSite
	}
	pol, ok := x.cfg.Policies.For(a.Priority, subject, info.Site, x.cfg.Tree)
	if !ok {
		return nil, prog, time.Time{}
	}
	routed, ops, unattended := x.router.Route(info.Site, now)
	due, after, next := pol.Plan(a, prog, unattended, now)
	for _, d := range due {
		fired = append(fired, x.resolve(a, d, info, routed, ops, now))
	}
	return fired, after, next
}

// audience collects, per channel, whom one due notification reaches.
type audience struct {
	order []string
	by    map[string]*Notification
}

func (au *audience) add(channel, target string, ops []Operator, contacts []Contact) {
	n, ok := au.by[channel]
	if !ok {
		n = &Notification{Channel: channel}
		au.by[channel] = n
		au.order = append(au.order, channel)
	}
	if !slices.Contains(n.Targets, target) {
		n.Targets = append(n.Targets, target)
	}
	for _, op := range ops {
		if !slices.ContainsFunc(n.Recipients, func(o Operator) bool { return o.ID == op.ID }) {
			n.Recipients = append(n.Recipients, op)
		}
	}
	for _, c := range contacts {
		if !slices.Contains(n.Contacts, c) {
			n.Contacts = append(n.Contacts, c)
		}
	}
}

// group is the people a target stands for and the site they are at.
type group struct {
	target string
	site   string
	ops    []Operator
}

func (x *Escalator) resolve(a *Alarm, d Due, info AlarmInfo, routed string, ops []Operator, now time.Time) Fired {
	f := Fired{Due: d, Routed: routed}
	var groups []group
	var channels []string
	contacts := false
	for _, t := range d.Targets {
		g := group{target: t}
		var ok bool
		switch {
		case t == TargetOperators:
			g.site, g.ops, ok = routed, ops, routed != ""
		case t == TargetSupervisor:
			g.site, g.ops, ok = x.router.Supervisors(info.Site, now)
		case t == TargetNextLevel:
			if routed != "" {
				g.site, g.ops, ok = x.router.Above(routed, now)
			}
		case t == TargetTopLevel, t == TargetCounty:
			g.site, g.ops, ok = x.router.Top(info.Site, now)
		case strings.HasPrefix(t, TargetSitePrefix):
			g.site = strings.TrimPrefix(t, TargetSitePrefix)
			g.ops = x.cfg.Roster.OnDuty(g.site, now)
			ok = len(g.ops) > 0
		case t == TargetOwner:
			g.site, g.ops, ok = x.owner(a, routed)
		case t == TargetEmergencyContacts:
			contacts = true
			if len(info.Resident.Contacts) == 0 {
				f.Unresolved = append(f.Unresolved, t+": "+ReasonNoContacts)
			}
			continue
		default:
			channels = append(channels, t)
			continue
		}
		if !ok {
			f.Unresolved = append(f.Unresolved, t+": "+ReasonNobodyOnDuty)
			continue
		}
		groups = append(groups, g)
	}

	au := &audience{by: map[string]*Notification{}}
	var everyone []Operator
	for _, g := range groups {
		everyone = append(everyone, g.ops...)
		f.People += len(g.ops)
		chs := x.cfg.SiteChannels(g.site)
		if len(chs) == 0 && len(channels) == 0 {
			f.Unresolved = append(f.Unresolved, g.target+": "+ReasonNoChannel+" "+g.site)
		}
		for _, ch := range chs {
			au.add(ch, g.target, g.ops, nil)
		}
	}
	var cs []Contact
	if contacts {
		cs = info.Resident.Contacts
		for _, ch := range x.cfg.ContactChannels {
			au.add(ch, TargetEmergencyContacts, nil, cs)
		}
	}
	for _, ch := range channels {
		au.add(ch, ch, everyone, cs)
		if contacts {
			au.add(ch, TargetEmergencyContacts, nil, nil)
		}
		for _, g := range groups {
			au.add(ch, g.target, nil, nil)
		}
	}
	for _, ch := range au.order {
		n := au.by[ch]
		n.Key = fmt.Sprintf("%s/%s/%d/%s", a.ID, d.Kind, d.Step, ch)
		n.Kind, n.Step, n.At, n.Alarm = d.Kind, d.Step, d.At, a
		n.Site, n.Location, n.Resident, n.Routed = info.Site, info.Location, info.Resident, routed
		for _, op := range n.Recipients {
			if op.Phone != "" && !slices.Contains(n.Mentions, op.Phone) {
				n.Mentions = append(n.Mentions, op.Phone)
			}
		}
		f.Notifications = append(f.Notifications, *n)
	}
	return f
}

// owner resolves the operator who took the alarm.
func (x *Escalator) owner(a *Alarm, routed string) (string, []Operator, bool) {
	if a.Owner == "" {
		return "", nil, false
	}
	op := Operator{ID: a.Owner, Name: a.Owner}
	if x.cfg.Operator != nil {
		if o, ok := x.cfg.Operator(a.Owner); ok {
			op = o
		}
	}
	site := op.Site
	if site == "" {
		site = routed
	}
	return site, []Operator{op}, true
}
