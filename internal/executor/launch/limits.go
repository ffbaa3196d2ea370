package launch

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/appstrate/appstrate-go/internal/executor"
)

// Defaults of the runner's limits.
const (
	DefaultMemoryBytes = 1536 << 20
	DefaultPids        = 256
	DefaultFileBytes   = 1 << 30
	DefaultCPUs        = 2
)

// Rlimit is one resource limit; Value < 0 means none.
type Rlimit struct {
	Resource int
	Name     string // as in /proc/<pid>/limits' short form: data, fsize, cpu, core, nproc
	Value    int64
}

// RunnerRlimits are the rlimits of a runner for l (zero fields = defaults): memory as RLIMIT_DATA, not
// RLIMIT_AS (runtimes such as V8 reserve large inaccessible address ranges that must not count), file size,
// CPU seconds (the timeout plus a minute when l sets none), no core dumps, and processes (RLIMIT_NPROC).
func RunnerRlimits(l executor.Limits, timeout time.Duration) []Rlimit {
	cpu := int64(l.CPUSeconds)
	if cpu == 0 {
		cpu = int64(timeout/time.Second) + 60
	}
	return []Rlimit{
		{unix.RLIMIT_DATA, "data", OrDefault(l.MemoryBytes, DefaultMemoryBytes)},
		{unix.RLIMIT_FSIZE, "fsize", OrDefault(l.FileBytes, DefaultFileBytes)},
		{unix.RLIMIT_CPU, "cpu", cpu},
		{unix.RLIMIT_CORE, "core", 0},
		{unix.RLIMIT_NPROC, "nproc", OrDefault(int64(l.Pids), DefaultPids)},
	}
}

// OrDefault is v, or def when v is zero.
func OrDefault(v, def int64) int64 {
	if v == 0 {
		return def
	}
	return v
}
