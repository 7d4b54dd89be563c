package main

import (
	"bytes"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/anxin-care/anxin/gateway"
)

// TestEdgeExampleConfig: the Raspberry Pi guide's example config
// (deploy/pi/anxin-edge.example.yaml, which the .deb ships) passes
// `anxin check-config` as an installer runs it. The `edge:` section is the
// edge-box branch's (gateway/EDGE.md); on a tree without it the test says
// so and skips, and fails once the section exists and the example
// disagrees with it.
func TestEdgeExampleConfig(t *testing.T) {
	if _, ok := reflect.TypeFor[gateway.Config]().FieldByName("Edge"); !ok {
		t.Skip("gateway.Config has no edge section in this tree (it comes from the edge-box branch)")
	}
	example := filepath.Join("..", "..", "deploy", "pi", "anxin-edge.example.yaml")
	var stdout, stderr bytes.Buffer
	if code := checkConfig([]string{example}, &stdout, &stderr); code != 0 || stdout.String() != "ok: "+example+"\n" {
		t.Fatalf("anxin check-config %s: exit %d\n%s%s", example, code, stdout.String(), stderr.String())
	}
}
