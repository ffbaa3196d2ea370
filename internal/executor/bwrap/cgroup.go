package bwrap

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/appstrate/appstrate-go/internal/executor"
	"github.com/appstrate/appstrate-go/internal/executor/launch"
)

// cgroupControllers are the cgroup v2 controllers the runs need: memory.max, pids.max, cpu.max.
var cgroupControllers = []string{"memory", "pids", "cpu"}

// cgroupPrefix names the cgroup of a run (cgroupPrefix + run id) and the server's own leaf.
const (
	cgroupPrefix     = "appstrate-run-"
	cgroupServerLeaf = "appstrate-server"
)

// cgroupPaths are where the cgroup state is read; tests point them at a fake tree.
type cgroupPaths struct {
	mountinfo string // /proc/self/mountinfo
	selfGroup string // /proc/self/cgroup
	root      string // prefix of the mount point found in mountinfo ("" on a real host)
}

var hostCgroupPaths = cgroupPaths{mountinfo: "/proc/self/mountinfo", selfGroup: "/proc/self/cgroup"}

// cgroupPlan is how runs get cgroup v2 limits on this host, or why they cannot.
type cgroupPlan struct {
	// Dir is the parent of the runs' cgroups ("" = no cgroup limits; see Why and Fix).
	Dir string
	// MoveSelf: the server must first move itself into Dir/appstrate-server and enable the controllers
	// in Dir (a cgroup delegated to the server, e.g. by systemd's Delegate=yes, holds the server itself, and
	// cgroup v2 forbids controllers on a cgroup that has processes).
	MoveSelf bool
	Why, Fix string
}

// Usable reports whether runs get cgroup limits.
func (p cgroupPlan) Usable() bool { return p.Dir != "" }

// inspectCgroups finds where run cgroups can go without changing anything.
func inspectCgroups(paths cgroupPaths) cgroupPlan {
	mount, err := cgroup2Mount(paths.mountinfo)
	if err != nil {
		return cgroupPlan{Why: "cgroup v2 not found: " + err.Error(),
			Fix: "boot with the unified cgroup hierarchy (kernel parameter systemd.unified_cgroup_hierarchy=1)"}
	}
	own, err := ownCgroup(paths.selfGroup)
	if err != nil {
		return cgroupPlan{Why: err.Error(), Fix: "boot with the unified cgroup hierarchy (systemd.unified_cgroup_hierarchy=1)"}
	}
	dir := filepath.Join(paths.root+mount, own)
	delegateFix := "run the server in a delegated cgroup: as a systemd service with Delegate=yes, or " +
		"`systemd-run --user --scope -p Delegate=yes appstrate serve`"
	available := readWords(filepath.Join(dir, "cgroup.controllers"))
	if missing := missingControllers(available); len(missing) > 0 {
		fix := delegateFix
		if strings.HasSuffix(mount, "/unified") {
			fix = "this host uses the hybrid cgroup hierarchy (the controllers are on cgroup v1): boot with " +
				"systemd.unified_cgroup_hierarchy=1"
		}
		return cgroupPlan{Why: fmt.Sprintf("cgroup v2 controllers %s are not available in %s", strings.Join(missing, ", "), dir),
			Fix: fix}
	}
	if !writable(dir) || !writable(filepath.Join(dir, "cgroup.subtree_control")) {
		return cgroupPlan{Why: "cgroup " + dir + " is not writable by this user (not delegated)", Fix: delegateFix}
	}
	if len(missingControllers(readWords(filepath.Join(dir, "cgroup.subtree_control")))) == 0 {
		return cgroupPlan{Dir: dir}
	}
	if own == "/" {
		return cgroupPlan{Dir: dir} // the root cgroup may hold processes and enable controllers
	}
	procs := readWords(filepath.Join(dir, "cgroup.procs"))
	if len(procs) != 1 || procs[0] != strconv.Itoa(os.Getpid()) {
		return cgroupPlan{Why: fmt.Sprintf("cgroup %s holds other processes than the server (%d), so its controllers cannot be enabled for children", dir, len(procs)),
			Fix: delegateFix}
	}
	return cgroupPlan{Dir: dir, MoveSelf: true}
}

// setupCgroups makes the plan real: moves the server into its leaf when needed and enables the controllers
// for children of Dir.
func setupCgroups(p cgroupPlan) error {
	if p.MoveSelf {
		leaf := filepath.Join(p.Dir, cgroupServerLeaf)
		if err := os.Mkdir(leaf, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("create %s: %w", leaf, err)
		}
		if err := os.WriteFile(filepath.Join(leaf, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0); err != nil {
			return fmt.Errorf("move the server into %s: %w", leaf, err)
		}
	}
	if len(missingControllers(readWords(filepath.Join(p.Dir, "cgroup.subtree_control")))) == 0 {
		return nil
	}
	enable := "+" + strings.Join(cgroupControllers, " +")
	if err := os.WriteFile(filepath.Join(p.Dir, "cgroup.subtree_control"), []byte(enable), 0); err != nil {
		return fmt.Errorf("enable %s in %s: %w", enable, p.Dir, err)
	}
	return nil
}

// cgroup2Mount is the mount point of the cgroup2 filesystem in a mountinfo file.
func cgroup2Mount(mountinfo string) (string, error) {
	f, err := os.Open(mountinfo)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		// id parent major:minor root mountpoint options [optional...] - fstype source superoptions
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		fields, postFields := strings.Fields(pre), strings.Fields(post)
		if len(fields) >= 5 && len(postFields) >= 1 && postFields[0] == "cgroup2" {
			return unescapeMount(fields[4]), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", errors.New("no cgroup2 filesystem is mounted (cgroup v1 only)")
}

// unescapeMount decodes the octal escapes (\040 for a space…) of a mountinfo path.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ownCgroup is this process's cgroup v2 path ("0::/path" in /proc/self/cgroup).
func ownCgroup(selfGroup string) (string, error) {
	b, err := os.ReadFile(selfGroup)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok && strings.HasPrefix(p, "/") {
			return filepath.Clean(p), nil
		}
	}
	return "", errors.New("this process has no cgroup v2 membership (cgroup v1 only)")
}

func missingControllers(have []string) []string {
	var missing []string
	for _, c := range cgroupControllers {
		if !slices.Contains(have, c) {
			missing = append(missing, c)
		}
	}
	return missing
}

func readWords(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	return strings.Fields(string(b))
}

func writable(path string) bool {
	return syscall.Access(path, 0x2 /* W_OK */) == nil
}

// runCgroup is the cgroup of one run.
type runCgroup struct {
	dir string
	fd  *os.File // the directory, for clone into it (SysProcAttr.CgroupFD)
}

// createRunCgroup creates parent/appstrate-run-<id> with the limits of l (zero fields = defaults, negative =
// none).
func createRunCgroup(parent, runID string, l executor.Limits) (*runCgroup, error) {
	dir := filepath.Join(parent, cgroupPrefix+runID)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create cgroup: %w", err)
	}
	rc := &runCgroup{dir: dir}
	for _, w := range cgroupLimits(l) {
		if err := os.WriteFile(filepath.Join(dir, w.file), []byte(w.value), 0o644); err != nil && !w.optional {
			rc.remove()
			return nil, fmt.Errorf("cgroup %s: %w", w.file, err)
		}
	}
	fd, err := os.Open(dir)
	if err != nil {
		rc.remove()
		return nil, fmt.Errorf("open cgroup: %w", err)
	}
	rc.fd = fd
	return rc, nil
}

type cgroupWrite struct {
	file, value string
	optional    bool
}

// cgroupLimits are the interface files written for l: memory.max (and no swap), pids.max, cpu.max (a quota
// per 100 ms period).
func cgroupLimits(l executor.Limits) []cgroupWrite {
	var out []cgroupWrite
	if mem := launch.OrDefault(l.MemoryBytes, launch.DefaultMemoryBytes); mem > 0 {
		out = append(out, cgroupWrite{file: "memory.max", value: strconv.FormatInt(mem, 10)},
			cgroupWrite{file: "memory.swap.max", value: "0", optional: true})
	}
	if pids := launch.OrDefault(int64(l.Pids), launch.DefaultPids); pids > 0 {
		out = append(out, cgroupWrite{file: "pids.max", value: strconv.FormatInt(pids, 10)})
	}
	cpus := l.CPUs
	if cpus == 0 {
		cpus = launch.DefaultCPUs
	}
	if cpus > 0 {
		const period = 100000
		quota := max(int64(cpus*period), 1000)
		out = append(out, cgroupWrite{file: "cpu.max", value: fmt.Sprintf("%d %d", quota, period)})
	}
	return out
}

// add moves a process into the cgroup.
func (rc *runCgroup) add(pid int) error {
	return os.WriteFile(filepath.Join(rc.dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0)
}

// kill kills every process of the cgroup (cgroup.kill, else one by one).
func (rc *runCgroup) kill() {
	if err := os.WriteFile(filepath.Join(rc.dir, "cgroup.kill"), []byte("1"), 0); err == nil {
		return
	}
	for _, pid := range readWords(filepath.Join(rc.dir, "cgroup.procs")) {
		if n, err := strconv.Atoi(pid); err == nil && n > 0 {
			_ = syscall.Kill(n, syscall.SIGKILL)
		}
	}
}

// remove kills what is left and removes the cgroup (its processes may take a moment to be gone).
func (rc *runCgroup) remove() {
	if rc.fd != nil {
		rc.fd.Close()
	}
	for i := 0; i < 100; i++ {
		err := syscall.Rmdir(rc.dir)
		if err == nil || errors.Is(err, syscall.ENOENT) {
			return
		}
		if !errors.Is(err, syscall.EBUSY) {
			_ = os.RemoveAll(rc.dir) // a plain directory (tests)
			return
		}
		rc.kill()
		time.Sleep(10 * time.Millisecond)
	}
}
