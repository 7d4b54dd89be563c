package lazyfs

import (
	"os"
	"path/filepath"
	"testing"
)

// Need skips the test where this machine cannot mount lazyfs, and fails it
// under CI=true, where ./scripts/test.sh runs as root with /dev/fuse.
func Need(t testing.TB) {
	t.Helper()
	if err := Available(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v (CI=true: the power-cut tests must run, not skip)", err)
		}
		t.Skip(err)
	}
}

// MountTemp mounts a lazyfs over a fresh backing directory in the test's
// temporary directory and unmounts it when the test ends (after the
// cleanups registered later, such as killing a process that uses it).
func MountTemp(t testing.TB) *FS {
	t.Helper()
	Need(t)
	base := t.TempDir()
	dir, backing := filepath.Join(base, "mnt"), filepath.Join(base, "backing")
	for _, d := range []string{dir, backing} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	fsys, err := Mount(dir, backing)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := fsys.Unmount(); err != nil {
			t.Error(err)
		}
	})
	return fsys
}
