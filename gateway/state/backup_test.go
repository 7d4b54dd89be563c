package state_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/anxin-care/anxin/gateway/state"
)

// TestBackupRestore: a snapshot of an open store restores into an empty
// directory and opens with what was committed; Verify and Restore refuse
// what is not a state file, and Restore never overwrites one.
func TestBackupRestore(t *testing.T) {
	dir := t.TempDir()
	db, err := state.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.AddUser("admin", state.RoleAdmin, "a-long-password", time.Now()); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n, err := db.Backup(&buf)
	db.Close()
	if err != nil || n != int64(buf.Len()) || n == 0 {
		t.Fatalf("Backup: %d bytes, %d written, %v", n, buf.Len(), err)
	}
	snap := filepath.Join(t.TempDir(), "snap.db")
	os.WriteFile(snap, buf.Bytes(), 0o600)

	to := filepath.Join(t.TempDir(), "new")
	info, err := state.Restore(snap, to)
	if err != nil || info.Users != 1 || info.SchemaVersion != state.SchemaVersion {
		t.Fatalf("Restore: %+v, %v", info, err)
	}
	if _, err := state.Restore(snap, to); !errors.Is(err, state.ErrNotEmpty) {
		t.Fatalf("second Restore: %v, want ErrNotEmpty", err)
	}
	db2, err := state.Open(to)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if _, _, err := db2.Login("admin", "a-long-password", time.Now(), time.Hour); err != nil {
		t.Fatalf("login on the restored store: %v", err)
	}

	notBolt := filepath.Join(t.TempDir(), "text.db")
	os.WriteFile(notBolt, []byte(strings.Repeat("not a database\n", 1000)), 0o600)
	if _, err := state.Verify(notBolt); err == nil || !strings.Contains(err.Error(), "not a readable state file") {
		t.Errorf("Verify of a text file: %v", err)
	}
	other := filepath.Join(t.TempDir(), "other.db")
	b, _ := bolt.Open(other, 0o600, nil)
	b.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("something")); return err })
	b.Close()
	if _, err := state.Verify(other); err == nil || !strings.Contains(err.Error(), "not an anxin state file") {
		t.Errorf("Verify of another program's bbolt file: %v", err)
	}
}
