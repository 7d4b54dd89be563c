package registry

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/anxin-care/anxin/gateway/state"
)

// Residents are the elders who wear or use the devices. The operator's
// alarm detail shows who they are (name, age, conditions, language) and
// whom to call.
//
// Emergency contacts: the issue asks for three to five. A resident needs at
// least one to be registered and may have at most five; with fewer than
// three the record is kept but marked incomplete (ResidentView.Incomplete,
// with a warning), because refusing a resident whose family has given only
// one number would push installers to invent numbers, while an incomplete
// mark keeps the gap visible until it is filled.

// Contact limits.
const (
	MinContacts         = 1
	RecommendedContacts = 3
	MaxContacts         = 5
)

// Sexes a resident record accepts ("" is not recorded).
var sexes = []string{"female", "male"}

// Resident is one elder.
type Resident struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	BirthYear  int       `json:"birth_year"`
	Sex        string    `json:"sex,omitempty"`
	Conditions []string  `json:"conditions,omitempty"` // e.g. 高血压, diabetes, hearing loss
	Language   string    `json:"language"`             // BCP 47: zh-CN, ug, en
	Contacts   []Contact `json:"contacts"`
	Home       string    `json:"home"` // the home, room or bed where they live
	// Wellbeing are the resident's 主动关爱 rules (wellbeing.go), nil when none.
	Wellbeing *Wellbeing `json:"wellbeing,omitempty"`
	// Plan is the resident's response plan (plan.go), nil when none.
	Plan Plan `json:"plan,omitempty"`
	// AwayUntil marks the resident away (in hospital, with family) until
	// then: no wellbeing rule fires.
	AwayUntil time.Time `json:"away_until,omitzero"`
	Created   time.Time `json:"created"`
	By        string    `json:"created_by"`
	Updated   time.Time `json:"updated,omitzero"`
}

// Contact is someone to call for a resident.
type Contact struct {
	Name     string `json:"name"`
	Phone    string `json:"phone"`
	Relation string `json:"relation"` // e.g. 女儿, son, neighbour, village doctor
}

// DefaultLanguage is a resident's language unless given.
const DefaultLanguage = "zh-CN"

// homeLevel reports whether a resident may live at a site of level l.
func homeLevel(l SiteLevel) bool { return l == LevelHome || l == LevelRoom || l == LevelBed }

// Residents is the set of residents, cached in memory. Reads are safe for
// concurrent use; changes hold the registry's writer lock.
type Residents struct {
	reg  *Registry
	mu   sync.RWMutex
	byID map[string]*Resident
}

func loadResidents(r *Registry) (*Residents, error) {
	rs := &Residents{reg: r, byID: map[string]*Resident{}}
	err := state.ForEach(r.db, state.Residents, func(id string, p *Resident) error {
		rs.byID[id] = p
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load residents: %w", err)
	}
	return rs, nil
}

// Get returns one resident.
func (rs *Residents) Get(id string) (Resident, bool) {
	rs.mu.RLock()
	defer rs.mu.RUnlock()
	p, ok := rs.byID[id]
	if !ok {
		return Resident{}, false
	}
	return p.clone(), true
}

func (p *Resident) clone() Resident {
	c := *p
	c.Conditions = slices.Clone(p.Conditions)
	c.Contacts = slices.Clone(p.Contacts)
	c.Plan = p.Plan.clone()
	if p.Wellbeing != nil {
		w := *p.Wellbeing
		c.Wellbeing = &w
	}
	return c
}

// List returns the residents keep accepts (nil: all), by id.
func (rs *Residents) List(keep func(Resident) bool) []Resident {
	rs.mu.RLock()
	out := make([]Resident, 0, len(rs.byID))
	for _, p := range rs.byID {
		if keep == nil || keep(*p) {
			out = append(out, p.clone())
		}
	}
	rs.mu.RUnlock()
	slices.SortFunc(out, func(a, b Resident) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Add registers a resident.
func (rs *Residents) Add(p Resident, by string, now time.Time) (Resident, error) {
	rs.reg.w.Lock()
	defer rs.reg.w.Unlock()
	if err := state.ValidSlug(p.ID); err != nil {
		return Resident{}, &state.FieldError{Field: "id", Err: err}
	}
	if _, ok := rs.Get(p.ID); ok {
		return Resident{}, &state.FieldError{Field: "id", Err: fmt.Errorf("%w: %s", ErrResidentExists, p.ID)}
	}
	p.Created, p.By, p.Updated = now.UTC(), by, time.Time{}
	if err := rs.check(&p, now); err != nil {
		return Resident{}, err
	}
	return p, rs.save(p, state.NewAuditEntry(now, by, state.ActionAdd, "resident:"+p.ID, nil, p))
}

// Update changes a resident with fn.
func (rs *Residents) Update(id, by string, now time.Time, fn func(*Resident) error) (Resident, error) {
	rs.reg.w.Lock()
	defer rs.reg.w.Unlock()
	cur, ok := rs.Get(id)
	if !ok {
		return Resident{}, fmt.Errorf("%w: %s", ErrResidentUnknown, id)
	}
	p := cur.clone()
	if err := fn(&p); err != nil {
		return Resident{}, err
	}
	p.ID, p.Created, p.By, p.Updated = cur.ID, cur.Created, cur.By, now.UTC()
	if err := rs.check(&p, now); err != nil {
		return Resident{}, err
	}
	return p, rs.save(p, state.NewAuditEntry(now, by, state.ActionPatch, "resident:"+id, cur, p))
}

// Remove deletes a resident no device in service refers to.
func (rs *Residents) Remove(id, by string, now time.Time) error {
	rs.reg.w.Lock()
	defer rs.reg.w.Unlock()
	cur, ok := rs.Get(id)
	if !ok {
		return fmt.Errorf("%w: %s", ErrResidentUnknown, id)
	}
	if ds := rs.reg.Select(func(d *Device) bool { return d.Active() && d.Resident == id }); len(ds) > 0 {
		return fmt.Errorf("%w: %d devices are used by %s, e.g. %s", ErrResidentInUse, len(ds), id, ds[0].ID)
	}
	err := rs.reg.db.Update(func(tx *state.Tx) error {
		if err := tx.Delete(state.Residents, id); err != nil {
			return err
		}
		return tx.Audit(state.NewAuditEntry(now, by, state.ActionRemove, "resident:"+id, cur, nil))
	})
	if err != nil {
		return err
	}
	rs.mu.Lock()
	delete(rs.byID, id)
	rs.mu.Unlock()
	return nil
}

func (rs *Residents) save(p Resident, e state.AuditEntry) error {
	err := rs.reg.db.Update(func(tx *state.Tx) error {
		if err := tx.PutJSON(state.Residents, p.ID, &p); err != nil {
			return err
		}
		return tx.Audit(e)
	})
	if err != nil {
		return fmt.Errorf("save resident %s: %w", p.ID, err)
	}
	rs.mu.Lock()
	rs.byID[p.ID] = &p
	rs.mu.Unlock()
	return nil
}

// check validates a resident and fills the defaults.
func (rs *Residents) check(p *Resident, now time.Time) error {
	p.Name = strings.TrimSpace(p.Name)
	if p.Name == "" {
		return state.FieldErrorf("name", "a resident needs a name")
	}
	if err := state.ValidText(p.Name, 64); err != nil {
		return &state.FieldError{Field: "name", Err: err}
	}
	if p.BirthYear < 1900 || p.BirthYear > now.Year() {
		return state.FieldErrorf("birth_year", "%d: want a year from 1900 to %d", p.BirthYear, now.Year())
	}
	if p.Sex != "" && !slices.Contains(sexes, p.Sex) {
		return state.FieldErrorf("sex", "%q: want female, male, or leave it empty", p.Sex)
	}
	if len(p.Conditions) > 20 {
		return state.FieldErrorf("conditions", "at most 20, got %d", len(p.Conditions))
	}
	for i, c := range p.Conditions {
		p.Conditions[i] = strings.TrimSpace(c)
		if err := state.ValidText(p.Conditions[i], 100); err != nil || p.Conditions[i] == "" {
			return state.FieldErrorf(fmt.Sprintf("conditions[%d]", i), "want 1-100 characters of text")
		}
	}
	p.Language = orDefault(p.Language, DefaultLanguage)
	if err := validLanguage(p.Language); err != nil {
		return &state.FieldError{Field: "language", Err: err}
	}
	if n := len(p.Contacts); n < MinContacts || n > MaxContacts {
		return state.FieldErrorf("contacts", "%d given: want %d to %d emergency contacts (%d or more recommended)",
			n, MinContacts, MaxContacts, RecommendedContacts)
	}
	for i := range p.Contacts {
		if err := checkContact(&p.Contacts[i]); err != nil {
			err.Field = fmt.Sprintf("contacts[%d].%s", i, err.Field)
			return err
		}
	}
	if p.Home == "" {
		return state.FieldErrorf("home", "where does the resident live? give a home, room or bed site")
	}
	s, ok := rs.reg.sites.Get(p.Home)
	if !ok {
		return &state.FieldError{Field: "home", Err: fmt.Errorf("%w: %s", ErrSiteUnknown, p.Home)}
	}
	if !homeLevel(s.Level) {
		return state.FieldErrorf("home", "%s is a %s; a resident lives at a home, room or bed", p.Home, s.Level)
	}
	if err := p.Plan.Check(); err != nil {
		return err
	}
	return checkWellbeing(p)
}

func checkContact(c *Contact) *state.FieldError {
	c.Name, c.Phone, c.Relation = strings.TrimSpace(c.Name), strings.TrimSpace(c.Phone), strings.TrimSpace(c.Relation)
	if c.Name == "" || state.ValidText(c.Name, 64) != nil {
		return &state.FieldError{Field: "name", Err: fmt.Errorf("want 1-64 characters")}
	}
	if err := state.ValidPhone(c.Phone); err != nil {
		return &state.FieldError{Field: "phone", Err: err}
	}
	if c.Relation == "" || state.ValidText(c.Relation, 32) != nil {
		return &state.FieldError{Field: "relation", Err: fmt.Errorf("want 1-32 characters, e.g. 女儿, son, neighbour")}
	}
	return nil
}

// validLanguage accepts a BCP 47 tag of the usual shape: a 2-3 letter
// language and optional subtags (zh-CN, ug, zh-Hans-CN).
func validLanguage(tag string) error {
	parts := strings.Split(tag, "-")
	ok := len(parts[0]) >= 2 && len(parts[0]) <= 3 && strings.IndexFunc(parts[0], func(c rune) bool { return !unicode.IsLetter(c) || c > unicode.MaxASCII }) < 0
	for _, p := range parts[1:] {
		ok = ok && len(p) >= 1 && len(p) <= 8 && strings.IndexFunc(p, func(c rune) bool {
			return c > unicode.MaxASCII || !unicode.IsLetter(c) && !unicode.IsDigit(c)
		}) < 0
	}
	if !ok {
		return fmt.Errorf("%q: want a language tag such as zh-CN, ug or en", tag)
	}
	return nil
}
