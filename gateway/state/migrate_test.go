package state

import (
	"encoding/json"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestMigrateSiteAlarms: Open rewrites the old spelling of site alarms
// everywhere a state file keeps one, closed alarms and the outbox
// included, and leaves device alarms byte for byte as they were.
func TestMigrateSiteAlarms(t *testing.T) {
	dir := t.TempDir()
	old := map[string]map[string]string{
		"alarms": {
			"A-1": `{"id":"A-1","device":"site:home-12","type":"fire","event":"fire","priority":"P1","state":"raised","count":1,"seq":0,"site":"home-12","location":["青山村","12号"],"raised_at":"2026-11-23T02:00:00Z","updated_at":"2026-11-23T02:00:00Z","escalation_steps":1,"routed_site":"incident:qs-village","version":2,"timeline":[{"at":"2026-11-23T02:00:00Z","actor":"system","action":"raised","state":"raised","note":"fire at home-12"}]}`,
			"A-2": `{"id":"A-2","device":"site:home-7","type":"site_offline","event":"site_offline","priority":"P2","state":"resolved","count":1,"seq":0,"site":"home-7","raised_at":"2026-11-22T02:00:00Z","updated_at":"2026-11-22T03:00:00Z","closed_at":"2026-11-22T03:00:00Z","outcome":"restored","escalation_steps":0,"routed_site":"incident:*","version":3,"timeline":[]}`,
			"A-3": `{"id":"A-3","device":"smk-bed","type":"smoke","event":"smoke.alarm","priority":"P1","state":"raised","count":1,"seq":4,"site":"home-12-bedroom","raised_at":"2026-11-23T02:00:00Z","updated_at":"2026-11-23T02:00:00Z","escalation_steps":0,"version":1,"timeline":[]}`,
		},
		"open": {"A-1": "", "A-3": ""},
		"incidents": {
			"site:home-12\x00fire": `{"alarm":"A-1","kind":"fire","site":"home-12","linked":["A-3"]}`,
		},
		"notify_outbox": {
			"A-1/step/1/robot:qs": `{"notification":{"Key":"A-1/step/1/robot:qs","Channel":"robot:qs","Kind":"step","Step":1,"Attempt":0,"At":"2026-11-23T02:00:00Z","Alarm":{"id":"A-1","device":"site:home-12","type":"fire","site":"home-12","routed_site":"incident:qs-village","raised_at":"2026-11-23T02:00:00Z","updated_at":"2026-11-23T02:00:00Z","escalation_steps":1,"version":2,"timeline":null,"event":"fire","priority":"P1","state":"raised","count":1,"seq":0},"Site":"incident:home-12","Location":["青山村","12号"],"Routed":"incident:qs-village"},"queued":"2026-11-23T02:00:00Z"}`,
		},
	}
	writeFile(t, dir, "", old)

	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if db.Migrated != 4 {
		t.Errorf("%d records migrated, want 4", db.Migrated)
	}
	for id, want := range map[string]struct{ site, routed string }{"A-1": {"home-12", "qs-village"}, "A-2": {"home-7", ""}} {
		a, err := db.Alarm(id)
		if err != nil {
			t.Fatal(err)
		}
		if !a.IsSite() || a.Device != "" || a.Site != want.site || a.Routed != want.routed {
			t.Errorf("alarm %s: subject %q device %q site %q routed %q", id, a.Subject, a.Device, a.Site, a.Routed)
		}
	}
	a1, _ := db.Alarm("A-1")
	if a1.State != "raised" || a1.Version != 2 || len(a1.Timeline) != 1 || a1.Timeline[0].Note != "fire at home-12" || len(a1.Location) != 2 {
		t.Errorf("alarm A-1 lost something: %+v", a1)
	}
	db.bolt.View(func(tx *bolt.Tx) error {
		if got := string(bucket(tx, bucketAlarms).Get([]byte("A-3"))); got != old["alarms"]["A-3"] {
			t.Errorf("device alarm rewritten:\n%s\nwas\n%s", got, old["alarms"]["A-3"])
		}
		if bucket(tx, bucketIncidents).Get([]byte("home-12\x00fire")) == nil || bucket(tx, bucketIncidents).Get([]byte("site:home-12\x00fire")) != nil {
			t.Error("the incident record keeps its old key")
		}
		var it OutboxItem
		if err := json.Unmarshal(bucket(tx, bucketOutbox).Get([]byte("A-1/step/1/robot:qs")), &it); err != nil {
			t.Fatal(err)
		}
		if it.N.Site != "home-12" || it.N.Routed != "qs-village" || !it.N.Alarm.IsSite() || it.N.Alarm.Device != "" {
			t.Errorf("outbox item: site %q routed %q alarm %+v", it.N.Site, it.N.Routed, it.N.Alarm)
		}
		return nil
	})
	open, err := db.OpenAlarms()
	if err != nil || len(open) != 2 {
		t.Fatalf("open alarms: %d, %v", len(open), err)
	}
	for _, a := range open {
		if strings.HasPrefix(a.Device, "site:") {
			t.Errorf("open alarm %s of %s", a.ID, a.Device)
		}
	}
	// A second open finds nothing left to migrate.
	db.Close()
	if db, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Migrated != 0 {
		t.Errorf("%d records migrated again", db.Migrated)
	}
}
