package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/state"
)

// restore serves `anxin restore [-data-dir DIR] [-no-checksum] FILE`: a
// snapshot taken by `anxinctl backup` becomes the state file of an empty
// data directory. It checks FILE against FILE.sha256 and the file itself
// (state.Verify) first, and never overwrites a state file.
func restore(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("anxin restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", gateway.DefaultDataDir, "the empty data directory to restore into")
	noChecksum := fs.Bool("no-checksum", false, "restore a FILE that has no FILE.sha256 beside it")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: anxin restore [-data-dir DIR] [-no-checksum] FILE\n\n"+
			"Restore a snapshot taken by `anxinctl backup` into an empty data directory.\n"+
			"Stop nothing: restore into a new directory, then start anxin on it.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "anxin restore: name one backup FILE (try -h)")
		return 2
	}
	file := fs.Arg(0)
	if err := checkSum(file, *noChecksum); err != nil {
		fmt.Fprintln(stderr, "anxin restore:", err)
		return 1
	}
	if err := verifyApart(file); err != nil {
		fmt.Fprintln(stderr, "anxin restore:", err)
		return 1
	}
	info, err := state.Restore(file, *dataDir)
	if err != nil {
		fmt.Fprintln(stderr, "anxin restore:", err)
		return 1
	}
	fmt.Fprintf(stdout, "restored %s into %s: schema version %d, %d alarms (%d open), %d devices, %d users\n",
		file, *dataDir, info.SchemaVersion, info.Alarms, info.OpenAlarms, info.Devices, info.Users)
	return 0
}

// checkSum compares file with the checksum in file.sha256 (sha256sum's
// format, as anxinctl backup writes it).
func checkSum(file string, optional bool) error {
	b, err := os.ReadFile(file + ".sha256")
	if errors.Is(err, os.ErrNotExist) {
		if optional {
			return nil
		}
		return fmt.Errorf("%s.sha256 is missing: cannot tell whether %s is whole (restore anyway with -no-checksum)", file, file)
	}
	if err != nil {
		return err
	}
	want, _, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != strings.ToLower(want) {
		return fmt.Errorf("%s does not match its checksum (sha256 %s, %s.sha256 says %s): the copy is damaged", file, got, file, want)
	}
	return nil
}

// verifyCommand is the hidden sub-command verifyApart runs.
const verifyCommand = "__verify-state"

// verifyApart checks file with state.Verify in a child process. bbolt
// reads a damaged file by panicking, on a goroutine of its own that no
// recover reaches; apart, that panic is the child's exit status, and the
// restore says the file is damaged instead of dying with a stack.
func verifyApart(file string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	out, err := exec.Command(exe, verifyCommand, file).CombinedOutput()
	if err == nil {
		return nil
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		return err
	}
	msg := strings.TrimSpace(string(out))
	if first, _, ok := strings.Cut(msg, "\n"); ok {
		msg = first
	}
	msg = strings.TrimPrefix(msg, "panic: ")
	if strings.HasPrefix(msg, verifyCommand+": ") {
		return errors.New(strings.TrimPrefix(msg, verifyCommand+": "))
	}
	return fmt.Errorf("%s is damaged: %s", file, msg)
}

// verifyState is the child of verifyApart.
func verifyState(args []string, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, verifyCommand+": want one FILE")
		return 2
	}
	if _, err := state.Verify(args[0]); err != nil {
		fmt.Fprintln(stderr, verifyCommand+":", err)
		return 1
	}
	return 0
}
