package lazyfs

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// kind is what a journal entry undoes.
type kind int

const (
	kWrite  kind = iota // bytes written into a file
	kSize               // a file's size changed (truncate)
	kCreate             // a name created: file, directory, link, node
	kRemove             // a name removed: unlink or rmdir
	kRename             // a name moved
)

// entry is one operation that is not durable yet, with what it replaced.
type entry struct {
	kind kind
	// ino identifies the file of a kWrite or kSize: any descriptor of the
	// file makes it durable.
	ino uint64
	// path is the backing path: the file written, the name created or
	// removed, the old name of a rename.
	path string
	// to is a rename's new name.
	to string
	// trash keeps what a remove or rename took away (the removed thing, the
	// rename's replaced target) until the entry is durable.
	trash string
	off   int64
	old   []byte // kWrite: the bytes replaced; kSize: the bytes cut off
	data  []byte // kWrite: the bytes written (for Torn)
	size  int64  // kWrite, kSize: the file's size before
}

// dirOf is the directory whose sync makes a namespace entry durable.
func (e *entry) dirOf() string {
	if e.kind == kRename {
		return filepath.Dir(e.to)
	}
	return filepath.Dir(e.path)
}

// journal is every operation not durable yet, oldest first. The FS's lock
// guards it.
type journal struct {
	entries []*entry
	trash   string
	nTrash  int
}

// newTrash names a fresh place in the trash directory.
func (j *journal) newTrash() string {
	j.nTrash++
	return filepath.Join(j.trash, strconv.Itoa(j.nTrash))
}

// syncFile makes every write and size change of file ino durable.
func (j *journal) syncFile(ino uint64) {
	j.keep(func(e *entry) bool { return (e.kind == kWrite || e.kind == kSize) && e.ino == ino })
}

// syncDir makes every name created, removed or moved into dir durable.
func (j *journal) syncDir(dir string) {
	j.keep(func(e *entry) bool {
		return (e.kind == kCreate || e.kind == kRemove || e.kind == kRename) && e.dirOf() == dir
	})
}

// keep drops the entries durable says are durable now. A durable rename
// renames the paths of the older entries that are still undone, since
// undoing them happens after the rename is no longer undone.
func (j *journal) keep(durable func(*entry) bool) {
	out := j.entries[:0]
	for i, e := range j.entries {
		if !durable(e) {
			out = append(out, e)
			continue
		}
		if e.trash != "" {
			os.RemoveAll(e.trash)
		}
		if e.kind == kRename {
			for _, older := range j.entries[:i] {
				older.path = moved(older.path, e.path, e.to)
				older.to = moved(older.to, e.path, e.to)
			}
		}
	}
	clear(j.entries[len(out):])
	j.entries = out
}

// moved is p after from was renamed to to.
func moved(p, from, to string) string {
	if p == from {
		return to
	}
	if rest, ok := strings.CutPrefix(p, from+"/"); ok {
		return filepath.Join(to, rest)
	}
	return p
}

// crash undoes every entry, newest first, and then, with torn, writes a
// random part of the lost writes back, sector by sector. It returns how
// many entries it undid.
func (j *journal) crash(torn *rand.Rand) (int, error) {
	var errs []error
	for i := len(j.entries) - 1; i >= 0; i-- {
		if err := j.entries[i].undo(); err != nil {
			errs = append(errs, err)
		}
	}
	if torn != nil {
		for _, e := range j.entries {
			if e.kind == kWrite && torn.IntN(2) == 0 {
				tear(e, torn)
			}
		}
	}
	n := len(j.entries)
	j.entries = nil
	return n, errors.Join(errs...)
}

// sector is the unit a disk writes whole or not at all.
const sector = 512

// tear writes a random subset of e's sectors back, if its file is there.
func tear(e *entry, rng *rand.Rand) {
	f, err := os.OpenFile(e.path, os.O_WRONLY, 0)
	if err != nil {
		return
	}
	defer f.Close()
	for start := 0; start < len(e.data); {
		// Sectors are aligned to the file, not to the write.
		end := min(len(e.data), int((e.off+int64(start))/sector+1)*sector-int(e.off))
		if rng.IntN(2) == 0 {
			f.WriteAt(e.data[start:end], e.off+int64(start))
		}
		start = end
	}
}

// undo puts back what e changed. A file or name that is gone already (an
// older entry's target removed by a newer undone one) is not an error.
func (e *entry) undo() error {
	var err error
	switch e.kind {
	case kWrite, kSize:
		err = restoreFile(e.path, e.size, e.off, e.old)
	case kCreate:
		err = os.RemoveAll(e.path)
	case kRemove:
		err = os.Rename(e.trash, e.path)
	case kRename:
		if err = os.Rename(e.to, e.path); err == nil && e.trash != "" {
			err = os.Rename(e.trash, e.to)
		}
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("undo %s: %w", e.path, err)
	}
	return nil
}

// restoreFile gives the file at path size bytes again and old at off.
func restoreFile(path string, size, off int64, old []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return err
	}
	if len(old) > 0 {
		_, err = f.WriteAt(old, off)
	}
	return err
}

// readOld returns the bytes of f in [off, off+n) that lie within its
// current size, and that size: what a write there replaces.
func readOld(f *os.File, off int64, n int) ([]byte, int64, uint64, error) {
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return nil, 0, 0, err
	}
	if off >= st.Size {
		return nil, st.Size, st.Ino, nil
	}
	old := make([]byte, min(int64(n), st.Size-off))
	if _, err := f.ReadAt(old, off); err != nil && !errors.Is(err, io.EOF) {
		return nil, 0, 0, err
	}
	return old, st.Size, st.Ino, nil
}
