// Package version holds the build identity of the binary, stamped at link time:
//
//	go build -ldflags "-X github.com/appstrate/appstrate-go/internal/version.Version=v1.2.3 -X ...Commit=abc123"
package version

import (
	"runtime/debug"
	"sync"
)

// Version and Commit are set by the linker; they fall back to the module build info.
var (
	Version = ""
	Commit  = ""
)

var fill sync.Once

// Get returns the version and commit of this binary, never empty strings.
func Get() (version, commit string) {
	fill.Do(func() {
		info, ok := debug.ReadBuildInfo()
		if Version == "" {
			Version = "dev"
			if ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
				Version = info.Main.Version
			}
		}
		if Commit == "" {
			Commit = "unknown"
			if ok {
				for _, s := range info.Settings {
					if s.Key == "vcs.revision" && len(s.Value) >= 7 {
						Commit = s.Value[:7]
					}
				}
			}
		}
	})
	return Version, Commit
}
