package gateway

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/alerting/alertingtest"
	"github.com/anxin-care/anxin/gateway/state"
)

func TestNextShiftBoundary(t *testing.T) {
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	shifts := []alerting.Shift{
		{Site: "qs-town", Operator: "zhang", Start: "08:00", End: "20:00"},
		{Site: "qs-county", Operator: "zhao", Start: "20:00", End: "08:00", TZ: "Asia/Urumqi"},
	}
	at := func(day, h, m int, loc *time.Location) time.Time { return time.Date(2026, 11, day, h, m, 0, 0, loc) }
	urumqi, _ := time.LoadLocation("Asia/Urumqi")
	tests := []struct {
		now, want time.Time
	}{
		{at(23, 7, 0, shanghai), at(23, 8, 0, shanghai)},
		{at(23, 8, 0, shanghai), at(23, 10, 0, shanghai)}, // Urumqi's 08:00 is Shanghai's 10:00
		{at(23, 10, 0, shanghai), at(23, 20, 0, shanghai)},
		{at(23, 20, 0, shanghai), at(23, 20, 0, urumqi)},
		{at(23, 20, 0, urumqi), at(24, 8, 0, shanghai)},
	}
	for _, tt := range tests {
		got, ok := nextShiftBoundary(shifts, shanghai, tt.now)
		if !ok || !got.Equal(tt.want) {
			t.Errorf("after %s: %s, want %s", tt.now, got.In(shanghai), tt.want.In(shanghai))
		}
	}
	if _, ok := nextShiftBoundary(nil, shanghai, at(23, 7, 0, shanghai)); ok {
		t.Error("a boundary without shifts")
	}
}

// The roster built from its parts: the users and checks of a real state
// file (or of memory, in a synctest bubble), the planned shifts and a
// clock.

// dutyAt is November day, 2026 at h:m in UTC, the roster's zone here
// (the 23rd is a Monday).
func dutyAt(day, h, m int) time.Time { return time.Date(2026, 11, day, h, m, 0, 0, time.UTC) }

var dutyShifts = []alerting.Shift{
	{Site: "qs-town", Operator: "zhang", Start: "08:00", End: "20:00"},
	{Site: "qs-town", Operator: "ghost", Start: "20:00", End: "08:00"}, // no such user: left out
}

func addDutyUsers(t *testing.T, db *state.DB) {
	t.Helper()
	users := []struct {
		name string
		role state.Role
		p    state.Profile
	}{
		{"li", state.RoleOperator, state.Profile{DisplayName: "李娜", Phone: "13800000001", Sites: []string{"qs-village"}}},
		{"zhang", state.RoleOperator, state.Profile{DisplayName: "张伟", Supervisor: true, Sites: []string{"qs-town"}}},
		{"wang", state.RoleOperator, state.Profile{}}, // no sites: belongs everywhere
		{"boss", state.RoleAdmin, state.Profile{}},    // an admin without sites is not on the roster
		{"fitter", state.RoleInstaller, state.Profile{}},
	}
	for _, u := range users {
		if err := db.AddUserProfile(u.name, u.role, "correct horse battery", u.p, dutyAt(1, 0, 0)); err != nil {
			t.Fatal(err)
		}
	}
}

func onDutyIDs(d *duty, site string, at time.Time) []string {
	var ids []string
	for _, op := range d.OnDuty(site, at) {
		ids = append(ids, op.ID)
	}
	slices.Sort(ids)
	return ids
}

// TestDutyRoster: who is on the roster and where they belong; planned
// shifts by site and time; check-ins and check-outs overriding the plan
// until its next boundary; a check by someone off the roster refused and
// not stored; the checks read back after a reopen.
func TestDutyRoster(t *testing.T) {
	dir := t.TempDir()
	db := openState(t, dir)
	addDutyUsers(t, db)
	clk := alertingtest.NewClock(dutyAt(23, 9, 0))
	logs, log := newTestLog()
	d, err := newDuty(db, dutyShifts, time.UTC, clk.Now, log)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "shift left out") || !strings.Contains(logs.String(), "operator=ghost") {
		t.Errorf("no warning of the shift of an unknown operator: %q", logs.String())
	}

	t.Run("belongs", func(t *testing.T) {
		tests := []struct {
			op, site       string
			onRoster, here bool
		}{
			{"li", "qs-village", true, true},
			{"li", "qs-town", true, false},
			{"wang", "qs-town", true, true},
			{"boss", "qs-town", false, false},
			{"fitter", "qs-town", false, false},
		}
		for _, tt := range tests {
			if on, here := d.Belongs(tt.op, tt.site); on != tt.onRoster || here != tt.here {
				t.Errorf("Belongs(%s, %s) = %v, %v; want %v, %v", tt.op, tt.site, on, here, tt.onRoster, tt.here)
			}
		}
		if op, ok := d.Operator("zhang"); !ok || op.Name != "张伟" || !op.Supervisor || op.Site != "qs-town" {
			t.Errorf("Operator(zhang) = %+v, %v", op, ok)
		}
	})

	t.Run("shifts", func(t *testing.T) {
		tests := []struct {
			at   time.Time
			want []string
		}{
			{dutyAt(23, 7, 59), nil},
			{dutyAt(23, 8, 0), []string{"zhang"}},
			{dutyAt(23, 19, 59), []string{"zhang"}},
			{dutyAt(23, 20, 0), nil}, // ghost's night shift was left out
		}
		for _, tt := range tests {
			if got := onDutyIDs(d, "qs-town", tt.at); !slices.Equal(got, tt.want) {
				t.Errorf("on duty at qs-town at %s: %v, want %v", tt.at.Format("15:04"), got, tt.want)
			}
		}
		if got := onDutyIDs(d, "qs-village", dutyAt(23, 12, 0)); len(got) != 0 {
			t.Errorf("on duty at an unplanned site: %v", got)
		}
	})

	t.Run("checks", func(t *testing.T) {
		checks := []alerting.Check{
			{Site: "qs-village", Operator: "li", At: dutyAt(23, 9, 0), In: true},
			{Site: "qs-town", Operator: "zhang", At: dutyAt(23, 12, 0), In: false}, // sick at noon
		}
		for _, c := range checks {
			if err := d.Check(c, c.Operator); err != nil {
				t.Fatal(err)
			}
		}
		tests := []struct {
			site string
			at   time.Time
			want []string
		}{
			{"qs-village", dutyAt(23, 8, 59), nil},
			{"qs-village", dutyAt(23, 9, 0), []string{"li"}},
			{"qs-village", dutyAt(25, 3, 0), []string{"li"}}, // no shifts there: on until checked out
			{"qs-town", dutyAt(23, 11, 59), []string{"zhang"}},
			{"qs-town", dutyAt(23, 12, 0), nil},
			{"qs-town", dutyAt(24, 8, 0), []string{"zhang"}}, // the plan takes over at its next start
		}
		for _, tt := range tests {
			if got := onDutyIDs(d, tt.site, tt.at); !slices.Equal(got, tt.want) {
				t.Errorf("on duty at %s at %s: %v, want %v", tt.site, tt.at, got, tt.want)
			}
		}
		staffed := d.Staffed(dutyAt(23, 10, 0))
		var sites []string
		for _, sd := range staffed {
			sites = append(sites, sd.Site)
		}
		if !slices.Equal(sites, []string{"qs-town", "qs-village"}) || d.count(dutyAt(23, 10, 0)) != 2 {
			t.Errorf("staffed at 10:00: %v, %d on duty", sites, d.count(dutyAt(23, 10, 0)))
		}

		err := d.Check(alerting.Check{Site: "qs-town", Operator: "boss", At: dutyAt(23, 13, 0), In: true}, "boss")
		if !errors.Is(err, alerting.ErrUnknownOperator) {
			t.Errorf("check-in by an admin without sites: %v, want ErrUnknownOperator", err)
		}
	})

	db.Close()
	db = openState(t, dir)
	defer db.Close()
	d, err = newDuty(db, dutyShifts, time.UTC, clk.Now, log)
	if err != nil {
		t.Fatal(err)
	}
	if got := onDutyIDs(d, "qs-village", dutyAt(23, 10, 0)); !slices.Equal(got, []string{"li"}) {
		t.Errorf("after a reopen, on duty at qs-village: %v, want [li]", got)
	}
	if got := onDutyIDs(d, "qs-town", dutyAt(23, 13, 0)); len(got) != 0 {
		t.Errorf("after a reopen, on duty at qs-town after the check-out: %v", got)
	}
	var stored []alerting.Check
	db.DutyChecks(func(c alerting.Check) error { stored = append(stored, c); return nil })
	if slices.ContainsFunc(stored, func(c alerting.Check) bool { return c.Operator == "boss" }) {
		t.Errorf("a refused check was stored: %+v", stored)
	}
}

// TestDutyRebuildAddsUsers: a shift whose operator did not exist takes
// effect once the user is added and the roster rebuilt.
func TestDutyRebuildAddsUsers(t *testing.T) {
	db := openState(t, t.TempDir())
	defer db.Close()
	addDutyUsers(t, db)
	_, log := newTestLog()
	d, err := newDuty(db, dutyShifts, time.UTC, time.Now, log)
	if err != nil {
		t.Fatal(err)
	}
	if got := onDutyIDs(d, "qs-town", dutyAt(23, 22, 0)); len(got) != 0 {
		t.Fatalf("on duty at night before ghost exists: %v", got)
	}
	if err := db.AddUserProfile("ghost", state.RoleOperator, "correct horse battery",
		state.Profile{Sites: []string{"qs-town"}}, dutyAt(23, 0, 0)); err != nil {
		t.Fatal(err)
	}
	if err := d.Rebuild(); err != nil {
		t.Fatal(err)
	}
	if got := onDutyIDs(d, "qs-town", dutyAt(23, 22, 0)); !slices.Equal(got, []string{"ghost"}) {
		t.Errorf("on duty at night after ghost is added: %v, want [ghost]", got)
	}
}

// memDuty is a dutyStore in memory: synctest's bubble is no place for a
// bbolt file.
type memDuty struct {
	users []state.User
	mu    sync.Mutex
	check []alerting.Check
}

func (m *memDuty) Users() ([]state.User, error) { return m.users, nil }

func (m *memDuty) DutyChecks(fn func(alerting.Check) error) error {
	m.mu.Lock()
	cs := slices.Clone(m.check)
	m.mu.Unlock()
	for _, c := range cs {
		if err := fn(c); err != nil {
			return err
		}
	}
	return nil
}

func (m *memDuty) PutDutyCheck(c alerting.Check, _ state.AuditEntry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.check = append(m.check, c)
	return nil
}

// TestWatchShiftsReplansAtBoundaries: the watcher replans at each start
// and end of a shift, on synctest's clock, and not in between.
func TestWatchShiftsReplansAtBoundaries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now() // synctest's midnight, UTC
		store := &memDuty{users: []state.User{{Name: "zhang", Role: state.RoleOperator}}}
		_, log := newTestLog()
		shifts := []alerting.Shift{{Site: "qs-town", Operator: "zhang", Start: "08:00", End: "20:00"}}
		d, err := newDuty(store, shifts, time.UTC, time.Now, log)
		if err != nil {
			t.Fatal(err)
		}
		var replans atomic.Int32
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			d.watchShifts(ctx, func() { replans.Add(1) })
		}()

		steps := []struct {
			until time.Duration // since start
			want  int32
		}{
			{8*time.Hour - time.Second, 0},
			{8 * time.Hour, 1},
			{20*time.Hour - time.Second, 1},
			{20 * time.Hour, 2},
			{32 * time.Hour, 3}, // the next day's start
		}
		for _, s := range steps {
			time.Sleep(start.Add(s.until).Sub(time.Now()))
			synctest.Wait()
			if got := replans.Load(); got != s.want {
				t.Errorf("at %s: %d replans, want %d", time.Now().Format("Jan 2 15:04:05"), got, s.want)
				break
			}
		}
		cancel() // the bubble ends only once the watcher has returned
		<-done
	})
}
