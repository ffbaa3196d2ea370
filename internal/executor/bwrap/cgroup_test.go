package bwrap

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/executor"
)

// fakeCgroupHost builds a cgroup v2 tree under a temporary root: this process in /app.slice/server.service,
// whose files are given.
func fakeCgroupHost(t *testing.T, files map[string]string) (cgroupPaths, string) {
	t.Helper()
	root := t.TempDir()
	paths := cgroupPaths{mountinfo: filepath.Join(root, "mountinfo"), selfGroup: filepath.Join(root, "cgroup"), root: root}
	mountinfo := "22 1 0:21 / / rw - ext4 /dev/vda rw\n" +
		"35 22 0:30 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
	write(t, paths.mountinfo, mountinfo)
	write(t, paths.selfGroup, "0::/app.slice/server.service\n")
	dir := filepath.Join(root, "sys/fs/cgroup/app.slice/server.service")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		write(t, filepath.Join(dir, name), content)
	}
	return paths, dir
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestInspectCgroups(t *testing.T) {
	self := strconv.Itoa(os.Getpid())
	for _, tc := range []struct {
		name     string
		files    map[string]string
		usable   bool
		moveSelf bool
		why      string
	}{
		{"delegated, server alone in it", map[string]string{"cgroup.controllers": "cpuset cpu io memory pids",
			"cgroup.subtree_control": "", "cgroup.procs": self + "\n"}, true, true, ""},
		{"controllers already enabled", map[string]string{"cgroup.controllers": "cpu memory pids",
			"cgroup.subtree_control": "memory pids cpu", "cgroup.procs": ""}, true, false, ""},
		{"controllers missing", map[string]string{"cgroup.controllers": "cpu io",
			"cgroup.subtree_control": "", "cgroup.procs": self}, false, false, "memory, pids are not available"},
		{"shared with other processes", map[string]string{"cgroup.controllers": "cpu memory pids",
			"cgroup.subtree_control": "", "cgroup.procs": self + "\n1\n"}, false, false, "holds other processes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			paths, dir := fakeCgroupHost(t, tc.files)
			plan := inspectCgroups(paths)
			if plan.Usable() != tc.usable || plan.MoveSelf != tc.moveSelf || !strings.Contains(plan.Why, tc.why) {
				t.Fatalf("plan = %+v", plan)
			}
			if tc.usable && plan.Dir != dir {
				t.Errorf("dir = %s, want %s", plan.Dir, dir)
			}
			if !tc.usable && plan.Fix == "" {
				t.Error("no fix given")
			}
		})
	}
}

func TestInspectCgroupsWithoutCgroup2(t *testing.T) {
	paths, _ := fakeCgroupHost(t, nil)
	write(t, paths.mountinfo, "22 1 0:21 / / rw - ext4 /dev/vda rw\n30 22 0:25 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n")
	if plan := inspectCgroups(paths); plan.Usable() || !strings.Contains(plan.Why, "cgroup v1 only") || !strings.Contains(plan.Fix, "unified") {
		t.Errorf("plan = %+v", plan)
	}
	paths, _ = fakeCgroupHost(t, nil)
	write(t, paths.selfGroup, "1:name=systemd:/\n")
	if plan := inspectCgroups(paths); plan.Usable() || !strings.Contains(plan.Why, "no cgroup v2 membership") {
		t.Errorf("plan = %+v", plan)
	}
}

func TestSetupAndRunCgroup(t *testing.T) {
	self := strconv.Itoa(os.Getpid())
	paths, dir := fakeCgroupHost(t, map[string]string{"cgroup.controllers": "cpu memory pids",
		"cgroup.subtree_control": "", "cgroup.procs": self})
	plan := inspectCgroups(paths)
	if err := setupCgroups(plan); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, cgroupServerLeaf, "cgroup.procs")); string(b) != self {
		t.Errorf("server not moved into its leaf: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control")); string(b) != "+memory +pids +cpu" {
		t.Errorf("subtree_control = %q", b)
	}
	rc, err := createRunCgroup(dir, "run_1", executor.Limits{MemoryBytes: 256 << 20, Pids: 64, CPUs: 1.5})
	if err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{"memory.max": "268435456", "memory.swap.max": "0", "pids.max": "64", "cpu.max": "150000 100000"} {
		if b, _ := os.ReadFile(filepath.Join(rc.dir, file)); string(b) != want {
			t.Errorf("%s = %q, want %q", file, b, want)
		}
	}
	rc.remove()
	if _, err := os.Stat(rc.dir); !os.IsNotExist(err) {
		t.Errorf("run cgroup not removed: %v", err)
	}
	// Defaults, and negative limits meaning none.
	got := map[string]string{}
	for _, w := range cgroupLimits(executor.Limits{Pids: -1}) {
		got[w.file] = w.value
	}
	if got["memory.max"] != "1610612736" || got["cpu.max"] != "200000 100000" || got["pids.max"] != "" {
		t.Errorf("limits = %v", got)
	}
}

func TestUnescapeMount(t *testing.T) {
	if got := unescapeMount(`/sys/fs/my\040cgroup`); got != "/sys/fs/my cgroup" {
		t.Errorf("got %q", got)
	}
	if got := unescapeMount(`/a\9`); got != `/a\9` {
		t.Errorf("got %q", got)
	}
}
