// Package launch is what the executors that start local processes share (internal/executor/process and
// internal/executor/bwrap): a child in its own process group whose output goes to a log file (the tail kept
// for diagnostics), a graceful stop (SIGTERM to the group, SIGKILL after a grace period), the sidecar's
// start with its readiness probe over its unix socket, the run directory's files, pid files for boot-time
// reaping, and the runner's resource limits.
package launch
