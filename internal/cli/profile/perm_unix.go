//go:build unix

package profile

import (
	"fmt"
	"os"
	"syscall"
)

// checkOwnedMode verifies that fi has exactly mode want and belongs to the current user.
func checkOwnedMode(path string, fi os.FileInfo, want os.FileMode) error {
	if fi.Mode().Perm() != want {
		return fmt.Errorf("insecure permissions on %s: %#o (expected %o; fix with chmod %o %s)", path, fi.Mode().Perm(), want, want, path)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return fmt.Errorf("insecure ownership of %s: owned by uid %d, not by the current user (uid %d)", path, st.Uid, os.Getuid())
	}
	return nil
}
