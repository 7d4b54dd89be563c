package state_test

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anxin-care/anxin/gateway/state"
	"github.com/anxin-care/anxin/internal/lazyfs"
)

// The writer process of TestStorePowerCut: it commits transactions into
// the state file in $ANXIN_POWERCUT_WRITER until it is killed, printing
// the number of each once Update returned.
const writerEnv = "ANXIN_POWERCUT_WRITER"

// writerKeep: transaction i puts record i and deletes record i-writerKeep,
// so that the file both grows and reuses freed pages.
const writerKeep = 20

// storePowerCutRounds in the default run; ANXIN_POWERCUT_ROUNDS asks for
// more.
const storePowerCutRounds = 20

func TestPowerCutWriterProcess(t *testing.T) {
	dir := os.Getenv(writerEnv)
	if dir == "" {
		t.Skip("the writer of TestStorePowerCut; runs only as its child process")
	}
	db, err := state.Open(dir)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	var last int
	state.ForEach(db, state.Devices, func(key string, r *powerCutRecord) error {
		last = max(last, r.I)
		return nil
	})
	for i := last + 1; ; i++ {
		// Records from a few bytes to several pages, some of them overflow
		// pages, so that a transaction writes many pages and grows the file.
		pad := strings.Repeat("p", rand.N(24<<10))
		err := db.Update(func(tx *state.Tx) error {
			if err := tx.PutJSON(state.Devices, powerCutKey(i), powerCutRecord{I: i, Pad: pad}); err != nil {
				return err
			}
			return tx.Delete(state.Devices, powerCutKey(i-writerKeep))
		})
		if err != nil {
			fmt.Println("update:", err)
			os.Exit(1)
		}
		fmt.Println("committed", i)
	}
}

type powerCutRecord struct {
	I   int    `json:"i"`
	Pad string `json:"pad"`
}

func powerCutKey(i int) string { return fmt.Sprintf("pc-%08d", i) }

// TestStorePowerCut: a process commits transactions into the state file on
// lazyfs and is killed at a random moment of a write; what was not synced
// is dropped, the part of it that a disk may have written anyway comes
// back in torn sectors; and the store opens, bbolt's page check finds
// nothing, and it holds exactly the transactions up to the last one the
// writer saw committed, or one more (committed but not yet reported),
// never a part of one.
func TestStorePowerCut(t *testing.T) {
	if testing.Short() {
		t.Skip("runs and kills a child process on a FUSE mount; skipped with -short")
	}
	rounds := storePowerCutRounds
	if v := os.Getenv("ANXIN_POWERCUT_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("ANXIN_POWERCUT_ROUNDS=%q: want a number of rounds", v)
		}
		rounds = n
	}
	fsys := lazyfs.MountTemp(t)
	dir := filepath.Join(fsys.Dir, "data")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	var lostOps, txs, between int
	for round := 1; round <= rounds; round++ {
		reported, lost := runWriter(t, fsys, dir, rand.N(300*time.Millisecond), rng)
		lostOps += lost
		if lost > 0 {
			between++
		}
		// The check reads the backing directory, which is the disk after the
		// cut: bbolt maps its file, and a process that maps a file of its
		// own FUSE mount deadlocks on the first page fault.
		disk := filepath.Join(fsys.Backing, "data")
		if _, err := state.Verify(filepath.Join(disk, state.FileName)); err != nil {
			t.Fatalf("round %d: after a power cut %d transactions in: %v", round, reported, err)
		}
		db, err := state.Open(disk)
		if err != nil {
			t.Fatalf("round %d: the store does not open after a power cut: %v", round, err)
		}
		present := map[int]bool{}
		last := 0
		err = state.ForEach(db, state.Devices, func(key string, r *powerCutRecord) error {
			if key != powerCutKey(r.I) {
				return fmt.Errorf("record %s holds %d", key, r.I)
			}
			present[r.I] = true
			last = max(last, r.I)
			return nil
		})
		db.Close()
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if last < reported || last > reported+1 {
			t.Fatalf("round %d: the store's last transaction is %d; the writer saw %d committed", round, last, reported)
		}
		for i := max(1, last-writerKeep+1); i <= last; i++ {
			if !present[i] {
				t.Errorf("round %d: record %d of transaction %d is missing (last %d)", round, i, i, last)
			}
		}
		if len(present) != min(last, writerKeep) {
			t.Errorf("round %d: %d records, want %d: a deleted record is back", round, len(present), min(last, writerKeep))
		}
		txs = last
	}
	t.Logf("%d power cuts at a random operation of a write (%d of them between a write and its sync), %d unsynced operations dropped or torn in all; the store opened and checked whole every time, %d transactions in the end", rounds, between, lostOps, txs)
}

// runWriter runs the writer process and, about d after its first commit,
// cuts the power: lazyfs freezes at a random one of the next few hundred
// operations (a page write, a sync, an open), the writer is killed there
// and what was not synced is dropped, with torn sectors. It returns the
// last transaction the writer reported committed and how many operations
// the cut dropped.
func runWriter(t *testing.T, fsys *lazyfs.FS, dir string, d time.Duration, rng *rand.Rand) (reported, lost int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestPowerCutWriterProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), writerEnv+"="+dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	first := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			n, ok := strings.CutPrefix(sc.Text(), "committed ")
			if !ok {
				continue // the kill may cut a line
			}
			i, _ := strconv.Atoi(n)
			mu.Lock()
			if reported == 0 {
				close(first)
			}
			reported = i
			mu.Unlock()
		}
	}()
	select {
	case <-first:
	case <-done:
		cmd.Wait()
		t.Fatalf("the writer ended before its first commit: %s", stderr.String())
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("the writer committed nothing in 20 s: %s", stderr.String())
	}
	time.Sleep(d)
	fsys.Freeze(1 + rng.IntN(300))
	for deadline := time.Now().Add(5 * time.Second); !fsys.Frozen(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the writer did not reach the freeze point in 5 s")
		}
	}
	// The writer waits in the kernel for the frozen operation: the kill
	// takes effect once Crash lets that operation fail.
	cmd.Process.Kill()
	lost, err = fsys.Crash(rng)
	if err != nil {
		t.Fatalf("power cut: %v", err)
	}
	<-done // every commit it reported was synced before the freeze
	cmd.Wait()
	mu.Lock()
	defer mu.Unlock()
	return reported, lost
}
