// Package executor is the seam between the run worker and whatever executes an agent: a process, a bwrap
// sandbox or a container (the concrete executors arrive later). The worker only starts an Executor with a
// Spec, waits for its Handle and kills it on cancellation or timeout; executortest has a scripted Fake.
package executor
