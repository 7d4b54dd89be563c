package main

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckConfig runs `anxin check-config` the way an installer would:
// the shipped example passes; a file with mistakes exits 2 with one
// "FILE:LINE:COL: PATH: …" line per mistake and starts nothing.
func TestCheckConfig(t *testing.T) {
	bin := buildAt(t, ".")
	dir := t.TempDir()
	bad := filepath.Join(dir, "anxin.yaml")
	writeFile(t, bad, "# a comment\nmqtt_addr: \":1883\"\nlog_levle: info\nnotifiers:\n  webhooks:\n    county:\n      url: https://a.example/\n      secret_file: missing.secret\n")
	invalid := filepath.Join(dir, "invalid.yaml")
	writeFile(t, invalid, "notifiers:\n  webhooks:\n    county:\n      url: ftp://a.example/\n      secret: 0123456789abcdefgh\n")
	example := filepath.Join("..", "..", "deploy", "anxin.example.yaml")

	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   string
		errLines []string // prefixes of stderr's lines, in order
	}{
		{"the example", []string{"check-config", example}, 0, "ok: " + example + "\n", nil},
		{"mistakes in decoding", []string{"check-config", bad}, 2, "", []string{
			bad + ":3:1: log_levle: unknown field (did you mean log_level?)",
			bad + ":8:20: notifiers.webhooks.county.secret_file: open " + filepath.Join(dir, "missing.secret") + ": no such file or directory",
		}},
		{"a mistake Validate finds", []string{"check-config", invalid}, 2, "", []string{
			invalid + ":4:7: notifiers.webhooks.county: bad notifier config: webhook url: ",
		}},
		{"no such file", []string{"check-config", filepath.Join(dir, "nope.yaml")}, 2, "", []string{"config: open "}},
		{"no file named", []string{"check-config"}, 2, "", []string{"usage: anxin check-config FILE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bin, tt.args...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.code || stdout.String() != tt.stdout {
				t.Fatalf("exit %d, stdout %q; want %d, %q; stderr:\n%s", code, stdout.String(), tt.code, tt.stdout, stderr.String())
			}
			lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
			if len(tt.errLines) == 0 {
				lines = nil
				if stderr.Len() > 0 {
					t.Fatalf("stderr:\n%s", stderr.String())
				}
			}
			if len(lines) != len(tt.errLines) {
				t.Fatalf("stderr has %d lines, want %d:\n%s", len(lines), len(tt.errLines), stderr.String())
			}
			for i, want := range tt.errLines {
				if !strings.HasPrefix(lines[i], want) {
					t.Errorf("stderr line %d = %q, want it to start with %q", i+1, lines[i], want)
				}
			}
		})
	}
}
