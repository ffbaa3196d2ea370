package app

import (
	"context"

	"github.com/appstrate/appstrate-go/internal/runplan"
	"github.com/appstrate/appstrate-go/internal/runs"
)

// runPlanner adapts internal/runplan to the worker's Planner seam.
type runPlanner struct {
	p           *runplan.Planner
	platformURL func() string // the platform as sidecars reach it (known once Serve listens)
}

func (r runPlanner) PlanRun(ctx context.Context, req runs.PlanRequest) (*runs.PlannedRun, error) {
	plan, err := r.p.Plan(ctx, runplan.Run{ID: req.RunID, Token: req.Token, Version: req.Version},
		runplan.Sink{URL: req.Sink.URL, FinalizeURL: req.Sink.FinalizeURL, Secret: req.Sink.Secret}, r.platformURL())
	if err != nil {
		return nil, err
	}
	label := plan.Model.Label
	if label == "" {
		label = plan.Model.ModelID
	}
	return &runs.PlannedRun{Spec: plan.Spec, ModelLabel: label, ModelSource: plan.ModelSource,
		ProviderProfiles: plan.ProviderProfiles}, nil
}

// buildRunPlanner plugs the run planner into the run worker.
func (a *App) buildRunPlanner() {
	a.Runs.Planner = runPlanner{
		p: &runplan.Planner{DB: a.DB, Registry: a.Registry, Models: a.Models, Resolver: a.Resolver, Uploads: a.Uploads,
			Logger: a.Logger},
		platformURL: func() string { return a.Runs.Sink.PlatformURL },
	}
}
