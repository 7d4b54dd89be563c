package gateway

import (
	"sync"
	"time"

	"github.com/anxin-care/anxin/alerting"
)

// openIndex is what incident correlation keeps of the open alarms it looks
// at (alerting.Correlates: smoke, gas, offline), by room, so that a pass
// reads only the homes that changed. A pass used to copy every open alarm
// with its timeline, partly under the engine's lock, and sort them: with
// 10,000 alarms open that was most of the CPU and held up every press
// (issue 16).
//
// It is fed by the engine's changes, snapshots of durable states. Two
// changes of one alarm may be told out of order (each by the goroutine that
// made it), so a snapshot replaces what is kept only when its Version is
// newer, and a closed alarm's id is remembered a while (a tombstone) so
// that a late, older snapshot does not reopen it. At the start it is filled
// once from the engine's open alarms (load); a change of the same version
// replaces such an entry. Its lock is a leaf: held only around its fields.
type openIndex struct {
	mu     sync.Mutex
	byID   map[string]*alerting.Alarm            // briefs (brief): never modified, only replaced
	byRoom map[string]map[string]*alerting.Alarm // by Alarm.Site, then id
	loaded map[string]bool                       // ids of entries from load
	// closed and closedOld are tombstones, id → version, in two
	// generations of at least tombstoneAge each.
	closed, closedOld map[string]uint64
	closedSince       time.Time
	// dirty are the alarms changed since the last pass (id → room);
	// sites, the homes to correlate at the next pass whatever changed.
	dirty map[string]string
	sites map[string]bool
}

// tombstoneAge is how long a closed alarm's id is kept at least: far longer
// than two goroutines telling changes of one alarm can be apart.
const tombstoneAge = time.Minute

func newOpenIndex() *openIndex {
	return &openIndex{byID: map[string]*alerting.Alarm{}, byRoom: map[string]map[string]*alerting.Alarm{},
		loaded: map[string]bool{}, closed: map[string]uint64{}, dirty: map[string]string{}, sites: map[string]bool{}}
}

// brief is a without what correlation never reads: its timeline, data and
// location path.
func brief(a *alerting.Alarm) *alerting.Alarm {
	b := *a
	b.Timeline, b.Data, b.Location, b.NobodyReached = nil, nil, nil, nil
	return &b
}

// put takes the snapshot of a change made at; it reports whether what
// correlation sees of the alarm changed (it is new, cleared, handed over
// from a walk test, or closed), and marks it for the next pass if so.
func (ix *openIndex) put(a *alerting.Alarm, at time.Time) bool {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if v, ok := ix.tombstone(a.ID); ok && v >= a.Version {
		return false
	}
	old := ix.byID[a.ID]
	if old != nil && (old.Version > a.Version || old.Version == a.Version && !ix.loaded[a.ID]) {
		return false
	}
	delete(ix.loaded, a.ID)
	if !a.State.Open() {
		ix.remove(old)
		ix.bury(a.ID, a.Version, at)
		ix.dirty[a.ID] = a.Site
		return true
	}
	ix.insert(brief(a))
	if old != nil && old.Cleared == a.Cleared && old.Test == a.Test {
		return false
	}
	ix.dirty[a.ID] = a.Site
	return true
}

// load takes an open alarm read from the engine at the start, unless a
// change of it was told already.
func (ix *openIndex) load(a *alerting.Alarm) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if _, ok := ix.tombstone(a.ID); ok || ix.byID[a.ID] != nil {
		return
	}
	ix.insert(brief(a))
	ix.loaded[a.ID] = true
	ix.dirty[a.ID] = a.Site
}

func (ix *openIndex) insert(b *alerting.Alarm) {
	ix.byID[b.ID] = b
	room := ix.byRoom[b.Site]
	if room == nil {
		room = map[string]*alerting.Alarm{}
		ix.byRoom[b.Site] = room
	}
	room[b.ID] = b
}

func (ix *openIndex) remove(old *alerting.Alarm) {
	if old == nil {
		return
	}
	delete(ix.byID, old.ID)
	if room := ix.byRoom[old.Site]; room != nil {
		delete(room, old.ID)
		if len(room) == 0 {
			delete(ix.byRoom, old.Site)
		}
	}
}

func (ix *openIndex) tombstone(id string) (uint64, bool) {
	if v, ok := ix.closed[id]; ok {
		return v, true
	}
	v, ok := ix.closedOld[id]
	return v, ok
}

func (ix *openIndex) bury(id string, version uint64, at time.Time) {
	if at.Sub(ix.closedSince) >= tombstoneAge || at.Before(ix.closedSince) {
		ix.closedOld, ix.closed, ix.closedSince = ix.closed, map[string]uint64{}, at
	}
	ix.closed[id] = version
}

// markSite asks the next pass to correlate at site.
func (ix *openIndex) markSite(site string) {
	ix.mu.Lock()
	ix.sites[site] = true
	ix.mu.Unlock()
}

// take returns what changed since it was last called.
func (ix *openIndex) take() (dirty map[string]string, sites map[string]bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	dirty, sites = ix.dirty, ix.sites
	ix.dirty, ix.sites = map[string]string{}, map[string]bool{}
	return dirty, sites
}

// in returns the briefs of the open alarms in rooms.
func (ix *openIndex) in(rooms []string) []*alerting.Alarm {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	var out []*alerting.Alarm
	for _, r := range rooms {
		for _, a := range ix.byRoom[r] {
			out = append(out, a)
		}
	}
	return out
}

// get returns the brief of an open alarm, nil if it is not open.
func (ix *openIndex) get(id string) *alerting.Alarm {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.byID[id]
}

func (ix *openIndex) isOpen(id string) bool { return ix.get(id) != nil }
