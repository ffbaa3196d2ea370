package process

import (
	"log/slog"
	"time"

	"golang.org/x/sys/unix"

	"github.com/appstrate/appstrate-go/internal/executor"
	"github.com/appstrate/appstrate-go/internal/executor/launch"
)

// applyLimits sets the runner's rlimits right after it started (its children inherit them).
func applyLimits(pid int, l executor.Limits, timeout time.Duration, log *slog.Logger) {
	for _, lim := range launch.RunnerRlimits(l, timeout) {
		v := lim.Value
		if lim.Resource == unix.RLIMIT_NPROC && v > 0 {
			// RLIMIT_NPROC counts every process of the user, not of the run: a ceiling against fork bombs
			// only, set well above the run's own budget.
			v *= 16
		}
		if v < 0 {
			continue
		}
		r := unix.Rlimit{Cur: uint64(v), Max: uint64(v)}
		if err := unix.Prlimit(pid, lim.Resource, &r, nil); err != nil {
			log.Warn("process executor: rlimit not applied", "resource", lim.Name, "error", err)
		}
	}
}
