package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestGet(t *testing.T) {
	recorded := func(version string, settings ...debug.BuildSetting) func() (*debug.BuildInfo, bool) {
		return func() (*debug.BuildInfo, bool) {
			return &debug.BuildInfo{GoVersion: "go1.99.1", Main: debug.Module{Path: "github.com/anxin-care/anxin", Version: version}, Settings: settings}, true
		}
	}
	rev := debug.BuildSetting{Key: "vcs.revision", Value: "0123abcd"}
	none := func() (*debug.BuildInfo, bool) { return nil, false }
	tests := []struct {
		name              string
		xVersion, xRev    string
		read              func() (*debug.BuildInfo, bool)
		version, revision string
	}{
		{"-X wins", "1.2.0", "feed", recorded("v1.1.0", rev), "1.2.0", "feed"},
		{"go install @version", "", "", recorded("v1.1.0"), "v1.1.0", Unknown},
		{"a checkout", "", "", recorded("(devel)", rev), Devel, "0123abcd"},
		{"nothing recorded", "", "", none, Devel, Unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i := get(tt.xVersion, tt.xRev, tt.read)
			if i.Version != tt.version || i.Revision != tt.revision || i.GoVersion == "" {
				t.Fatalf("get = %+v, want version %q revision %q", i, tt.version, tt.revision)
			}
		})
	}
}
