// Package process is the executor of Tier 0 without isolation tools: each run gets a fresh directory under
// the runs directory, its sidecar (`appstrate sidecar`, listening on a unix socket in that directory) and its
// runner (`appstrate runner`, cwd = the workspace, reporting to the run's sink through the sidecar's relay),
// both in their own process groups with a minimal environment — never the server's — and resource limits.
// Kill stops both groups (SIGTERM, then SIGKILL after a grace period); the directory is removed when the run
// ends. Reap removes what a crashed server left.
// It is not a sandbox: the runner can still read what the server's user can read and reach the network
// (the bwrap executor is the isolated one).
package process
