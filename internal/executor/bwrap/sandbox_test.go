package bwrap

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/executor"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -run %s -update):\n%s", path, t.Name(), got)
	}
}

// The bwrap command line of a run with a sidecar and a proxy, on a host with merged /usr.
func TestSandboxArgs(t *testing.T) {
	sb := &sandbox{binary: "/srv/appstrate", seedDir: "/data/runs/run_1/seed", etcDir: "/data/runs/.etc",
		sidecarSocket: "/data/runs/run_1/sock/sidecar.sock", proxySocket: "/data/runs/run_1/sock/proxy.sock",
		system:        []string{"--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin"},
		etc:           []string{"--ro-bind", "/etc/ssl", "/etc/ssl"},
		disableUserns: true, tmpfsSize: true, workspaceSize: DefaultWorkspaceBytes, tmpSize: DefaultTmpBytes,
		env: sandboxEnv(map[string]string{"AGENT_RUN_ID": "run_1", "WORKSPACE_DIR": "/elsewhere"})}
	e := &Executor{probe: &Probe{}}
	init := e.initArgs(sb, executor.Spec{Timeout: 10 * time.Minute, Limits: executor.Limits{MemoryBytes: -1}})
	golden(t, "bwrap-args.golden", strings.Join(sb.args(), "\n")+"\n--\n"+strings.Join(init, "\n")+"\n")

	// An older bwrap: no --disable-userns, no tmpfs sizes.
	sb.disableUserns, sb.tmpfsSize = false, false
	for _, a := range sb.args() {
		if a == "--disable-userns" || a == "--size" {
			t.Errorf("option %s given to a bwrap without it", a)
		}
	}
}

func TestSystemMounts(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"usr/bin", "usr/lib", "lib64", "etc/ssl", "etc/python3.11", "etc/shadow-dir"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{"bin": "usr/bin", "lib": "usr/lib"} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"etc/passwd", "etc/ld.so.cache", "etc/shadow"} {
		if err := os.WriteFile(filepath.Join(root, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sys, err := systemMounts(root)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{"--ro-bind", root + "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
		"--ro-bind", root + "/lib64", "/lib64"}, " ")
	if got := strings.Join(sys, " "); got != want {
		t.Errorf("system mounts:\n got %s\nwant %s", got, want)
	}
	etc := strings.Join(etcMounts(root), " ")
	want = strings.Join([]string{"--ro-bind", root + "/etc/ssl", "/etc/ssl", "--ro-bind", root + "/etc/ld.so.cache", "/etc/ld.so.cache",
		"--ro-bind", root + "/etc/python3.11", "/etc/python3.11"}, " ")
	if etc != want {
		t.Errorf("etc mounts:\n got %s\nwant %s", etc, want)
	}
	if _, err := systemMounts(t.TempDir()); err == nil {
		t.Error("a host without /usr accepted")
	}
}

func TestParseInitArgs(t *testing.T) {
	o, err := parseInitArgs([]string{"-seed", "/s", "-rlimit", "nproc=10", "-rlimit", "fsize=5", "-stop-fd", "4",
		"-proxy-listen", "127.0.0.1:1", "-proxy-socket", "/p.sock", "--", "runner", "-x"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.seed != "/s" || o.workspace != Workspace || o.stopFD != 4 || len(o.rlimits) != 2 || strings.Join(o.command, " ") != "runner -x" {
		t.Errorf("options = %+v", o)
	}
	for _, bad := range [][]string{
		{"-rlimit", "stack=1", "--", "x"},
		{"-rlimit", "nproc", "--", "x"},
		{"-rlimit", "nproc=-1", "--", "x"},
		{"-proxy-listen", "127.0.0.1:1", "--", "x"},
		{"-seed", "/s"},
		{"-unknown", "--", "x"},
	} {
		if _, err := parseInitArgs(bad, io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestSocketDir(t *testing.T) {
	if got := socketDir("/data/runs/run_1"); got != "/data/runs/run_1/sock" {
		t.Errorf("short: %s", got)
	}
	long := "/home/someone/" + strings.Repeat("deep/", 20) + "runs/run_1"
	got := socketDir(long)
	if !strings.HasPrefix(got, os.TempDir()+"/appstrate-") || len(got)+len("/sidecar.sock") > maxSocketPath || got != socketDir(long) {
		t.Errorf("long: %s", got)
	}
}

func TestRunsDir(t *testing.T) {
	if os.Geteuid() != 0 {
		if got := RunsDir("/data"); got != "/data/runs" {
			t.Errorf("non-root: %s", got)
		}
		return
	}
	open := t.TempDir()
	if err := os.Chmod(open, 0o711); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(open), 0o711); err != nil {
		t.Fatal(err)
	}
	if got := RunsDir(open); got != open+"/runs" {
		t.Errorf("reachable data dir: %s", got)
	}
	private, err := os.MkdirTemp(open, "private") // 0700: the sandbox user cannot reach it
	if err != nil {
		t.Fatal(err)
	}
	a, b := RunsDir(private), RunsDir(private+"/other")
	if a == private+"/runs" || a == b || !strings.HasSuffix(a, "/runs") {
		t.Errorf("private data dirs: %s, %s", a, b)
	}
}

// A server started with an empty environment still finds bwrap in the system directories.
func TestFindBwrapWithoutPATH(t *testing.T) {
	want := ""
	for _, p := range []string{"/usr/bin/bwrap", "/bin/bwrap", "/usr/local/bin/bwrap"} {
		if _, err := os.Stat(p); err == nil {
			want = p
			break
		}
	}
	if want == "" {
		t.Skip("bwrap is not installed in a system directory")
	}
	t.Setenv("PATH", "")
	if got, err := findBwrap(); err != nil || got != want {
		t.Errorf("findBwrap() = %q, %v; want %s", got, err, want)
	}
}
