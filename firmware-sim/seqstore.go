package firmwaresim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// seqState is the state file's content. Seq is the highest seq that may
// have been published: the next boot continues at Seq+1.
type seqState struct {
	Seq uint64 `json:"seq"`
}

// seqStore hands out a device's event seqs. It persists a high-water mark
// before handing out any seq above the last one persisted, so a crash at any
// point never reuses a seq: at worst it skips the unused rest of a reservation.
type seqStore struct {
	path    string // "" keeps the counter in memory only
	reserve uint64

	mu       sync.Mutex
	last     uint64 // last seq handed out
	reserved uint64 // high-water mark on disk
}

func openSeqStore(path string, reserve int) (*seqStore, error) {
	s := &seqStore{path: path, reserve: uint64(max(reserve, 1))}
	if path == "" {
		return s, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read seq state: %w", err)
	}
	var st seqState
	if err := json.Unmarshal(b, &st); err != nil {
		// Starting again at 1 would reuse seqs the gateway has seen and
		// make it drop real alarms as repeats; refuse instead.
		return nil, fmt.Errorf("seq state %s is corrupt (fix or delete it): %w", path, err)
	}
	s.last, s.reserved = st.Seq, st.Seq
	return s, nil
}

// next returns the next seq, having made it durable first when needed.
func (s *seqStore) next() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seq := s.last + 1
	if s.path != "" && seq > s.reserved {
		mark := s.last + s.reserve
		if err := writeFileSync(s.path, seqState{Seq: mark}); err != nil {
			return 0, fmt.Errorf("persist seq %d: %w", seq, err)
		}
		s.reserved = mark
	}
	s.last = seq
	return seq, nil
}

// current returns the last seq handed out (0 before the first press).
func (s *seqStore) current() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// writeFileSync replaces path with v as JSON so that a crash leaves either
// the old or the new content: write a temporary file, fsync it, rename it
// over path, fsync the directory so that the rename itself is durable.
func writeFileSync(path string, v any) (err error) {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(append(b, '\n')); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
