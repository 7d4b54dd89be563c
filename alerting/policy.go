package alerting

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// The targets an escalation step may name. Targets that stand for people
// are resolved over the site tree and the duty roster when the step fires;
// channel targets name a configured notifier.
const (
	// TargetOperators: the operators on duty at the routed site.
	TargetOperators = "operators"
	// TargetSupervisor: the supervisors on duty at the routed site, or at
	// the nearest site above it that has one.
	TargetSupervisor = "supervisor"
	// TargetNextLevel: the operators on duty at the nearest staffed site
	// above the routed one.
	TargetNextLevel = "next_level"
	// TargetTopLevel: the operators on duty at the staffed site nearest the
	// root of the path; in a county network, the county centre.
	TargetTopLevel = "top_level"
	// TargetCounty is the name DefaultPolicies uses for TargetTopLevel.
	TargetCounty = "county"
	// TargetEmergencyContacts: the resident's emergency contacts, through
	// the contact channels.
	TargetEmergencyContacts = "emergency_contacts"
	// TargetOwner: the operator who acknowledged the alarm (reminders).
	TargetOwner = "owner"

	// Prefixes of targets that name something.
	TargetSitePrefix    = "site:"    // site:ID, the operators on duty at that site
	TargetRobotPrefix   = "robot:"   // robot:NAME, a WeCom or DingTalk group robot
	TargetWebhookPrefix = "webhook:" // webhook:NAME, a signed JSON webhook
)

// MinRepeat is the shortest repeat interval a policy may set, so that a
// mistyped policy cannot flood a group robot (they accept 20 messages a
// minute).
const MinRepeat = 30 * time.Second

// EscalationPolicy says who hears of an alarm, and when, for one priority
// and optionally one subtree of sites. It is data: an Escalator applies it.
//
//	{"priority": "P1", "site": "qingshan-town",
//	 "steps": [{"after": "0s",  "targets": ["operators"]},
//	           {"after": "30s", "targets": ["supervisor", "next_level"]},
//	           {"after": "60s", "targets": ["top_level", "emergency_contacts", "robot:county"]}],
//	 "repeat": "60s",
//	 "reminders": [{"after": "10m", "targets": ["owner"]},
//	               {"after": "15m", "targets": ["supervisor", "next_level"]}],
//	 "unattended": ["top_level", "robot:county", "webhook:county-110"]}
//
// A policy with "subject": "site" applies to alarms about a site (site-level
// incidents: fire, smoke_gas, site_offline) and to nothing else; one
// without (or with "device") applies to device alarms, and to site alarms
// of a priority that no site policy covers on their path.
type EscalationPolicy struct {
	Priority Priority `json:"priority"`
	// Subject selects the alarms the policy is for: empty or SubjectDevice
	// for alarms about devices, SubjectSite for alarms about sites.
	Subject Subject `json:"subject,omitempty"`
	// Site limits the policy to the alarms at or below this site; empty
	// applies everywhere. The most specific policy wins.
	Site string `json:"site,omitempty"`
	// Steps fire in order while the alarm is unacknowledged, each After
	// that long since it was raised.
	Steps []Step `json:"steps"`
	// Repeat, when set, fires the last step again every Repeat until the
	// alarm is acknowledged.
	Repeat Duration `json:"repeat,omitempty"`
	// Reminders fire in order while the alarm is acknowledged but neither
	// dispatched nor resolved, each After that long since it was
	// acknowledged: typically the owner first, then someone above them.
	Reminders []Step `json:"reminders,omitempty"`
	// Unattended targets hear of a raised alarm at once when nobody is on
	// duty anywhere on its path (the unattended night).
	Unattended []string `json:"unattended,omitempty"`
}

// EscalationPolicies is the set of policies of a gateway.
type EscalationPolicies []EscalationPolicy

// FromPolicies turns the per-priority policies of the engine's config into
// escalation policies that apply everywhere.
func FromPolicies(ps Policies) EscalationPolicies {
	var out EscalationPolicies
	for _, p := range []Priority{P1, P2, P3} {
		if pol, ok := ps[p]; ok {
			out = append(out, EscalationPolicy{Priority: p, Steps: slices.Clone(pol.Steps)})
		}
	}
	return out
}

// Validate checks every policy, with errors that name the policy and field.
// channels, when not nil, lists the configured channel targets
// ("robot:NAME", "webhook:NAME"); a policy naming another is an error.
func (ps EscalationPolicies) Validate(channels []string) error {
	seen := map[string]int{}
	for i, p := range ps {
		where := fmt.Sprintf("escalation[%d] (%s", i, p.Priority)
		if p.Subject == SubjectSite {
			where += " subject site"
		}
		if p.Site != "" {
			where += " site " + p.Site
		}
		where += ")"
		if !p.Priority.Valid() {
			return fmt.Errorf("escalation[%d].priority %d: want P1, P2 or P3", i, int(p.Priority))
		}
		if !p.Subject.Valid() {
			return fmt.Errorf("escalation[%d].subject %q: want %q (alarms about devices, the default) or %q (site-level incidents)",
				i, p.Subject, SubjectDevice, SubjectSite)
		}
		key := p.Priority.String() + "\x00" + string(p.subject()) + "\x00" + p.Site
		if j, dup := seen[key]; dup {
			return fmt.Errorf("%s: same priority, subject and site as escalation[%d]", where, j)
		}
		seen[key] = i
		if err := validateSteps(p.Steps, "steps", false, channels); err != nil {
			return fmt.Errorf("%s.%w", where, err)
		}
		if p.Repeat != 0 {
			if len(p.Steps) == 0 {
				return fmt.Errorf("%s.repeat: there is no step to repeat", where)
			}
			if time.Duration(p.Repeat) < MinRepeat {
				return fmt.Errorf("%s.repeat %s: must be at least %s", where, time.Duration(p.Repeat), MinRepeat)
			}
		}
		if err := validateSteps(p.Reminders, "reminders", true, channels); err != nil {
			return fmt.Errorf("%s.%w", where, err)
		}
		for j, t := range p.Unattended {
			if err := validTarget(t, false, channels); err != nil {
				return fmt.Errorf("%s.unattended[%d]: %w", where, j, err)
			}
		}
	}
	return nil
}

func validateSteps(steps []Step, field string, reminder bool, channels []string) error {
	for i, s := range steps {
		switch {
		case s.After < 0:
			return fmt.Errorf("%s[%d].after %s: must not be negative", field, i, time.Duration(s.After))
		case reminder && s.After == 0:
			return fmt.Errorf("%s[%d].after: a reminder needs a delay", field, i)
		case i > 0 && s.After <= steps[i-1].After:
			return fmt.Errorf("%s[%d].after %s: must be later than %s[%d]'s %s",
				field, i, time.Duration(s.After), field, i-1, time.Duration(steps[i-1].After))
		case len(s.Targets) == 0:
			return fmt.Errorf("%s[%d].targets: empty", field, i)
		}
		for j, t := range s.Targets {
			if err := validTarget(t, reminder, channels); err != nil {
				return fmt.Errorf("%s[%d].targets[%d]: %w", field, i, j, err)
			}
		}
	}
	return nil
}

var personTargets = []string{TargetOperators, TargetSupervisor, TargetNextLevel, TargetTopLevel,
	TargetCounty, TargetEmergencyContacts}

func validTarget(t string, reminder bool, channels []string) error {
	switch {
	case slices.Contains(personTargets, t):
		return nil
	case t == TargetOwner:
		if !reminder {
			return fmt.Errorf("target %q: only reminders have an owner", t)
		}
		return nil
	case strings.HasPrefix(t, TargetSitePrefix):
		if t == TargetSitePrefix {
			return fmt.Errorf("target %q: names no site", t)
		}
		return nil
	case strings.HasPrefix(t, TargetRobotPrefix), strings.HasPrefix(t, TargetWebhookPrefix):
		if i := strings.IndexByte(t, ':'); i == len(t)-1 {
			return fmt.Errorf("target %q: names no channel", t)
		}
		if channels != nil && !slices.Contains(channels, t) {
			return fmt.Errorf("target %q: no such channel is configured", t)
		}
		return nil
	}
	return fmt.Errorf("unknown target %q: want %s, %s (reminders), site:ID, robot:NAME or webhook:NAME",
		t, strings.Join(personTargets, ", "), TargetOwner)
}

// subject is the policy's subject, SubjectDevice when empty.
func (p EscalationPolicy) subject() Subject {
	if p.Subject == "" {
		return SubjectDevice
	}
	return p.Subject
}

// For returns the policy for an alarm of priority p about subject at site:
// the one for that subject whose subtree is nearest the site, else the
// one for it without a site. A site alarm that no site policy covers
// takes the device policy found the same way.
func (ps EscalationPolicies) For(p Priority, subject Subject, site string, tree SiteTree) (EscalationPolicy, bool) {
	subjects := []Subject{SubjectDevice}
	if subject == SubjectSite {
		subjects = []Subject{SubjectSite, SubjectDevice}
	}
	path := append(Path(tree, site), "")
	for _, sub := range subjects {
		for _, s := range path {
			for _, pol := range ps {
				if pol.Priority == p && pol.subject() == sub && pol.Site == s {
					return pol, true
				}
			}
		}
	}
	return EscalationPolicy{}, false
}
