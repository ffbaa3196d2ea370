// Package bwrap is the namespace executor (RUN_ADAPTER=bwrap): each run's runner executes in a bubblewrap
// sandbox with its own user, mount, pid, IPC, UTS, network and cgroup namespaces, while its sidecar — which
// holds the secrets and needs the network — runs outside, as with the process executor.
//
// Inside a sandbox there is: the host's system directories read-only (/usr and the /bin, /lib… links or
// directories), a handful of /etc entries (TLS roots, the dynamic linker's cache, alternatives, time zone,
// nsswitch, MIME types, Python's site files) and synthetic passwd/group/hosts; a fresh /proc (the sandbox's
// own pid namespace) and a minimal /dev with its own /dev/shm; size-capped tmpfs at /tmp and /workspace
// (the runner's cwd, filled from the run's files); the appstrate binary at /run/appstrate/appstrate and the sidecar's sockets at
// /run/appstrate/sidecar.sock and proxy.sock; a read-only root. Nothing else of the host: not the data
// directory, not other runs, not the server's files or environment. Everything runs as uid 1000 ("agent")
// without capabilities; further user namespaces are disabled when bwrap supports it. When the server runs
// as root, bwrap itself runs as an unprivileged host user (Executor.SandboxID, nobody by default), so the
// sandbox owns nothing of root's and RLIMIT_NPROC holds.
//
// The network namespace has only loopback. The runner reaches the sidecar through its unix socket
// (SIDECAR_SOCKET): the model (MODEL_BASE_URL=http://sidecar/llm), the MCP tools, and the run's sink, which
// the sidecar relays to the platform (APPSTRATE_SINK_URL=http://sidecar/sink/events). For bash, curl and
// the like, HTTP(S)_PROXY points at 127.0.0.1:8081 inside the sandbox, where sandbox-init relays every
// connection to the sidecar's forward proxy socket (internal/egress: public destinations only, the platform
// only for the run's sink). A sandbox without a sidecar has no route out at all.
//
// The sandbox starts with `appstrate sandbox-init` (SandboxInit): it sets the rlimits, copies the workspace
// files, serves the proxy relay and runs the runner. bwrap gets its options through a descriptor (the
// environment never shows in the sandbox's /proc/1/cmdline) and an empty environment of its own.
//
// Limits: with cgroup v2 delegated to the server (see Inspect), each run gets a cgroup with memory.max
// (no swap), pids.max and cpu.max, entered at clone time; rlimits cover the rest (file size, CPU seconds,
// no core dumps). Without cgroups, memory (RLIMIT_DATA) and processes (RLIMIT_NPROC, per sandbox since the
// user namespace is the sandbox's) are rlimits too. Kill asks the runner to stop (SIGTERM through
// sandbox-init, so it can report a cancelled run), then kills bwrap after a grace period, which takes the
// pid namespace — every process of the sandbox — with it. The run directory and cgroup are removed when the
// run ends; Reap removes what a crashed server left.
//
// Inspect (also used by `appstrate doctor`) tells whether this host can run sandboxes and, if not, why and
// how to fix it.
package bwrap
