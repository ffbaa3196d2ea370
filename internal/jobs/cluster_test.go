package jobs

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/store/storetest"
)

// tickArgs is a periodic job; plain ones rely on leader election alone, unique ones also on a
// unique key per period.
type tickArgs struct {
	Unique bool `json:"unique"`
}

func (tickArgs) Kind() string { return "jobs_test_tick" }

// periodLog records, per period (the job's target time truncated to the period), how many times a
// periodic job ran and on which client.
type periodLog struct {
	mu   sync.Mutex
	runs map[period][]string // client names
}

type period struct {
	unique bool
	at     string
}

type tickWorker struct {
	river.WorkerDefaults[tickArgs]
	client string
	log    *periodLog
}

func (w *tickWorker) Work(_ context.Context, job *river.Job[tickArgs]) error {
	key := period{job.Args.Unique, job.ScheduledAt.Truncate(time.Second).UTC().Format(time.RFC3339)}
	w.log.mu.Lock()
	defer w.log.mu.Unlock()
	w.log.runs[key] = append(w.log.runs[key], w.client)
	return nil
}

func (l *periodLog) periods(unique bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for key := range l.runs {
		if key.unique == unique {
			n++
		}
	}
	return n
}

// Two serve processes (two clients over two connection pools to one database) running the same
// periodic jobs every second: one leader enqueues them, so no period runs twice.
func TestPeriodicJobFiresOncePerPeriodAcrossProcesses(t *testing.T) {
	storetest.EachDialectOptions(t, func(t *testing.T, opts store.Options) {
		log := &periodLog{runs: map[period][]string{}}
		for _, name := range []string{"a", "b"} {
			db := migrated(t, openStore(t, opts))
			copts := testOptions(t)
			copts.ID = "process_" + name
			c := New(db, copts)
			if err := Register(c, &tickWorker{client: name, log: log}); err != nil {
				t.Fatal(err)
			}
			for _, unique := range []bool{false, true} {
				_, err := c.AddPeriodic(river.PeriodicInterval(time.Second), func() (river.JobArgs, *river.InsertOpts) {
					if unique {
						return tickArgs{Unique: true}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: time.Second}}
					}
					return tickArgs{}, nil
				}, &river.PeriodicJobOpts{ID: fmt.Sprintf("tick_%v", unique)})
				if err != nil {
					t.Fatal(err)
				}
			}
			startClient(t, c)
		}
		waitFor(t, "3 periods of each periodic job", func() bool { return log.periods(false) >= 3 && log.periods(true) >= 3 })

		log.mu.Lock()
		defer log.mu.Unlock()
		keys := make([]period, 0, len(log.runs))
		for key := range log.runs {
			keys = append(keys, key)
		}
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
		for _, key := range keys {
			if runs := log.runs[key]; len(runs) != 1 {
				t.Errorf("period %v ran %d times (on %v), want once", key, len(runs), runs)
			}
		}
		t.Logf("periods run (unique, target time): %v", keys)
	})
}

// hangArgs is a job whose worker, in the dying process, never returns.
type hangArgs struct{}

func (hangArgs) Kind() string { return "jobs_test_hang" }

type hangWorker struct {
	river.WorkerDefaults[hangArgs]
	started chan int64
	unblock chan struct{}
}

func (w *hangWorker) Work(_ context.Context, job *river.Job[hangArgs]) error {
	w.started <- job.ID
	<-w.unblock // ignores its context, as a process that died would
	return nil
}

type doneWorker struct {
	river.WorkerDefaults[hangArgs]
}

func (doneWorker) Work(context.Context, *river.Job[hangArgs]) error { return nil }

// A process dies while working jobs: they stay running until the leader of another process rescues
// them once they are older than RescueStuckJobsAfter, retrying those with attempts left and
// discarding the others.
func TestRescueOfJobsLeftRunningByADeadProcess(t *testing.T) {
	const rescueAfter = time.Second
	storetest.EachDialectOptions(t, func(t *testing.T, opts store.Options) {
		// Process A works the jobs and "dies". It is not leader-eligible; had it been the
		// leader, B would take over once A's leadership expired.
		dbA := migrated(t, openStore(t, opts))
		optsA := testOptions(t)
		optsA.ID = "dying"
		optsA.LeaderElectionDisabled = true
		optsA.StopCancelGrace = 50 * time.Millisecond
		a := New(dbA, optsA)
		hang := &hangWorker{started: make(chan int64, 2), unblock: make(chan struct{})}
		if err := Register(a, hang); err != nil {
			t.Fatal(err)
		}
		if err := a.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		var unblockOnce sync.Once
		finishA := func() { // A's workers return at last and its client stops
			unblockOnce.Do(func() { close(hang.unblock) })
			select {
			case <-a.River().Stopped():
			case <-time.After(waitTimeout):
				t.Error("process A never stopped")
			}
		}
		t.Cleanup(finishA) // before A's pool closes, if the test fails early
		ids := map[string]int64{}
		for _, tc := range []struct {
			name        string
			maxAttempts int
		}{{"last attempt", 1}, {"attempts left", 3}} {
			res, err := a.Insert(t.Context(), hangArgs{}, &river.InsertOpts{MaxAttempts: tc.maxAttempts})
			if err != nil {
				t.Fatal(err)
			}
			ids[tc.name] = res.Job.ID
		}
		<-hang.started
		<-hang.started
		expired, cancel := context.WithCancel(context.Background())
		cancel()
		if err := a.Stop(expired); err == nil { // a hard stop that leaves both jobs running
			t.Fatal("Stop of a process whose jobs ignore cancellation: no error")
		}

		// Process B starts later with a short rescue window.
		dbB := migrated(t, openStore(t, opts))
		optsB := testOptions(t)
		optsB.ID = "survivor"
		optsB.JobTimeout = rescueAfter
		optsB.RescueStuckJobsAfter = rescueAfter
		optsB.RetryPolicy = retryNow{}
		b := New(dbB, optsB)
		if err := Register(b, doneWorker{}); err != nil {
			t.Fatal(err)
		}
		var attempted time.Time
		for name, id := range ids {
			row := jobRow(t, b, id)
			if row.State != rivertype.JobStateRunning {
				t.Fatalf("%s: state %s after the process died, want running", name, row.State)
			}
			if row.AttemptedAt.After(attempted) {
				attempted = *row.AttemptedAt
			}
		}
		time.Sleep(time.Until(attempted.Add(rescueAfter + 100*time.Millisecond))) // let them become stuck
		startClient(t, b)

		want := map[string]rivertype.JobState{"last attempt": rivertype.JobStateDiscarded, "attempts left": rivertype.JobStateCompleted}
		waitFor(t, "stuck jobs rescued", func() bool {
			for name, id := range ids {
				if jobRow(t, b, id).State != want[name] {
					return false
				}
			}
			return true
		})
		for name, id := range ids {
			row := jobRow(t, b, id)
			if len(row.Errors) == 0 || row.Errors[0].Error != "Stuck job rescued by JobRescuer" {
				t.Errorf("%s: errors %+v, want the rescue recorded", name, row.Errors)
			}
			if name == "attempts left" && (row.Attempt != 2 || row.AttemptedBy[len(row.AttemptedBy)-1] != "survivor") {
				t.Errorf("%s: attempt %d by %v, want a second attempt by the survivor", name, row.Attempt, row.AttemptedBy)
			}
		}

		// The late completions of the dead attempts (a process that was only frozen) change nothing.
		finishA()
		for name, id := range ids {
			if got := jobRow(t, b, id).State; got != want[name] {
				t.Errorf("%s: state %s after the first attempt returned late, want %s", name, got, want[name])
			}
		}
	})
}

// retryNow retries failed and rescued jobs at once.
type retryNow struct{}

func (retryNow) NextRetry(*rivertype.JobRow) time.Time { return time.Now() }
