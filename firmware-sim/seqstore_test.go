package firmwaresim

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSeqStore(t *testing.T) {
	tests := []struct {
		name     string
		existing string // state file content, "" for none
		reserve  int
		presses  int
		wantLast uint64
		wantFile string // after the presses
		wantErr  bool
	}{
		{name: "fresh device starts at 1", reserve: 1, presses: 2, wantLast: 2, wantFile: `{"seq":2}`},
		{name: "continues after saved seq", existing: `{"seq":41}`, reserve: 1, presses: 1, wantLast: 42, wantFile: `{"seq":42}`},
		{name: "reservation written ahead", reserve: 100, presses: 3, wantLast: 3, wantFile: `{"seq":100}`},
		{name: "reservation renewed when used up", existing: `{"seq":10}`, reserve: 5, presses: 6, wantLast: 16, wantFile: `{"seq":20}`},
		{name: "corrupt state is refused, not reset", existing: `{"seq":`, reserve: 1, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "dev.json")
			if tt.existing != "" {
				if err := os.WriteFile(path, []byte(tt.existing), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			s, err := openSeqStore(path, tt.reserve)
			if (err != nil) != tt.wantErr {
				t.Fatalf("open: error = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			for range tt.presses {
				if _, err := s.next(); err != nil {
					t.Fatalf("next: %v", err)
				}
			}
			if s.current() != tt.wantLast {
				t.Errorf("last seq = %d, want %d", s.current(), tt.wantLast)
			}
			b, _ := os.ReadFile(path)
			if got := string(b); got != tt.wantFile+"\n" {
				t.Errorf("state file = %q, want %q", got, tt.wantFile)
			}
			if tmp, _ := filepath.Glob(path + ".*.tmp"); len(tmp) > 0 {
				t.Errorf("temporary files left behind: %v", tmp)
			}
		})
	}
}

func TestSeqStoreFailsBeforeHandingOutASeq(t *testing.T) {
	dir := t.TempDir()
	// The state path is a directory: every write fails.
	path := filepath.Join(dir, "dev.json")
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	s := &seqStore{path: path, reserve: 1}
	if _, err := s.next(); err == nil {
		t.Fatal("next succeeded although the seq could not be saved")
	}
	if s.current() != 0 {
		t.Errorf("a seq that was never saved was handed out: %d", s.current())
	}
}

func TestSeqStoreInMemory(t *testing.T) {
	s, err := openSeqStore("", 1)
	if err != nil {
		t.Fatal(err)
	}
	for want := uint64(1); want <= 3; want++ {
		if got, _ := s.next(); got != want {
			t.Errorf("seq = %d, want %d", got, want)
		}
	}
}
