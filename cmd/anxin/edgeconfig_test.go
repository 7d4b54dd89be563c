package main

import (
	"bytes"
	"path/filepath"
	"testing"
)

// TestEdgeExampleConfig: the Raspberry Pi guide's example config
// (deploy/pi/anxin-edge.example.yaml, which the .deb ships) passes
// `anxin check-config` as an installer runs it.
func TestEdgeExampleConfig(t *testing.T) {
	example := filepath.Join("..", "..", "deploy", "pi", "anxin-edge.example.yaml")
	var stdout, stderr bytes.Buffer
	if code := checkConfig([]string{example}, &stdout, &stderr); code != 0 || stdout.String() != "ok: "+example+"\n" {
		t.Fatalf("anxin check-config %s: exit %d\n%s%s", example, code, stdout.String(), stderr.String())
	}
}
