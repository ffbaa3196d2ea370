package jobs_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/riverqueue/river"

	"github.com/appstrate/appstrate-go/internal/jobs"
	"github.com/appstrate/appstrate-go/internal/store"
)

// GreetArgs are the arguments of a job; Kind names its worker.
type GreetArgs struct {
	Name string `json:"name"`
}

func (GreetArgs) Kind() string { return "greet" }

// A job inserted in the same transaction as the row it is about, worked once the transaction commits.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "jobs-example-")
	defer os.RemoveAll(dir)
	db, err := store.Open(ctx, store.Options{SQLitePath: filepath.Join(dir, "appstrate.db")})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	if err := jobs.Migrate(ctx, db, nil); err != nil { // River's own tables, right after store.Open
		fmt.Println(err)
		return
	}

	q := jobs.New(db, jobs.Options{})
	done := make(chan struct{})
	_ = jobs.Register(q, river.WorkFunc(func(ctx context.Context, job *river.Job[GreetArgs]) error {
		fmt.Println("hello,", job.Args.Name)
		close(done)
		return nil
	}))
	if err := q.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}

	err = db.InTx(ctx, func(tx *store.Tx) error {
		// ... insert the rows the job is about with tx ...
		_, err := q.InsertTx(ctx, tx, GreetArgs{Name: "world"}, nil)
		return err
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	<-done

	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := q.Stop(stopCtx); err != nil {
		fmt.Println(err)
	}
	// Output: hello, world
}
