package state

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// writeFile makes a state file by hand, as other code would have left it:
// buckets with their records, and meta's schema_version when version > 0.
func writeFile(t *testing.T, dir string, version string, buckets map[string]map[string]string) {
	t.Helper()
	b, err := bolt.Open(filepath.Join(dir, "anxin.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if version != "" {
		buckets["meta"] = map[string]string{"schema_version": version}
	}
	err = b.Update(func(tx *bolt.Tx) error {
		for name, kvs := range buckets {
			bk, err := tx.CreateBucketIfNotExists([]byte(name))
			if err != nil {
				return err
			}
			for k, v := range kvs {
				if err := bk.Put([]byte(k), []byte(v)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// storedVersion reads meta.schema_version straight from the file.
func storedVersion(t *testing.T, dir string) string {
	t.Helper()
	b, err := bolt.Open(filepath.Join(dir, "anxin.db"), 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var v string
	b.View(func(tx *bolt.Tx) error {
		if m := tx.Bucket([]byte("meta")); m != nil {
			v = string(m.Get([]byte("schema_version")))
		}
		return nil
	})
	return v
}

// TestOpenUpgradesVersion1: a file written before the schema version was
// stored is version 1; Open migrates it and stores version 2, and a second
// Open finds nothing more to do.
func TestOpenUpgradesVersion1(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "", map[string]map[string]string{
		"alarms": {"A-1": `{"id":"A-1","device":"site:home-12","type":"fire","event":"fire","priority":"P1","state":"raised","count":1,"site":"home-12","raised_at":"2026-11-23T02:00:00Z","updated_at":"2026-11-23T02:00:00Z","timeline":[]}`},
		"open":   {"A-1": ""},
	})
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if db.Migrated != 1 {
		t.Errorf("%d records migrated, want 1", db.Migrated)
	}
	db.Close()
	if v := storedVersion(t, dir); v != "2" {
		t.Fatalf("schema_version after opening a version-1 file = %q, want 2", v)
	}
	if db, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Migrated != 0 {
		t.Errorf("%d records migrated at the second open, want 0", db.Migrated)
	}
}

// TestOpenNewFileIsCurrent: a new file starts at the current version.
func TestOpenNewFileIsCurrent(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if v := storedVersion(t, dir); v != "2" {
		t.Fatalf("schema_version of a new file = %q, want 2", v)
	}
}

// TestOpenRefusesNewerSchema: a file of a newer anxin is refused, naming
// both versions, and left as it was.
func TestOpenRefusesNewerSchema(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "3", map[string]map[string]string{"alarms": {}})
	db, err := Open(dir)
	if err == nil {
		db.Close()
		t.Fatal("a file of schema version 3 opened")
	}
	if !errors.Is(err, ErrNewerSchema) {
		t.Errorf("err %v, want ErrNewerSchema", err)
	}
	for _, want := range []string{"version 3", "up to 2", "anxin.db"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if v := storedVersion(t, dir); v != "3" {
		t.Errorf("schema_version after the refusal = %q, want 3 untouched", v)
	}
}
