package durable_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/anxin-care/anxin/internal/durable"
	"github.com/anxin-care/anxin/internal/lazyfs"
)

// TestSurvivesPowerCut: what MkdirAll and WriteFile made is there after a
// power cut that drops everything not synced; a plain os.WriteFile is not.
func TestSurvivesPowerCut(t *testing.T) {
	fsys := lazyfs.MountTemp(t)
	dir := filepath.Join(fsys.Dir, "a", "b")
	if err := durable.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	kept, plain := filepath.Join(dir, "kept"), filepath.Join(dir, "plain")
	if err := durable.WriteFile(kept, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := durable.WriteFile(kept, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(plain, []byte("lost"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := fsys.Crash(nil); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(kept); err != nil || string(b) != "new" {
		t.Errorf("durable.WriteFile's file after a power cut: %q, %v; want %q", b, err, "new")
	}
	if _, err := os.Stat(plain); !os.IsNotExist(err) {
		t.Errorf("os.WriteFile's file after a power cut: %v, want it gone (the test would prove nothing)", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("%d names in %s after the power cut, want only kept (no temporary file left)", len(entries), dir)
	}
}
