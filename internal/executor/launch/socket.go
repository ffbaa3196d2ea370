package launch

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
)

// maxSocketPath is the longest unix socket path that binds everywhere (sun_path is 108 bytes on Linux,
// 104 on BSDs, including the terminating NUL).
const maxSocketPath = 100

// SocketPath returns where the socket name of the run directory dir lives: inside dir when the path is short
// enough to bind, else in the system's temporary directory under a name derived from dir (deep data
// directories are common). The caller removes it with the run.
func SocketPath(dir, name string) string {
	p := filepath.Join(dir, name)
	if len(p) <= maxSocketPath {
		return p
	}
	sum := sha256.Sum256([]byte(dir))
	return filepath.Join(os.TempDir(), "appstrate-"+hex.EncodeToString(sum[:8])+"-"+name)
}
