// Package executor is the seam between the run worker and whatever executes an agent: a process
// (executor/process), a bubblewrap sandbox (executor/bwrap) or a container. The worker only starts an Executor
// with a Spec, waits for its Handle and kills it on cancellation or timeout; executortest has a scripted Fake.
package executor
