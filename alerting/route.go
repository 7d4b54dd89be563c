package alerting

import (
	"slices"
	"time"
)

// SiteTree is the site hierarchy as routing sees it: region → county →
// township → village or community → home or institution → room → bed.
type SiteTree interface {
	// Parent returns the site directly above site, and false at the root
	// or for an unknown site.
	Parent(site string) (parent string, ok bool)
}

// Roster says who is on duty where.
type Roster interface {
	// OnDuty returns the operators on duty at site at the given time, in
	// a stable order.
	OnDuty(site string, at time.Time) []Operator
}

// Operator is a person who handles alarms.
type Operator struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Phone string `json:"phone,omitempty"`
	// Site is the operator's home site (a village station, a township
	// centre, the county centre, an institution's duty room).
	Site string `json:"site,omitempty"`
	// Supervisor marks the person escalation's "supervisor" target means.
	Supervisor bool `json:"supervisor,omitempty"`
}

// SiteMap is a SiteTree held as child → parent.
type SiteMap map[string]string

// Parent implements SiteTree.
func (m SiteMap) Parent(site string) (string, bool) {
	p, ok := m[site]
	return p, ok && p != ""
}

// maxDepth bounds a walk up the tree, so that a cycle in a
// misconfigured tree ends the walk instead of the process.
const maxDepth = 32

// Path returns site and its ancestors, nearest first, ending at the root.
// It stops at a cycle. A nil tree has no parents.
func Path(tree SiteTree, site string) []string {
	if site == "" {
		return nil
	}
	path := []string{site}
	if tree == nil {
		return path
	}
	for len(path) < maxDepth {
		p, ok := tree.Parent(path[len(path)-1])
		if !ok || slices.Contains(path, p) {
			break
		}
		path = append(path, p)
	}
	return path
}

// Router offers alarms to operators over the site tree (DESIGN.md §4).
// It is pure: the same tree, roster and time give the same answer.
type Router struct {
	Tree   SiteTree
	Roster Roster
}

// Route returns the nearest site at or above deviceSite with anyone on
// duty at the given time, and who is on duty there. unattended is true
// when nobody is on duty anywhere on the path; then site is "".
func (r Router) Route(deviceSite string, at time.Time) (site string, ops []Operator, unattended bool) {
	path := Path(r.Tree, deviceSite)
	i, ops := r.staffed(path, at)
	if i < 0 {
		return "", nil, true
	}
	return path[i], ops, false
}

// staffed returns the index of the first site on path with anyone on
// duty, and who; -1 when nobody is.
func (r Router) staffed(path []string, at time.Time) (int, []Operator) {
	for i, s := range path {
		if ops := r.Roster.OnDuty(s, at); len(ops) > 0 {
			return i, ops
		}
	}
	return -1, nil
}

// Above returns the nearest site strictly above site with anyone on duty,
// and who: the "next level up" of an escalation.
func (r Router) Above(site string, at time.Time) (string, []Operator, bool) {
	path := Path(r.Tree, site)
	if len(path) < 2 {
		return "", nil, false
	}
	i, ops := r.staffed(path[1:], at)
	if i < 0 {
		return "", nil, false
	}
	return path[1+i], ops, true
}

// Top returns the staffed site nearest the root on site's path (in a
// county network, the county centre), and who is on duty there.
func (r Router) Top(site string, at time.Time) (string, []Operator, bool) {
	path := Path(r.Tree, site)
	slices.Reverse(path)
	i, ops := r.staffed(path, at)
	if i < 0 {
		return "", nil, false
	}
	return path[i], ops, true
}

// Supervisors returns the supervisors on duty at the nearest site at or
// above site that has one on duty.
func (r Router) Supervisors(site string, at time.Time) (string, []Operator, bool) {
	for _, s := range Path(r.Tree, site) {
		var sup []Operator
		for _, op := range r.Roster.OnDuty(s, at) {
			if op.Supervisor {
				sup = append(sup, op)
			}
		}
		if len(sup) > 0 {
			return s, sup, true
		}
	}
	return "", nil, false
}
