package state

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/anxin-care/anxin/alerting"
)

// Migrations of the state file, run by Open (upgrade, schema.go) in the
// transaction that creates the buckets, so that a file is either wholly
// migrated or not at all, and every later read sees the current schema.
//
// Site alarms (v1 → v2). Before alarms had a subject, a site-level incident
// was an alarm of the pretend device "site:<site id>", routed over a shadow
// site tree "incident:<site id>" … "incident:*". Open rewrites, for a file of version 1:
//   - every alarm, open or closed, of a device "site:X" as an alarm about
//     the site X (subject "site", device empty, site X), with a routed_site
//     of "incident:Y" as Y ("incident:*" as "");
//   - the incidents bucket's keys "site:X\x00kind" as "X\x00kind";
//   - notifications in the outbox about such alarms, their site and
//     routed site read the same way.
//
// Ids, states, counts and timelines are kept as they were.

// Old spellings of site alarms.
const (
	legacySiteDevicePrefix = "site:"
	legacyShadowPrefix     = "incident:"
	legacyShadowRoot       = "incident:*"
)

// migrateSiteAlarms rewrites the old spelling of site alarms; it returns
// how many records it rewrote.
func migrateSiteAlarms(tx *bolt.Tx) (int, error) {
	n := 0
	alarms := bucket(tx, bucketAlarms)
	type kv struct{ k, v []byte }
	var puts []kv
	err := alarms.ForEach(func(k, v []byte) error {
		if !bytes.Contains(v, []byte(`"device":"`+legacySiteDevicePrefix)) {
			return nil
		}
		var a alerting.Alarm
		if err := json.Unmarshal(v, &a); err != nil {
			return fmt.Errorf("migrate alarm %s: %w", k, err)
		}
		if !migrateSiteAlarm(&a) {
			return nil
		}
		b, err := json.Marshal(&a)
		if err != nil {
			return fmt.Errorf("migrate alarm %s: %w", k, err)
		}
		puts = append(puts, kv{k, b})
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, p := range puts {
		if err := alarms.Put(p.k, p.v); err != nil {
			return 0, fmt.Errorf("migrate alarm %s: %w", p.k, err)
		}
	}
	n += len(puts)

	incidents := bucket(tx, bucketIncidents)
	var keys [][]byte
	err = incidents.ForEach(func(k, _ []byte) error {
		if bytes.HasPrefix(k, []byte(legacySiteDevicePrefix)) {
			keys = append(keys, k)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, k := range keys {
		v := bytes.Clone(incidents.Get(k))
		if err := incidents.Delete(k); err != nil {
			return 0, fmt.Errorf("migrate incident %q: %w", k, err)
		}
		if err := incidents.Put(bytes.TrimPrefix(k, []byte(legacySiteDevicePrefix)), v); err != nil {
			return 0, fmt.Errorf("migrate incident %q: %w", k, err)
		}
	}
	n += len(keys)

	outbox := bucket(tx, bucketOutbox)
	puts = puts[:0]
	err = outbox.ForEach(func(k, v []byte) error {
		if !bytes.Contains(v, []byte(`"`+legacySiteDevicePrefix)) && !bytes.Contains(v, []byte(`"`+legacyShadowPrefix)) {
			return nil
		}
		var it OutboxItem
		if err := json.Unmarshal(v, &it); err != nil {
			return fmt.Errorf("migrate outbox item %s: %w", k, err)
		}
		changed := it.N.Alarm != nil && migrateSiteAlarm(it.N.Alarm)
		site, routed := shadowToReal(it.N.Site), shadowToReal(it.N.Routed)
		changed = changed || site != it.N.Site || routed != it.N.Routed
		if !changed {
			return nil
		}
		it.N.Site, it.N.Routed = site, routed
		b, err := json.Marshal(&it)
		if err != nil {
			return fmt.Errorf("migrate outbox item %s: %w", k, err)
		}
		puts = append(puts, kv{k, b})
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, p := range puts {
		if err := outbox.Put(p.k, p.v); err != nil {
			return 0, fmt.Errorf("migrate outbox item %s: %w", p.k, err)
		}
	}
	return n + len(puts), nil
}

// migrateSiteAlarm rewrites a's old spelling of a site alarm; it reports
// whether it changed anything.
func migrateSiteAlarm(a *alerting.Alarm) bool {
	site, ok := strings.CutPrefix(a.Device, legacySiteDevicePrefix)
	if !ok || a.IsSite() {
		return false
	}
	a.Subject, a.Device, a.Site = alerting.SubjectSite, "", site
	a.Routed = shadowToReal(a.Routed)
	return true
}

// shadowToReal maps a site of the old shadow tree to the real site; its
// root to "".
func shadowToReal(site string) string {
	if site == legacyShadowRoot {
		return ""
	}
	s, _ := strings.CutPrefix(site, legacyShadowPrefix)
	return s
}
