package statetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway/state"
)

type rec struct {
	Name string `json:"name"`
	N    int    `json:"n"`
}

func testRecordsOrder(t *testing.T, s *store) {
	keys := []string{"b", "a", "a\x00b", "A", "é", "a-1", "a-10", "a-2", "z\u00ff", "\u00ff"}
	must(t, s.db.Update(func(tx *state.Tx) error {
		for i, k := range keys {
			if err := tx.PutJSON(state.Devices, k, rec{Name: k, N: i}); err != nil {
				return err
			}
		}
		return nil
	}))
	// A transaction reads its own writes; a delete and a put of one key in
	// it end as the last of them.
	must(t, s.db.Update(func(tx *state.Tx) error {
		if err := tx.PutJSON(state.Devices, "tmp", rec{Name: "tmp"}); err != nil {
			return err
		}
		var r rec
		if found, err := tx.GetJSON(state.Devices, "tmp", &r); !found || err != nil || r.Name != "tmp" {
			return fmt.Errorf("a transaction does not read its own write: %v %v %+v", found, err, r)
		}
		if err := tx.Delete(state.Devices, "tmp"); err != nil {
			return err
		}
		if found, err := tx.GetJSON(state.Devices, "tmp", &r); found || err != nil {
			return fmt.Errorf("a transaction reads what it deleted: %v %v", found, err)
		}
		return tx.Delete(state.Devices, "never-there")
	}))
	s.restart()
	var got []string
	must(t, state.ForEach(s.db, state.Devices, func(k string, r *rec) error {
		if r.Name != k {
			t.Errorf("record %q holds %q", k, r.Name)
		}
		got = append(got, k)
		return nil
	}))
	want := slices.Clone(keys)
	slices.SortFunc(want, func(a, b string) int { return bytes.Compare([]byte(a), []byte(b)) })
	if !slices.Equal(got, want) {
		t.Errorf("ForEach order %q, want %q (bytes)", got, want)
	}
	// Other collections are apart.
	n := 0
	must(t, state.ForEach(s.db, state.Sites, func(string, *rec) error { n++; return nil }))
	if n != 0 {
		t.Errorf("sites holds %d records written to devices", n)
	}
	stop := errors.New("stop")
	n = 0
	err := state.ForEach(s.db, state.Devices, func(string, *rec) error {
		if n++; n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 3 {
		t.Errorf("ForEach stopped by its callback: %v after %d", err, n)
	}
}

func testUpdateAudit(t *testing.T, s *store) {
	add := func(id string) error {
		return s.db.Update(func(tx *state.Tx) error {
			if err := tx.PutJSON(state.Devices, id, rec{Name: id}); err != nil {
				return err
			}
			return tx.Audit(state.NewAuditEntry(t0, "admin", state.ActionAdd, "device:"+id, nil, rec{Name: id}))
		})
	}
	must(t, add("btn-1"))
	refused := errors.New("refused after writing")
	err := s.db.Update(func(tx *state.Tx) error {
		if err := tx.PutJSON(state.Devices, "btn-2", rec{Name: "btn-2"}); err != nil {
			return err
		}
		if err := tx.Audit(state.NewAuditEntry(t0, "admin", state.ActionAdd, "device:btn-2", nil, rec{Name: "btn-2"})); err != nil {
			return err
		}
		return refused
	})
	if !errors.Is(err, refused) {
		t.Fatalf("Update returned %v, want its function's error", err)
	}
	s.restart()
	for id, want := range map[string]bool{"btn-1": true, "btn-2": false} {
		found := false
		must(t, state.ForEach(s.db, state.Devices, func(k string, _ *rec) error { found = found || k == id; return nil }))
		if found != want {
			t.Errorf("device %s stored=%v, want %v", id, found, want)
		}
		entries, err := s.db.Audit(state.AuditQuery{Object: "device:" + id})
		must(t, err)
		if (len(entries) == 1) != want {
			t.Errorf("audit of %s: %d entries, want stored=%v", id, len(entries), want)
		}
	}
	entries, err := s.db.Audit(state.AuditQuery{})
	must(t, err)
	if len(entries) != 1 || entries[0].Who != "admin" || entries[0].Action != state.ActionAdd || string(entries[0].After) != `{"name":"btn-1","n":0}` {
		t.Errorf("audit trail %+v", entries)
	}
}

func testAuditPaging(t *testing.T, s *store) {
	// Three objects, interleaved; several entries share one instant.
	var all []string
	for i := range 45 {
		obj := fmt.Sprintf("device:btn-%d", i%3)
		if i%3 == 1 {
			obj = "device:btn-1\x00" // a NUL in an object id must not join another's history
		}
		at := t0.Add(time.Duration(i/2) * time.Second)
		note := fmt.Sprint(i)
		all = append(all, obj+"#"+note)
		must(t, s.db.Update(func(tx *state.Tx) error {
			e := state.NewAuditEntry(at, "admin", state.ActionPatch, obj, nil, nil)
			e.Note = note
			return tx.Audit(e)
		}))
	}
	s.restart()
	slices.Reverse(all)
	page := func(q state.AuditQuery) []state.AuditEntry {
		t.Helper()
		es, err := s.db.Audit(q)
		must(t, err)
		return es
	}
	names := func(es []state.AuditEntry) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.Object+"#"+e.Note)
		}
		return out
	}
	// The whole trail, in pages of 10, newest first.
	var got []string
	q := state.AuditQuery{Limit: 10}
	for {
		es := page(q)
		got = append(got, names(es)...)
		if len(es) < 10 {
			break
		}
		q.Before = es[len(es)-1].ID
	}
	if !slices.Equal(got, all) {
		t.Errorf("paged trail\n got %q\nwant %q", got, all)
	}
	// One object's history, in pages of 4.
	var want []string
	for _, n := range all {
		if n[:len("device:btn-0#")] == "device:btn-0#" {
			want = append(want, n)
		}
	}
	got = nil
	q = state.AuditQuery{Object: "device:btn-0", Limit: 4}
	for {
		es := page(q)
		got = append(got, names(es)...)
		if len(es) < 4 {
			break
		}
		q.Before = es[len(es)-1].ID
	}
	if !slices.Equal(got, want) {
		t.Errorf("history of device:btn-0\n got %q\nwant %q", got, want)
	}
	if es := page(state.AuditQuery{Object: "device:btn-"}); len(es) != 0 {
		t.Errorf("a prefix of object ids matched %d entries", len(es))
	}
	var fe *state.FieldError
	if _, err := s.db.Audit(state.AuditQuery{Before: "zz"}); !errors.As(err, &fe) || fe.Field != "before" {
		t.Errorf("a bad before: %v, want a FieldError of before", err)
	}
}

func testUsers(t *testing.T, s *store) {
	db := s.db
	must(t, db.AddUserProfile("admin", state.RoleAdmin, "admin-password-1", state.Profile{}, t0))
	must(t, db.AddUserProfile("op-1", state.RoleOperator, "operator-password", state.Profile{DisplayName: "张伟", Sites: []string{"qs-village"}}, t0))
	if err := db.AddUser("OP-1", state.RoleOperator, "operator-password", t0); !errors.Is(err, state.ErrUserExists) {
		t.Errorf("a name differing in case only: %v, want ErrUserExists", err)
	}
	if _, _, err := db.Login("op-1", "wrong-password!", t0, time.Hour); !errors.Is(err, state.ErrBadLogin) {
		t.Errorf("wrong password: %v", err)
	}
	tok1, _, err := db.Login("op-1", "operator-password", t0, time.Hour)
	must(t, err)
	u, _, err := db.User("op-1")
	must(t, err)
	tok2, cs, err := db.NewCookieSession(u, t0, time.Hour)
	must(t, err)
	s.restart()
	db = s.db
	got, err := db.Session(tok2, t0.Add(time.Minute))
	must(t, err)
	if got.User != "op-1" || got.CSRF != cs.CSRF || got.CSRF == "" {
		t.Errorf("cookie session after restart %+v, want csrf %q", got, cs.CSRF)
	}
	if _, err := db.Session(tok1, t0.Add(2*time.Hour)); !errors.Is(err, state.ErrBadToken) {
		t.Errorf("expired session: %v", err)
	}
	// A password change keeps the changer's own session only.
	must(t, db.SetPassword("op-1", "new-password-2", "op-1", tok2, t0))
	if _, err := db.Session(tok1, t0); !errors.Is(err, state.ErrBadToken) {
		t.Errorf("other session after a password change: %v", err)
	}
	if _, err := db.Session(tok2, t0); err != nil {
		t.Errorf("own session after a password change: %v", err)
	}
	_, _, err = db.SetProfile("op-1", state.Profile{DisplayName: "张伟", Phone: "+86 138 0000 0000", Sites: []string{"qs-village", "qs-town"}}, "admin", t0)
	must(t, err)
	if _, err := db.SetDisabled("admin", true, "op-1", t0); !errors.Is(err, state.ErrLastAdmin) {
		t.Errorf("disabling the last admin: %v", err)
	}
	if _, err := db.SetDisabled("admin", true, "admin", t0); !errors.Is(err, state.ErrSelf) {
		t.Errorf("disabling oneself: %v", err)
	}
	_, err = db.SetDisabled("op-1", true, "admin", t0)
	must(t, err)
	if _, err := db.Session(tok2, t0); !errors.Is(err, state.ErrBadToken) {
		t.Errorf("a disabled user's session: %v", err)
	}
	if _, _, err := db.Login("op-1", "new-password-2", t0, time.Hour); !errors.Is(err, state.ErrUserDisabled) {
		t.Errorf("a disabled user's login: %v", err)
	}
	must(t, db.RemoveUser("op-1", "admin", t0))
	users, err := db.Users()
	must(t, err)
	if len(users) != 1 || users[0].Name != "admin" || users[0].Hash != "" {
		t.Errorf("users %+v", users)
	}
	history, err := db.Audit(state.AuditQuery{Object: "user:op-1"})
	must(t, err)
	var actions []string
	for _, e := range history {
		actions = append(actions, e.Action)
	}
	if want := []string{state.ActionRemove, state.ActionDisable, state.ActionPatch, state.ActionPassword}; !slices.Equal(actions, want) {
		t.Errorf("history of user:op-1 %v, want %v", actions, want)
	}
}

func testWallTokens(t *testing.T, s *store) {
	w, token, err := s.db.NewWallToken("county duty room", "admin", t0)
	must(t, err)
	s.restart()
	sess, err := s.db.Session(token, t0.Add(24*time.Hour))
	must(t, err)
	if sess.Role != state.RoleWall || sess.Wall != w.ID {
		t.Errorf("wall session %+v", sess)
	}
	list, err := s.db.WallTokens()
	must(t, err)
	if len(list) != 1 || list[0].ID != w.ID || list[0].Key != "" {
		t.Errorf("wall tokens %+v", list)
	}
	must(t, s.db.RevokeWallToken(w.ID, "admin", t0))
	if _, err := s.db.Session(token, t0); !errors.Is(err, state.ErrBadToken) {
		t.Errorf("a revoked wall's session: %v", err)
	}
	if err := s.db.RevokeWallToken(w.ID, "admin", t0); !errors.Is(err, state.ErrWallTokenUnknown) {
		t.Errorf("revoking twice: %v", err)
	}
}

func testSmallRecords(t *testing.T, s *store) {
	db := s.db
	must(t, db.PutDutyCheck(alerting.Check{Site: "qs", Operator: "op-1", At: t0, In: true}, state.NewAuditEntry(t0, "op-1", "duty.in", "site:qs", nil, nil)))
	must(t, db.PutDutyCheck(alerting.Check{Site: "qs", Operator: "op-1", At: t0.Add(time.Hour)}, state.NewAuditEntry(t0, "op-1", "duty.out", "site:qs", nil, nil)))
	must(t, db.PutIncident(state.IncidentKey("home-12", "fire"), &state.Incident{Alarm: "A-9", Kind: "fire", Site: "home-12", Linked: []string{"A-1", "A-2"}}))
	must(t, db.PutIncident(state.IncidentKey("home-13", "fire"), &state.Incident{Alarm: "A-10"}))
	must(t, db.DeleteIncident(state.IncidentKey("home-13", "fire")))
	must(t, db.PutWellbeings(map[string]state.Wellbeing{"r-1": {Since: t0, LastCheckin: t0.Add(time.Hour)}, "r-2": {Since: t0}}))
	must(t, db.PutZ2MTable("zigbee2mqtt/bridge/devices", state.Z2MTable{Digest: "abc", Devices: devices.Z2MDevices{}, Updated: t0}))
	s.restart()
	db = s.db
	var checks []alerting.Check
	must(t, db.DutyChecks(func(c alerting.Check) error { checks = append(checks, c); return nil }))
	if len(checks) != 1 || checks[0].In || !checks[0].At.Equal(t0.Add(time.Hour)) {
		t.Errorf("duty checks %+v, want the latest check-out only", checks)
	}
	inc, err := db.Incidents()
	must(t, err)
	if len(inc) != 1 || inc[state.IncidentKey("home-12", "fire")] == nil || len(inc[state.IncidentKey("home-12", "fire")].Linked) != 2 {
		t.Errorf("incidents %+v", inc)
	}
	wb, err := db.Wellbeings()
	must(t, err)
	if len(wb) != 2 || !wb["r-1"].LastCheckin.Equal(t0.Add(time.Hour)) {
		t.Errorf("wellbeing %+v", wb)
	}
	z, err := db.Z2MTables()
	must(t, err)
	if z["zigbee2mqtt/bridge/devices"].Digest != "abc" {
		t.Errorf("z2m tables %+v", z)
	}
	if st, err := db.AdapterState("never-seen"); err != nil || st.Seq != 0 {
		t.Errorf("adapter state of an unknown device: %+v %v", st, err)
	}
	entries, err := db.Audit(state.AuditQuery{Object: "site:qs"})
	must(t, err)
	if len(entries) != 2 {
		t.Errorf("%d audit entries of duty checks, want 2", len(entries))
	}
}

func testEdgeQueue(t *testing.T, s *store) {
	db := s.db
	if c, last, _, err := db.EdgeQueueStats(); err != nil || c != 0 || last != 0 {
		t.Fatalf("empty queue stats %d %d %v", c, last, err)
	}
	// Most entries ride with events, as an edge box queues them; a few
	// are put on their own.
	var w alerting.Write
	for n := uint64(1); n <= 300; n++ {
		q := state.EdgeQueued{Topic: "t", Payload: []byte{byte(n)}, Device: "btn-1", Queued: t0.Add(time.Duration(n) * time.Second)}
		if n <= 3 {
			must(t, db.PutEdgeQueued(n, q))
			continue
		}
		o, err := state.EdgeQueueRecord(n, q)
		must(t, err)
		w.Outbound = append(w.Outbound, o)
	}
	must(t, <-db.Commit(w))
	// 256 sorts after 255 only as 8 bytes big endian, not as text.
	must(t, db.RemoveEdgeQueued(1))
	s.restart()
	db = s.db
	head, err := db.EdgeQueueHead(3)
	must(t, err)
	if len(head) != 3 || head[0].N != 2 || head[2].N != 4 || head[0].Payload[0] != 2 {
		t.Errorf("queue head %+v", head)
	}
	c, last, oldest, err := db.EdgeQueueStats()
	must(t, err)
	if c != 299 || last != 300 || !oldest.Equal(t0.Add(2*time.Second)) {
		t.Errorf("queue stats %d %d %v, want 299 300 %v", c, last, oldest, t0.Add(2*time.Second))
	}
	for want := uint64(1); want <= 3; want++ {
		if want == 3 {
			s.restart()
			db = s.db
		}
		n, err := db.NextEdgeSeq("box-btn")
		must(t, err)
		if n != want {
			t.Errorf("NextEdgeSeq = %d, want %d", n, want)
		}
	}
}

func testHealthBackupClose(t *testing.T, s *store) {
	must(t, s.db.Healthy())
	must(t, <-s.db.Commit(fullWrite(t, "A-1", "btn-1", 1)))
	var b bytes.Buffer
	n, err := s.db.Backup(&b)
	switch {
	case errors.Is(err, state.ErrNotSupported):
	case err != nil:
		t.Errorf("backup: %v", err)
	case n == 0 || int64(b.Len()) != n:
		t.Errorf("backup wrote %d bytes, said %d", b.Len(), n)
	}
	must(t, s.db.Close())
	if err := <-s.db.Commit(fullWrite(t, "A-2", "btn-2", 2)); !errors.Is(err, state.ErrClosed) {
		t.Errorf("commit after close: %v, want ErrClosed", err)
	}
	s.db = s.mustOpen()
	wantAll(t, present(t, s.db, "A-1", "btn-1", 1), true, "after close and open")
}
