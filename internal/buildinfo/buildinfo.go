// Package buildinfo says which build of anxin is running, for the
// commands' --version and the gateway's anxin_build_info metric.
//
// A release build sets the version and revision at link time
// (scripts/package.sh does):
//
//	go build -ldflags "-X github.com/anxin-care/anxin/internal/buildinfo.version=1.2.0
//	  -X github.com/anxin-care/anxin/internal/buildinfo.revision=$(git rev-parse HEAD)"
//
// Without them, Get falls back to what the go command recorded in the
// binary: the main module's version (v1.2.0 for `go install …@v1.2.0`,
// "devel" for a build from a checkout) and the VCS revision (absent when
// built with -buildvcs=false).
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
)

// Set by -ldflags -X; empty otherwise.
var version, revision string

// Devel and Unknown stand for a version or revision nobody recorded.
const (
	Devel   = "devel"
	Unknown = "unknown"
)

// Info is one build.
type Info struct {
	Version   string // "1.2.0", "v1.2.0" or Devel
	Revision  string // the commit, or Unknown
	GoVersion string // "go1.26.8"
}

// Get returns this binary's build.
func Get() Info {
	return get(version, revision, debug.ReadBuildInfo)
}

func get(version, revision string, read func() (*debug.BuildInfo, bool)) Info {
	i := Info{Version: version, Revision: revision, GoVersion: runtime.Version()}
	if bi, ok := read(); ok {
		i.GoVersion = bi.GoVersion
		if i.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			i.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && i.Revision == "" {
				i.Revision = s.Value
			}
		}
	}
	if i.Version == "" {
		i.Version = Devel
	}
	if i.Revision == "" {
		i.Revision = Unknown
	}
	return i
}

// Line is what `PROGRAM --version` prints:
// "anxin 1.2.0 (revision 0123abc…, go1.26.8 linux/arm64)".
func (i Info) Line(program string) string {
	return fmt.Sprintf("%s %s (revision %s, %s %s/%s)", program, i.Version, i.Revision, i.GoVersion, runtime.GOOS, runtime.GOARCH)
}

// IsVersionFlag reports whether args ask for the version and nothing else:
// "--version", "-version" or "version".
func IsVersionFlag(args []string) bool {
	return len(args) == 1 && slices.Contains([]string{"--version", "-version", "version"}, args[0])
}
