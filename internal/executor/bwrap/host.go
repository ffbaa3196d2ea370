package bwrap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// Probe is what this host offers the namespace executor, as found by Inspect.
type Probe struct {
	// Bwrap is the path of bwrap ("" = not found) and Version its version line.
	Bwrap, Version string
	// Features of this bwrap: --disable-userns (0.8) and --size for tmpfs (0.7).
	DisableUserns, TmpfsSize bool
	// SandboxUID and SandboxGID are the host ids the sandbox runs as: the server's, or an unprivileged id
	// when the server runs as root (an id that is not root inside a user namespace keeps RLIMIT_NPROC
	// meaningful and owns nothing of the server's).
	SandboxUID, SandboxGID int
	// Err is why sandboxes cannot start here (nil = usable), Fix what to do about it.
	Err error
	Fix string
	// Cgroups is how runs get memory, pids and CPU limits (or why only rlimits).
	Cgroups cgroupPlan
}

// Usable reports whether sandboxes can start on this host.
func (p *Probe) Usable() bool { return p.Err == nil }

// LimitsSummary says in a few words how runs are limited.
func (p *Probe) LimitsSummary() string {
	if p.Cgroups.Usable() {
		return "cgroup v2 (memory.max, pids.max, cpu.max) under " + p.Cgroups.Dir
	}
	return "rlimits (" + p.Cgroups.Why + ")"
}

// DefaultRootSandboxID is the host uid and gid of sandboxes when the server runs as root (nobody).
const DefaultRootSandboxID = 65534

// Inspect looks at this host without changing anything: bwrap on PATH (or at bwrapPath), its version, the
// user-namespace settings, an actual sandbox start (`true` in a sandbox with every namespace), and cgroup
// v2 delegation. sandboxID is the host id of sandboxes for a root server (0 = DefaultRootSandboxID).
func Inspect(ctx context.Context, bwrapPath string, sandboxID int) *Probe {
	p := &Probe{Cgroups: inspectCgroups(hostCgroupPaths)}
	p.SandboxUID, p.SandboxGID = sandboxIdentity(sandboxID)
	path := bwrapPath
	if path == "" {
		found, err := findBwrap()
		if err != nil {
			p.Err = errors.New("bwrap (bubblewrap) is not installed (not on PATH nor in /usr/bin, /bin, /usr/local/bin)")
			p.Fix = "install bubblewrap: apt-get install bubblewrap (Debian, Ubuntu), dnf install bubblewrap (Fedora), apk add bubblewrap (Alpine)"
			return p
		}
		path = found
	}
	p.Bwrap = path
	help, version, err := bwrapFeatures(ctx, path)
	if err != nil {
		p.Err = fmt.Errorf("%s does not run: %w", path, err)
		p.Fix = "reinstall bubblewrap (apt-get install --reinstall bubblewrap)"
		return p
	}
	p.Version = version
	p.DisableUserns = strings.Contains(help, "--disable-userns")
	p.TmpfsSize = strings.Contains(help, "--size")
	if why, fix := userNamespacesBlocked(); why != "" {
		p.Err, p.Fix = errors.New(why), fix
		return p
	}
	if err := p.trySandbox(ctx); err != nil {
		p.Err = fmt.Errorf("a test sandbox (bwrap --unshare-all … true) failed: %w", err)
		p.Fix = "allow unprivileged user namespaces for bwrap (sysctl -w kernel.unprivileged_userns_clone=1 " +
			"and user.max_user_namespaces > 0; on Ubuntu 24.04+ the AppArmor profile shipped with bubblewrap, or " +
			"sysctl -w kernel.apparmor_restrict_unprivileged_userns=0); inside a container, run it with " +
			"--security-opt seccomp=unconfined --security-opt apparmor=unconfined or use RUN_ADAPTER=docker on the host"
		return p
	}
	return p
}

// findBwrap looks for bwrap on PATH, then in the usual system directories (a server started with an empty
// environment has no PATH).
func findBwrap() (string, error) {
	path, err := exec.LookPath("bwrap")
	if err == nil {
		return path, nil
	}
	for _, p := range []string{"/usr/bin/bwrap", "/bin/bwrap", "/usr/local/bin/bwrap"} {
		if fi, serr := os.Stat(p); serr == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", err
}

// sandboxIdentity is the host uid/gid of sandboxes: the server's own, or sandboxID (default nobody) for a
// root server.
func sandboxIdentity(sandboxID int) (int, int) {
	if os.Geteuid() != 0 {
		return os.Geteuid(), os.Getegid()
	}
	if sandboxID <= 0 {
		sandboxID = DefaultRootSandboxID
	}
	return sandboxID, sandboxID
}

var versionLine = regexp.MustCompile(`(?m)^bubblewrap\s+\S+`)

func bwrapFeatures(ctx context.Context, path string) (help, version string, err error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").CombinedOutput()
	if err != nil {
		return "", "", fmt.Errorf("%s --version: %w: %s", path, err, bytes.TrimSpace(out))
	}
	version = strings.TrimSpace(string(out))
	if m := versionLine.FindString(version); m != "" {
		version = m
	}
	out, _ = exec.CommandContext(ctx, path, "--help").CombinedOutput()
	return string(out), version, nil
}

// userNamespacesBlocked reads the sysctls that disable unprivileged user namespaces.
func userNamespacesBlocked() (why, fix string) {
	if v, ok := readSysctl("/proc/sys/kernel/unprivileged_userns_clone"); ok && v == "0" {
		return "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone = 0)",
			"sysctl -w kernel.unprivileged_userns_clone=1 (and persist it in /etc/sysctl.d/)"
	}
	if v, ok := readSysctl("/proc/sys/user/max_user_namespaces"); ok && v == "0" {
		return "user namespaces are disabled (user.max_user_namespaces = 0)",
			"sysctl -w user.max_user_namespaces=15000 (and persist it in /etc/sysctl.d/)"
	}
	return "", ""
}

func readSysctl(path string) (string, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(b)), true
}

// trySandbox starts `true` in a sandbox with the executor's namespaces, as the sandbox user.
func (p *Probe) trySandbox(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	args := []string{"--unshare-all", "--unshare-user", "--die-with-parent", "--new-session"}
	if p.DisableUserns {
		args = append(args, "--disable-userns")
	}
	sys, err := systemMounts("")
	if err != nil {
		return err
	}
	args = append(args, sys...)
	args = append(args, "--proc", "/proc", "--dev", "/dev", "--uid", fmt.Sprint(InsideUID), "--gid", fmt.Sprint(InsideUID),
		"--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--", "true")
	cmd := exec.CommandContext(ctx, p.Bwrap, args...)
	cmd.Env = []string{}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.credential()}
	out, err := cmd.CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if msg == "" {
			return err
		}
		return fmt.Errorf("%w: %s", err, msg)
	}
	return nil
}

// credential is the identity bwrap is started with: nil when the sandbox runs as the server's own user.
func (p *Probe) credential() *syscall.Credential {
	if p.SandboxUID == os.Geteuid() {
		return nil
	}
	return &syscall.Credential{Uid: uint32(p.SandboxUID), Gid: uint32(p.SandboxGID), Groups: []uint32{}}
}

// systemDirs are bound read-only into every sandbox (or recreated as the same symlink when the host has
// merged them into /usr).
var systemDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}

// systemMounts are the bwrap arguments that give the sandbox the host's system directories, read-only.
// root prefixes the host paths (tests).
func systemMounts(root string) ([]string, error) {
	var args []string
	for _, d := range systemDirs {
		fi, err := os.Lstat(root + d)
		switch {
		case errors.Is(err, os.ErrNotExist):
			if d == "/usr" {
				return nil, errors.New("this host has no /usr")
			}
			continue
		case err != nil:
			return nil, err
		case fi.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(root + d)
			if err != nil {
				return nil, err
			}
			args = append(args, "--symlink", target, d)
		case fi.IsDir():
			args = append(args, "--ro-bind", root+d, d)
		}
	}
	return args, nil
}

// etcEntries are the entries of the host's /etc a sandbox sees (read-only, when present): TLS roots, the
// dynamic linker's cache, alternatives symlinks, time zone, name service switch, MIME types, and Python's
// site configuration. Everything else of /etc (passwd, shadow, the server's configuration…) stays out;
// passwd, group and hosts are synthetic.
var etcEntries = []string{"ssl", "ca-certificates", "ca-certificates.conf", "pki", "crypto-policies", "alternatives",
	"ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "mime.types", "protocols", "services",
	"os-release", "gitconfig", "python3*"}

// etcMounts are the bwrap arguments for etcEntries present under root+"/etc".
func etcMounts(root string) []string {
	var args []string
	for _, pattern := range etcEntries {
		matches, _ := filepath.Glob(filepath.Join(root+"/etc", pattern))
		for _, m := range matches {
			args = append(args, "--ro-bind", m, "/etc/"+filepath.Base(m))
		}
	}
	return args
}
