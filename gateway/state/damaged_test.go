package state_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anxin-care/anxin/gateway/state"
)

// TestOpenRefusesDamagedFile: a state file with a damaged page, or cut
// short, is refused by Open with ErrDamaged and the way back (anxin
// restore), never a panic; bbolt's own rebuild of the free list would
// panic where no one can recover it.
func TestOpenRefusesDamagedFile(t *testing.T) {
	dir := t.TempDir()
	db, err := state.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *state.Tx) error {
		for i := range 400 {
			if err := tx.PutJSON(state.Devices, fmt.Sprintf("dev-%04d", i), map[string]string{"pad": strings.Repeat("x", i)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	whole, err := os.ReadFile(filepath.Join(dir, state.FileName))
	if err != nil {
		t.Fatal(err)
	}
	const page = 4096
	// Keep only the pages in use (the meta pages' high-water mark, at byte
	// 56 of each): the rest is room bbolt allocated ahead, and copying
	// 16 MB for every case would make the test slow.
	hwm := max(binary.LittleEndian.Uint64(whole[56:]), binary.LittleEndian.Uint64(whole[page+56:]))
	whole = whole[:hwm*page]
	open := func(b []byte) (err error) {
		d := t.TempDir()
		if err := os.WriteFile(filepath.Join(d, state.FileName), b, 0o600); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		db, err := state.Open(d)
		if err == nil {
			db.Close()
		}
		return err
	}
	refused := 0
	for p := 2; p < 40 && (p+1)*page <= len(whole); p++ {
		b := append([]byte(nil), whole...)
		for i := p * page; i < (p+1)*page; i++ {
			b[i] = 0xa5
		}
		err := open(b)
		switch {
		case err == nil: // a free page: nothing lost
		case errors.Is(err, state.ErrDamaged) && strings.Contains(err.Error(), "anxin restore"):
			refused++
		default:
			t.Errorf("page %d overwritten: %v, want ErrDamaged naming anxin restore", p, err)
		}
	}
	if refused == 0 {
		t.Error("no overwritten page was refused: the test damaged nothing that matters")
	}
	if err := open(whole[:3*page]); !errors.Is(err, state.ErrDamaged) {
		t.Errorf("file cut to 3 pages: %v, want ErrDamaged", err)
	}
}
