package app

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/appstrate/appstrate-go/internal/jobs"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/store/storetest"
)

type pingArgs struct{}

func (pingArgs) Kind() string { return "app_test_ping" }

// TestServeRunsJobs: Serve starts the job client (workers registered on a.Jobs beforehand) and stops it
// after the HTTP drain, letting the running job finish.
func TestServeRunsJobs(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		if err := jobs.Migrate(t.Context(), db, nil); err != nil { // as New does
			t.Fatal(err)
		}
		a := Assemble(testConfig(t), discard(), db)
		started, release := make(chan struct{}), make(chan struct{})
		finished := make(chan bool, 1)
		err := jobs.Register(a.Jobs, river.WorkFunc(func(ctx context.Context, _ *river.Job[pingArgs]) error {
			close(started)
			select {
			case <-release:
				finished <- true
				return nil
			case <-ctx.Done():
				finished <- false
				return ctx.Err()
			}
		}))
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.Serve(ctx, ln) }()
		base := "http://" + ln.Addr().String()
		if resp := get(t, base+"/health"); resp.StatusCode != 200 {
			t.Fatalf("health: %d %s", resp.StatusCode, resp.body)
		}

		res, err := a.Jobs.Insert(t.Context(), pingArgs{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-started:
		case <-time.After(30 * time.Second):
			t.Fatal("job not worked while serving")
		}
		cancel()
		for deadline := time.Now().Add(30 * time.Second); ; { // the listener closes once the HTTP drain is over
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				break
			}
			_ = c.Close()
			if time.Now().After(deadline) {
				t.Fatal("listener still open after shutdown began")
			}
			time.Sleep(5 * time.Millisecond)
		}
		close(release)
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("serve: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("server did not stop")
		}
		select {
		case ok := <-finished:
			if !ok {
				t.Fatal("the running job was cancelled instead of finishing during the shutdown")
			}
		default:
			t.Fatal("Serve returned while the job was still running")
		}
		row, err := a.Jobs.River().JobGet(t.Context(), res.Job.ID)
		if err != nil || row.State != rivertype.JobStateCompleted {
			t.Fatalf("job after shutdown: %v %v", row, err)
		}
	})
}
