package bwrap

import (
	"fmt"
	"sort"
	"strconv"
)

// The sandbox's layout, as the runner sees it.
const (
	// InsideUID is the uid and gid of everything in the sandbox ("agent" in its /etc/passwd).
	InsideUID = 1000
	// InsideDir holds what the executor puts into the sandbox: the appstrate binary, the sidecar's sockets
	// and the workspace's initial files.
	InsideDir = "/run/appstrate"
	// InsideBinary is where the appstrate binary is bound (read-only).
	InsideBinary = InsideDir + "/appstrate"
	// Workspace is the run's work directory (a private tmpfs, the runner's cwd).
	Workspace = "/workspace"

	insideSidecarSocket = InsideDir + "/sidecar.sock"
	insideProxySocket   = InsideDir + "/proxy.sock"
	insideSeed          = InsideDir + "/seed"
	// insideProxyListen is the sandbox-local address of the forward proxy relay (the sandbox's own
	// loopback, nothing else listens there).
	insideProxyListen = "127.0.0.1:8081"
	// shmBytes caps the sandbox's /dev/shm.
	shmBytes = 64 << 20
)

// sandbox is everything one bwrap invocation needs.
type sandbox struct {
	binary        string   // host path of the appstrate binary
	seedDir       string   // host directory of the workspace's initial files
	etcDir        string   // host directory with the synthetic passwd, group and hosts
	sidecarSocket string   // host path of the sidecar's API socket ("" = no sidecar)
	proxySocket   string   // host path of the sidecar's forward proxy socket ("" = no proxy)
	system        []string // systemMounts
	etc           []string // etcMounts
	disableUserns bool
	tmpfsSize     bool
	workspaceSize int64
	tmpSize       int64
	env           map[string]string
}

// args are bwrap's options (the command follows "--" on its command line): every namespace (user, mount,
// pid, ipc, uts, network, cgroup), the host's system directories and a few /etc entries read-only, synthetic
// passwd/group/hosts, a fresh /proc and /dev, size-capped tmpfs for /dev/shm, /tmp and the workspace, a
// read-only root, and nothing else of the host.
func (s *sandbox) args() []string {
	a := []string{"--unshare-all", "--unshare-user"}
	if s.disableUserns {
		a = append(a, "--disable-userns")
	}
	a = append(a, "--die-with-parent", "--new-session", "--hostname", "sandbox")
	a = append(a, s.system...)
	a = append(a, s.etc...)
	for _, f := range []string{"passwd", "group", "hosts"} {
		a = append(a, "--ro-bind", s.etcDir+"/"+f, "/etc/"+f)
	}
	a = append(a, "--proc", "/proc", "--dev", "/dev")
	a = append(a, s.tmpfs("/dev/shm", shmBytes)...) // POSIX shared memory and semaphores (Python multiprocessing)
	a = append(a, s.tmpfs("/tmp", s.tmpSize)...)
	a = append(a, s.tmpfs(Workspace, s.workspaceSize)...)
	a = append(a, "--ro-bind", s.seedDir, insideSeed, "--ro-bind", s.binary, InsideBinary)
	if s.sidecarSocket != "" {
		a = append(a, "--bind", s.sidecarSocket, insideSidecarSocket)
	}
	if s.proxySocket != "" {
		a = append(a, "--bind", s.proxySocket, insideProxySocket)
	}
	a = append(a, "--remount-ro", "/", "--chdir", Workspace,
		"--uid", strconv.Itoa(InsideUID), "--gid", strconv.Itoa(InsideUID), "--clearenv")
	keys := make([]string, 0, len(s.env))
	for k := range s.env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		a = append(a, "--setenv", k, s.env[k])
	}
	return a
}

func (s *sandbox) tmpfs(dest string, size int64) []string {
	if s.tmpfsSize && size > 0 {
		return []string{"--size", strconv.FormatInt(size, 10), "--tmpfs", dest}
	}
	return []string{"--tmpfs", dest}
}

// passwdFile, groupFile and hostsFile are the sandbox's synthetic /etc/passwd, /etc/group and /etc/hosts.
var (
	passwdFile = fmt.Sprintf("root:x:0:0:root:/root:/usr/sbin/nologin\nagent:x:%d:%d:agent:%s:/bin/bash\n"+
		"nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n", InsideUID, InsideUID, Workspace)
	groupFile = fmt.Sprintf("root:x:0:\nagent:x:%d:\nnogroup:x:65534:\n", InsideUID)
	hostsFile = "127.0.0.1\tlocalhost sandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n"
)
