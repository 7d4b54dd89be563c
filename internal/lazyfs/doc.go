// Package lazyfs is a FUSE file system for tests that simulates a power
// cut: it loses what a program wrote but did not sync, as the Jepsen
// project's LazyFS does. kill -9 of a process leaves the kernel's page
// cache intact, so it proves "written before the answer", not "synced
// before the answer"; a test that mounts lazyfs under a data directory and
// calls Crash after the kill proves the second.
//
// Every operation passes through to a backing directory at once, so the
// program under test reads what it wrote. What is not yet durable is kept
// in a journal instead, with what it replaced:
//
//   - a write or a change of size is durable once its file is synced
//     (fsync or fdatasync of any descriptor of the file);
//   - a create, mkdir, link, unlink, rmdir or rename is durable once the
//     directory that holds the name is synced (for a rename, the
//     directory of the new name); a program that creates a file, syncs it
//     and never syncs the directory can lose the whole file. This is
//     POSIX's promise, stricter than ext4's in its default mode.
//
// Crash unmounts the file system (the program must have exited: the test
// kills it first), undoes every journal entry that is not durable, newest
// first, and mounts it again. With Torn, a random part of the lost writes
// is then put back, each cut into 512-byte sectors of which a random
// subset reaches the disk, as a real disk may persist some of its queued
// writes and not others; names are always lost whole.
//
// The process that mounts an FS serves it, so it must not map a file of
// the mount (bbolt does): a page fault there waits for the server, which
// waits for the memory lock the fault holds, and neither can be killed.
// Run the program under test as a child process, and read what a crash
// left through Backing, which is the disk after it.
//
// Mount needs root (for a direct mount, without fusermount) and
// /dev/fuse; Available says whether this machine has them. An FS is safe
// for concurrent use: its operations are serialised by one lock, which is
// fine for a test and keeps each write and the record of what it replaced
// together.
package lazyfs
