package lazyfs

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Available reports why this machine cannot mount an FS, or nil when it
// can: a FUSE mount needs /dev/fuse and, for a direct mount, root.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("lazyfs needs root for a direct FUSE mount")
	}
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("lazyfs needs /dev/fuse: %w", err)
	}
	f.Close()
	return nil
}

// FS is a mounted lazyfs: Dir is where the program under test reads and
// writes, Backing where the bytes really are.
type FS struct {
	Dir, Backing string

	mu     sync.Mutex
	j      journal
	server *fuse.Server
	// Freeze's state: operations counted, the one that freezes, what the
	// frozen ones wait for; off while Crash runs.
	ops, freezeAt int
	frozen        chan struct{}
	blocked       int
	off           bool
}

// lock takes mu for one operation. It returns false, without mu, for an
// operation that must not happen because the power is off: it came after
// the point Freeze set, or while Crash runs.
func (f *FS) lock() bool {
	f.mu.Lock()
	if f.off {
		f.mu.Unlock()
		return false
	}
	if f.freezeAt == 0 {
		return true
	}
	f.ops++
	if f.ops < f.freezeAt {
		return true
	}
	ch := f.frozen
	f.blocked++
	f.mu.Unlock()
	<-ch
	return false
}

// Freeze makes the n-th operation from now on (a write, a sync, a change
// of a name or size, an open) and every one after it wait, never done,
// until Crash: the moment the power fails falls exactly there, for
// instance between a transaction's page writes and its sync.
func (f *FS) Freeze(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops, f.freezeAt = 0, max(n, 1)
	f.frozen = make(chan struct{})
}

// Frozen reports whether an operation waits at the point Freeze set.
func (f *FS) Frozen() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.blocked > 0
}

// Mount mounts a lazyfs of backing at dir. Both must exist. Removed files
// are kept until their removal is durable in a hidden directory made
// beside backing (a rename must reach it), removed by Unmount.
func Mount(dir, backing string) (*FS, error) {
	backing, err := filepath.Abs(backing)
	if err != nil {
		return nil, err
	}
	trash, err := os.MkdirTemp(filepath.Dir(backing), "."+filepath.Base(backing)+".lazyfs-trash-")
	if err != nil {
		return nil, fmt.Errorf("lazyfs trash: %w", err)
	}
	f := &FS{Dir: dir, Backing: backing, j: journal{trash: trash}}
	if err := f.mount(); err != nil {
		os.RemoveAll(trash)
		return nil, err
	}
	return f, nil
}

func (f *FS) mount() error {
	root := &fs.LoopbackRoot{Path: f.Backing}
	var st syscall.Stat_t
	if err := syscall.Stat(f.Backing, &st); err != nil {
		return fmt.Errorf("lazyfs backing: %w", err)
	}
	root.Dev = uint64(st.Dev)
	root.NewNode = func(r *fs.LoopbackRoot, _ *fs.Inode, _ string, _ *syscall.Stat_t) fs.InodeEmbedder {
		return &node{LoopbackNode: fs.LoopbackNode{RootData: r}, fs: f}
	}
	root.RootNode = root.NewNode(root, nil, "", &st)
	// No kernel caching of names or attributes past an operation: what the
	// program sees is what the backing directory holds.
	zero := time.Duration(0)
	server, err := fs.Mount(f.Dir, root.RootNode, &fs.Options{
		MountOptions: fuse.MountOptions{
			DirectMount: true,
			// No invalidation of cached data when a file's size or mtime
			// changes: they change only through this mount (see Open).
			ExplicitDataCacheControl: true,
			FsName:                   "lazyfs",
			Name:                     "lazyfs",
		},
		EntryTimeout: &zero, AttrTimeout: &zero, NegativeTimeout: &zero,
	})
	if err != nil {
		return fmt.Errorf("lazyfs mount at %s: %w", f.Dir, err)
	}
	f.server = server
	return nil
}

// Pending is how many operations are not durable yet.
func (f *FS) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.j.entries)
}

// Crash simulates a power cut: it unmounts the file system, undoes every
// operation that was not durable and mounts it again. With torn set, a
// random part of the lost writes reaches the disk after all, in 512-byte
// sectors (see the package comment). Every process that had a file open on
// the mount must have exited. It returns how many operations were lost.
func (f *FS) Crash(torn *rand.Rand) (int, error) {
	f.mu.Lock()
	f.off = true
	if f.frozen != nil {
		close(f.frozen)
	}
	f.frozen, f.freezeAt, f.blocked = nil, 0, 0
	f.mu.Unlock()
	if err := f.unmount(); err != nil {
		return 0, err
	}
	f.mu.Lock()
	n, err := f.j.crash(torn)
	f.off = false
	f.mu.Unlock()
	if err != nil {
		return n, err
	}
	return n, f.mount()
}

// Unmount unmounts the file system, keeping what the backing directory
// has (everything written, durable or not).
func (f *FS) Unmount() error {
	err := f.unmount()
	if err != nil {
		// A process still holds the mount (a test that failed half way):
		// detach it, so that no dead mount outlives the test.
		syscall.Unmount(f.Dir, syscall.MNT_DETACH)
	}
	os.RemoveAll(f.j.trash)
	return err
}

func (f *FS) unmount() error {
	if f.server == nil {
		return nil
	}
	var err error
	// A process that just exited may still hold the mount for a moment.
	for range 50 {
		if err = f.server.Unmount(); err == nil {
			f.server.Wait()
			f.server = nil
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("lazyfs unmount %s: %w", f.Dir, err)
}

// record adds e to the journal; the caller holds f.mu.
func (f *FS) record(e *entry) {
	f.j.entries = append(f.j.entries, e)
}

// node is a loopback node whose changes are journalled.
type node struct {
	fs.LoopbackNode
	fs *FS
}

var (
	_ fs.NodeCreater        = (*node)(nil)
	_ fs.NodeOpener         = (*node)(nil)
	_ fs.NodeMkdirer        = (*node)(nil)
	_ fs.NodeMknoder        = (*node)(nil)
	_ fs.NodeSymlinker      = (*node)(nil)
	_ fs.NodeLinker         = (*node)(nil)
	_ fs.NodeUnlinker       = (*node)(nil)
	_ fs.NodeRmdirer        = (*node)(nil)
	_ fs.NodeRenamer        = (*node)(nil)
	_ fs.NodeSetattrer      = (*node)(nil)
	_ fs.NodeFsyncer        = (*node)(nil)
	_ fs.NodeOpendirHandler = (*node)(nil)
	_ fs.NodeCopyFileRanger = (*node)(nil)
)

// backing is the node's path in the backing directory.
func (n *node) backing() string {
	return filepath.Join(n.RootData.Path, n.Path(nil))
}

func (n *node) child(name string) string { return filepath.Join(n.backing(), name) }

func (n *node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	if !n.fs.lock() {
		return nil, nil, 0, syscall.EIO
	}
	defer n.fs.mu.Unlock()
	p := n.child(name)
	_, statErr := os.Lstat(p)
	if statErr == nil && flags&syscall.O_TRUNC != 0 {
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			return nil, nil, 0, fs.ToErrno(err)
		}
		errno := n.fs.truncate(f, p, 0)
		f.Close()
		if errno != 0 {
			return nil, nil, 0, errno
		}
		flags &^= syscall.O_TRUNC
	}
	ch, fh, fl, errno := n.LoopbackNode.Create(ctx, name, flags, mode, out)
	if errno != 0 {
		return ch, fh, fl, errno
	}
	fh.(fs.FileReleaser).Release(ctx)
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return nil, nil, 0, fs.ToErrno(err)
	}
	if errors.Is(statErr, os.ErrNotExist) {
		n.fs.record(&entry{kind: kCreate, path: p})
	}
	return ch, &file{f: f, lf: fs.NewLoopbackFileFromOS(f), n: ch.Operations().(*node)}, fl, 0
}

func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if !n.fs.lock() {
		return nil, 0, syscall.EIO
	}
	defer n.fs.mu.Unlock()
	p := n.backing()
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return nil, 0, fs.ToErrno(err)
	}
	if flags&syscall.O_TRUNC != 0 {
		if errno := n.fs.truncate(f, p, 0); errno != 0 {
			f.Close()
			return nil, 0, errno
		}
	}
	// Keep the kernel's page cache across opens: every change reaches the
	// backing file through this mount, so the cache is never stale, and
	// dropping it at each open (bbolt's Tx.WriteTo opens the file again
	// for a backup while its writer runs) races with the writer's pages
	// in an mmapped file.
	return &file{f: f, lf: fs.NewLoopbackFileFromOS(f), n: n}, fuse.FOPEN_KEEP_CACHE, 0
}

// created journals a new name after op made it.
func (n *node) created(name string, op func() (*fs.Inode, syscall.Errno)) (*fs.Inode, syscall.Errno) {
	if !n.fs.lock() {
		return nil, syscall.EIO
	}
	defer n.fs.mu.Unlock()
	ch, errno := op()
	if errno == 0 {
		n.fs.record(&entry{kind: kCreate, path: n.child(name)})
	}
	return ch, errno
}

func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return n.created(name, func() (*fs.Inode, syscall.Errno) { return n.LoopbackNode.Mkdir(ctx, name, mode, out) })
}

func (n *node) Mknod(ctx context.Context, name string, mode, rdev uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return n.created(name, func() (*fs.Inode, syscall.Errno) { return n.LoopbackNode.Mknod(ctx, name, mode, rdev, out) })
}

func (n *node) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return n.created(name, func() (*fs.Inode, syscall.Errno) { return n.LoopbackNode.Symlink(ctx, target, name, out) })
}

func (n *node) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return n.created(name, func() (*fs.Inode, syscall.Errno) { return n.LoopbackNode.Link(ctx, target, name, out) })
}

// remove moves the name into the trash, where undo finds it again.
func (n *node) remove(name string, dir bool) syscall.Errno {
	if !n.fs.lock() {
		return syscall.EIO
	}
	defer n.fs.mu.Unlock()
	p := n.child(name)
	st, err := os.Lstat(p)
	if err != nil {
		return fs.ToErrno(err)
	}
	switch {
	case dir && !st.IsDir():
		return syscall.ENOTDIR
	case !dir && st.IsDir():
		return syscall.EISDIR
	case dir:
		if es, err := os.ReadDir(p); err != nil {
			return fs.ToErrno(err)
		} else if len(es) > 0 {
			return syscall.ENOTEMPTY
		}
	}
	trash := n.fs.j.newTrash()
	if err := os.Rename(p, trash); err != nil {
		return fs.ToErrno(err)
	}
	n.fs.record(&entry{kind: kRemove, path: p, trash: trash})
	return 0
}

func (n *node) Unlink(ctx context.Context, name string) syscall.Errno { return n.remove(name, false) }
func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno  { return n.remove(name, true) }

func (n *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	np, ok := newParent.(*node)
	if !ok {
		return syscall.EXDEV
	}
	const noReplace = 1 // RENAME_NOREPLACE
	if flags&^noReplace != 0 {
		return syscall.ENOTSUP
	}
	if !n.fs.lock() {
		return syscall.EIO
	}
	defer n.fs.mu.Unlock()
	from, to := n.child(name), np.child(newName)
	if _, err := os.Lstat(from); err != nil {
		return fs.ToErrno(err)
	}
	var trash string
	if _, err := os.Lstat(to); err == nil {
		if flags&noReplace != 0 {
			return syscall.EEXIST
		}
		trash = n.fs.j.newTrash()
		if err := os.Rename(to, trash); err != nil {
			return fs.ToErrno(err)
		}
	}
	if err := os.Rename(from, to); err != nil {
		if trash != "" {
			os.Rename(trash, to)
		}
		return fs.ToErrno(err)
	}
	n.fs.record(&entry{kind: kRename, path: from, to: to, trash: trash})
	return 0
}

func (n *node) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if sz, ok := in.GetSize(); ok {
		if !n.fs.lock() {
			return syscall.EIO
		}
		f, err := os.OpenFile(n.backing(), os.O_RDWR, 0)
		if err != nil {
			n.fs.mu.Unlock()
			return fs.ToErrno(err)
		}
		errno := n.fs.truncate(f, n.backing(), int64(sz))
		f.Close()
		n.fs.mu.Unlock()
		if errno != 0 {
			return errno
		}
	}
	if lf, ok := fh.(*file); ok {
		fh = lf.lf
	}
	return n.LoopbackNode.Setattr(ctx, fh, in, out)
}

// truncate journals and makes a change of f's size; the caller holds mu.
func (f *FS) truncate(file *os.File, path string, size int64) syscall.Errno {
	var st syscall.Stat_t
	if err := syscall.Fstat(int(file.Fd()), &st); err != nil {
		return fs.ToErrno(err)
	}
	e := &entry{kind: kSize, ino: st.Ino, path: path, size: st.Size, off: size}
	if size < st.Size {
		e.old = make([]byte, st.Size-size)
		if _, err := file.ReadAt(e.old, size); err != nil {
			return fs.ToErrno(err)
		}
	}
	if err := file.Truncate(size); err != nil {
		return fs.ToErrno(err)
	}
	f.record(e)
	return 0
}

// Fsync makes a file's writes durable, or, for a directory (whose handle
// has no Fsyncdir of its own here), the names in it.
func (n *node) Fsync(ctx context.Context, fh fs.FileHandle, flags uint32) syscall.Errno {
	if !n.fs.lock() {
		return syscall.EIO
	}
	defer n.fs.mu.Unlock()
	p := n.backing()
	if lf, ok := fh.(*file); ok {
		if err := lf.f.Sync(); err != nil {
			return fs.ToErrno(err)
		}
		var st syscall.Stat_t
		if err := syscall.Fstat(int(lf.f.Fd()), &st); err != nil {
			return fs.ToErrno(err)
		}
		n.fs.j.syncFile(st.Ino)
		return 0
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		return fs.ToErrno(err)
	}
	if st.Mode&syscall.S_IFMT == syscall.S_IFDIR {
		n.fs.j.syncDir(p)
	} else {
		n.fs.j.syncFile(st.Ino)
	}
	return 0
}

func (n *node) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	ds, errno := fs.NewLoopbackDirStream(n.backing())
	if errno != 0 {
		return nil, 0, errno
	}
	return &dir{ds: ds, n: n}, 0, 0
}

// CopyFileRange is refused, so that the kernel falls back to reads and
// writes, which are journalled.
func (n *node) CopyFileRange(ctx context.Context, fhIn fs.FileHandle, offIn uint64, out *fs.Inode, fhOut fs.FileHandle, offOut uint64, length uint64, flags uint64) (uint32, syscall.Errno) {
	return 0, syscall.ENOTSUP
}

// dir is an open directory; its fsync makes the names in it durable.
type dir struct {
	ds fs.DirStream
	n  *node
}

var (
	_ fs.FileReaddirenter = (*dir)(nil)
	_ fs.FileSeekdirer    = (*dir)(nil)
	_ fs.FileReleasedirer = (*dir)(nil)
	_ fs.FileFsyncdirer   = (*dir)(nil)
)

func (d *dir) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	if !d.ds.HasNext() {
		return nil, 0
	}
	e, errno := d.ds.Next()
	if errno != 0 {
		return nil, errno
	}
	return &e, 0
}

func (d *dir) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	if s, ok := d.ds.(fs.FileSeekdirer); ok {
		return s.Seekdir(ctx, off)
	}
	return syscall.ENOTSUP
}

func (d *dir) Releasedir(ctx context.Context, flags uint32) { d.ds.Close() }

func (d *dir) Fsyncdir(ctx context.Context, flags uint32) syscall.Errno {
	if !d.n.fs.lock() {
		return syscall.EIO
	}
	defer d.n.fs.mu.Unlock()
	d.n.fs.j.syncDir(d.n.backing())
	return 0
}

// file is an open regular file; its writes are journalled.
type file struct {
	f  *os.File
	lf *fs.LoopbackFile // for everything that changes nothing
	n  *node
}

var (
	_ fs.FileReader    = (*file)(nil)
	_ fs.FileWriter    = (*file)(nil)
	_ fs.FileReleaser  = (*file)(nil)
	_ fs.FileFlusher   = (*file)(nil)
	_ fs.FileGetattrer = (*file)(nil)
	_ fs.FileLseeker   = (*file)(nil)
	_ fs.FileGetlker   = (*file)(nil)
	_ fs.FileSetlker   = (*file)(nil)
	_ fs.FileSetlkwer  = (*file)(nil)
)

func (f *file) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	if !f.n.fs.lock() {
		return 0, syscall.EIO
	}
	defer f.n.fs.mu.Unlock()
	old, size, ino, err := readOld(f.f, off, len(data))
	if err != nil {
		return 0, fs.ToErrno(err)
	}
	n, err := f.f.WriteAt(data, off)
	if n > 0 {
		f.n.fs.record(&entry{kind: kWrite, ino: ino, path: f.n.backing(), off: off, old: old,
			data: append([]byte(nil), data[:n]...), size: size})
	}
	return uint32(n), fs.ToErrno(err)
}

func (f *file) Read(ctx context.Context, buf []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	return f.lf.Read(ctx, buf, off)
}
func (f *file) Release(ctx context.Context) syscall.Errno { return f.lf.Release(ctx) }
func (f *file) Flush(ctx context.Context) syscall.Errno   { return f.lf.Flush(ctx) }
func (f *file) Getattr(ctx context.Context, out *fuse.AttrOut) syscall.Errno {
	return f.lf.Getattr(ctx, out)
}
func (f *file) Lseek(ctx context.Context, off uint64, whence uint32) (uint64, syscall.Errno) {
	return f.lf.Lseek(ctx, off, whence)
}
func (f *file) Getlk(ctx context.Context, owner uint64, lk *fuse.FileLock, flags uint32, out *fuse.FileLock) syscall.Errno {
	return f.lf.Getlk(ctx, owner, lk, flags, out)
}
func (f *file) Setlk(ctx context.Context, owner uint64, lk *fuse.FileLock, flags uint32) syscall.Errno {
	return f.lf.Setlk(ctx, owner, lk, flags)
}
func (f *file) Setlkw(ctx context.Context, owner uint64, lk *fuse.FileLock, flags uint32) syscall.Errno {
	return f.lf.Setlkw(ctx, owner, lk, flags)
}
