package ctl

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/anxin-care/anxin/internal/durable"
)

// backupPattern matches the names backup gives the snapshots it writes
// into a directory (state.BackupName).
const backupPattern = "anxin-state-*.db"

func backupCommand() *command {
	return &command{name: "backup", args: "FILE|DIR [--keep N]", nargs: 1,
		summary: "save a consistent snapshot of the gateway's state, with its checksum",
		help: `Streams the state of the running gateway (alarms and timelines, devices and
their credentials, sites, residents, users, duty, adapters' state) into FILE,
checks it against the checksum the gateway sent, and writes FILE.sha256 beside
it (sha256sum's format). With a directory, the file is named
anxin-state-<UTC time>.db; --keep N then removes all but the N newest such files.
Admins only; on the gateway's own machine the nightly timer uses the backup
token instead (ANXIN_TOKEN from the data directory's backup.token).
Restore with: anxin restore -data-dir EMPTY_DIR FILE`,
		setup: func(fs *flag.FlagSet) runFunc {
			keep := fs.Int("keep", 0, "with a directory: keep only the `N` newest snapshots (0: keep all)")
			return func(e *env, args []string) error {
				c, err := e.client()
				if err != nil {
					return err
				}
				path := args[0]
				dir := ""
				if fi, err := os.Stat(path); err == nil && fi.IsDir() {
					dir = path
					path = filepath.Join(dir, "anxin-state-"+time.Now().UTC().Format("20060102T150405Z")+".db")
				} else if *keep > 0 {
					return errors.New("--keep needs a directory, not a file")
				}
				tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".part-*")
				if err != nil {
					return err
				}
				defer os.Remove(tmp.Name())
				n, sum, err := c.Backup(e.ctx, tmp)
				if err == nil {
					err = tmp.Sync()
				}
				if cerr := tmp.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					return err
				}
				if err := os.Rename(tmp.Name(), path); err != nil {
					return err
				}
				// The checksum's write syncs the directory, which makes the
				// snapshot's new name durable too: until then a power cut
				// may leave no snapshot, or one without its checksum, which
				// restore refuses.
				hexsum, _ := strings.CutPrefix(sum, "sha256=")
				if err := durable.WriteFile(path+".sha256", []byte(hexsum+"  "+filepath.Base(path)+"\n"), 0o600); err != nil {
					return err
				}
				e.printf("backup: %s (%d bytes, %s)\n", path, n, sum)
				if dir != "" && *keep > 0 {
					return pruneBackups(e, dir, *keep)
				}
				return nil
			}
		}}
}

// pruneBackups removes all but the keep newest snapshots in dir (their
// names sort by time) and their checksum files.
func pruneBackups(e *env, dir string, keep int) error {
	files, err := filepath.Glob(filepath.Join(dir, backupPattern))
	if err != nil {
		return err
	}
	slices.Sort(files)
	for len(files) > keep {
		old := files[0]
		files = files[1:]
		if err := os.Remove(old); err != nil {
			return fmt.Errorf("remove old backup: %w", err)
		}
		os.Remove(old + ".sha256")
		e.printf("removed old backup %s\n", old)
	}
	return nil
}
