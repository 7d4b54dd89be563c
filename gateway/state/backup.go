package state

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/anxin-care/anxin/internal/durable"
)

// FileName is the state file's name in the data directory.
const FileName = "anxin.db"

// ErrNotEmpty refuses a restore into a data directory that has a state file.
var ErrNotEmpty = errors.New("data directory already has a state file")

// Backup writes a consistent snapshot of the state file to w and returns
// its size. It is one read transaction: alarms go on being written while it
// runs, and the snapshot holds every write committed before it began. A
// state in PostgreSQL is ErrNotSupported: back it up with pg_dump.
func (db *DB) Backup(w io.Writer) (int64, error) { return db.kv.backup(w) }

// SnapshotInfo is what Verify found in a state file.
type SnapshotInfo struct {
	SchemaVersion int
	Alarms        int // alarms kept, open or closed
	OpenAlarms    int
	Devices       int
	Users         int
}

// Verify checks that path is a whole anxin state file this version can
// open: bbolt's own page check finds nothing, and its schema is not newer
// than SchemaVersion. It opens the file read-only and changes nothing.
func Verify(path string) (SnapshotInfo, error) {
	var info SnapshotInfo
	if _, err := os.Stat(path); err != nil {
		return info, err
	}
	b, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: openTimeout})
	if err != nil {
		return info, fmt.Errorf("%s is not a readable state file: %w", path, err)
	}
	defer b.Close()
	err = b.View(func(tx *bolt.Tx) error {
		for e := range tx.Check() {
			return fmt.Errorf("%s is damaged: %w", path, e)
		}
		v, err := schemaVersion(tx)
		if err != nil {
			return err
		}
		if v > SchemaVersion {
			return fmt.Errorf("%w: %s is version %d, this anxin knows versions up to %d", ErrNewerSchema, path, v, SchemaVersion)
		}
		info.SchemaVersion = v
		count := func(name Bucket) int {
			if bk := bucket(tx, name); bk != nil {
				return bk.Stats().KeyN
			}
			return 0
		}
		info.Alarms, info.OpenAlarms, info.Devices, info.Users = count(bucketAlarms), count(bucketOpen), count(Devices), count(bucketUsers)
		if bucket(tx, bucketAlarms) == nil || bucket(tx, bucketUsers) == nil {
			return fmt.Errorf("%s is a bbolt file but not an anxin state file (no alarms or users bucket)", path)
		}
		return nil
	})
	return info, err
}

// Restore puts the snapshot at src into dir as its state file, after
// Verify. dir must not hold a state file already (ErrNotEmpty): a restore
// never overwrites. The copy is synced before it gets its final name, so a
// crash during a restore leaves no half a state file behind.
func Restore(src, dir string) (SnapshotInfo, error) {
	info, err := Verify(src)
	if err != nil {
		return info, err
	}
	dst := filepath.Join(dir, FileName)
	if _, err := os.Stat(dst); err == nil {
		return info, fmt.Errorf("%w: %s (restore into an empty data directory)", ErrNotEmpty, dst)
	} else if !errors.Is(err, os.ErrNotExist) {
		return info, err
	}
	if err := durable.MkdirAll(dir, 0o750); err != nil {
		return info, fmt.Errorf("data directory %s: %w", dir, err)
	}
	in, err := os.Open(src)
	if err != nil {
		return info, err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(dir, FileName+".restore-*")
	if err != nil {
		return info, err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return info, fmt.Errorf("copy %s: %w", src, err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return info, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return info, err
	}
	if err := tmp.Close(); err != nil {
		return info, err
	}
	if err := os.Link(tmp.Name(), dst); err != nil { // fails, never replaces, if dst appeared meanwhile
		if errors.Is(err, os.ErrExist) {
			return info, fmt.Errorf("%w: %s", ErrNotEmpty, dst)
		}
		return info, err
	}
	if err := durable.SyncDir(dir); err != nil {
		return info, err
	}
	return info, nil
}

// BackupName is a file name for a snapshot taken at t.
func BackupName(t time.Time) string {
	return "anxin-state-" + t.UTC().Format("20060102T150405Z") + ".db"
}
