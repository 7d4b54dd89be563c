package lazyfs_test

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/anxin-care/anxin/internal/lazyfs"
)

func write(t *testing.T, path, content string, sync bool) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func syncDir(t *testing.T, dir string) {
	t.Helper()
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
}

// read returns the file's content, or "(none)" when it does not exist.
func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return "(none)"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCrashKeepsOnlyWhatWasSynced: after a crash a file holds what was
// synced, a name exists only if its directory was synced after it was made,
// removed or moved.
func TestCrashKeepsOnlyWhatWasSynced(t *testing.T) {
	tests := []struct {
		name string
		do   func(t *testing.T, dir string)
		want map[string]string
	}{
		{"unsynced file and name: gone", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "a"), "hello", false)
		}, map[string]string{"a": "(none)"}},
		{"synced file, unsynced directory: gone", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "a"), "hello", true)
		}, map[string]string{"a": "(none)"}},
		{"synced directory, unsynced file: empty", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "a"), "hello", false)
			syncDir(t, dir)
		}, map[string]string{"a": ""}},
		{"both synced: kept", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "a"), "hello", true)
			syncDir(t, dir)
		}, map[string]string{"a": "hello"}},
		{"overwrite after sync: old content", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "a"), "hello", true)
			syncDir(t, dir)
			f, err := os.OpenFile(filepath.Join(dir, "a"), os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteAt([]byte("J"), 0)
			f.WriteString("more and more") // grows the file past its synced size
			f.Close()
		}, map[string]string{"a": "hello"}},
		{"truncate unsynced: old content", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "a"), "hello", true)
			syncDir(t, dir)
			if err := os.Truncate(filepath.Join(dir, "a"), 2); err != nil {
				t.Fatal(err)
			}
		}, map[string]string{"a": "hello"}},
		{"rename unsynced: old name", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "a"), "new", true)
			write(t, filepath.Join(dir, "b"), "old", true)
			syncDir(t, dir)
			if err := os.Rename(filepath.Join(dir, "a"), filepath.Join(dir, "b")); err != nil {
				t.Fatal(err)
			}
		}, map[string]string{"a": "new", "b": "old"}},
		{"rename synced: new name", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "a"), "new", true)
			write(t, filepath.Join(dir, "b"), "old", true)
			syncDir(t, dir)
			if err := os.Rename(filepath.Join(dir, "a"), filepath.Join(dir, "b")); err != nil {
				t.Fatal(err)
			}
			syncDir(t, dir)
		}, map[string]string{"a": "(none)", "b": "new"}},
		{"write, then rename synced, write unsynced under the new name", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "a"), "one", true)
			if err := os.Rename(filepath.Join(dir, "a"), filepath.Join(dir, "b")); err != nil {
				t.Fatal(err)
			}
			syncDir(t, dir)
			f, err := os.OpenFile(filepath.Join(dir, "b"), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString(" two")
			f.Close()
		}, map[string]string{"a": "(none)", "b": "one"}},
		{"unlink unsynced: still there", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "a"), "kept", true)
			syncDir(t, dir)
			if err := os.Remove(filepath.Join(dir, "a")); err != nil {
				t.Fatal(err)
			}
		}, map[string]string{"a": "kept"}},
		{"unlink synced: gone", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "a"), "kept", true)
			syncDir(t, dir)
			if err := os.Remove(filepath.Join(dir, "a")); err != nil {
				t.Fatal(err)
			}
			syncDir(t, dir)
		}, map[string]string{"a": "(none)"}},
		{"file in an unsynced new directory: gone", func(t *testing.T, dir string) {
			if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(dir, "sub", "a"), "x", true)
			syncDir(t, filepath.Join(dir, "sub"))
		}, map[string]string{"sub/a": "(none)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := lazyfs.MountTemp(t)
			tt.do(t, fsys.Dir)
			lost, err := fsys.Crash(nil)
			if err != nil {
				t.Fatal(err)
			}
			for name, want := range tt.want {
				if got := read(t, filepath.Join(fsys.Dir, name)); got != want {
					t.Errorf("%s after the crash: %q, want %q (%d operations lost)", name, got, want, lost)
				}
			}
		})
	}
}

// TestTornCrashKeepsSectorsOfLostWrites: with torn, each lost write comes
// back in part or not at all, sector by sector, never with bytes that were
// not written.
func TestTornCrashKeepsSectorsOfLostWrites(t *testing.T) {
	fsys := lazyfs.MountTemp(t)
	path := filepath.Join(fsys.Dir, "a")
	old := bytes.Repeat([]byte{'o'}, 8*512)
	write(t, path, string(old), true)
	syncDir(t, fsys.Dir)
	rng := rand.New(rand.NewPCG(1, 2))
	var mixed bool
	for round := range 20 {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteAt(bytes.Repeat([]byte{'n'}, 6*512), 256)
		f.Close()
		if _, err := fsys.Crash(rng); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(old) {
			t.Fatalf("round %d: %d bytes, want %d", round, len(got), len(old))
		}
		for s := 0; s < len(got); s += 512 {
			sec := got[s : s+512]
			if n := bytes.Count(sec, []byte{'n'}); n != 0 && !bytes.Equal(sec, expectNew(s)) {
				t.Fatalf("round %d: sector at %d is half new: %q", round, s, sec)
			}
		}
		if bytes.Contains(got, []byte{'n'}) && bytes.Count(got, []byte{'n'}) < 6*512 {
			mixed = true
		}
		write(t, path, string(old), true) // back to the old content, synced
	}
	if !mixed {
		t.Error("20 torn crashes never kept a part of a write")
	}
}

// expectNew is the sector at off once the test's write reached it whole.
func expectNew(off int) []byte {
	sec := make([]byte, 512)
	for i := range sec {
		if p := off + i; p >= 256 && p < 256+6*512 {
			sec[i] = 'n'
		} else {
			sec[i] = 'o'
		}
	}
	return sec
}

// TestFreezeStopsEveryOperationUntilCrash: after Freeze, the chosen
// operation waits and never happens; Crash fails it and drops the rest.
func TestFreezeStopsEveryOperationUntilCrash(t *testing.T) {
	fsys := lazyfs.MountTemp(t)
	path := filepath.Join(fsys.Dir, "a")
	write(t, path, "synced", true)
	syncDir(t, fsys.Dir)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("S"), 0); err != nil { // done, not synced
		t.Fatal(err)
	}
	fsys.Freeze(1)
	errc := make(chan error, 1)
	go func() {
		_, err := f.WriteAt([]byte("never"), 0)
		f.Close() // as the killed process's files close: Crash waits for it to unmount
		errc <- err
	}()
	for !fsys.Frozen() {
		select {
		case err := <-errc:
			t.Fatalf("the write after Freeze returned (%v) instead of waiting", err)
		case <-time.After(time.Millisecond):
		}
	}
	if _, err := fsys.Crash(nil); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err == nil {
		t.Error("the frozen write succeeded after the crash")
	}
	if got := read(t, path); got != "synced" {
		t.Errorf("after the crash: %q, want %q", got, "synced")
	}
}
