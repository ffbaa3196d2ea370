package runs

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/appstrate/appstrate-go/internal/executor"
	"github.com/appstrate/appstrate-go/internal/store"
)

// Planner builds the execution of a claimed run: the platform plugs internal/runplan in (through an adapter
// in internal/app), tests may plug their own. Without one, runs start with only their sink environment.
type Planner interface {
	PlanRun(ctx context.Context, req PlanRequest) (*PlannedRun, error)
}

// PlanRequest is what the worker knows when it plans a run.
type PlanRequest struct {
	RunID   string
	Token   string // the run token, for the sidecar's /internal calls
	Version string // the agent version the run was created for; "" = the draft
	Sink    Sink
}

// PlannedRun is a run's execution with what was resolved to build it, recorded on the run.
type PlannedRun struct {
	Spec             executor.Spec
	ModelLabel       string
	ModelSource      string            // "system" | "org"
	ProviderProfiles map[string]string // provider id → connection profile id
}

// plan builds the spec of run id and records what was resolved; errors are the run's failure message.
func (s *Service) plan(ctx context.Context, args RunArgs, sk Sink, timeout time.Duration) (executor.Spec, error) {
	token := Token(s.TokenSecret, args.RunID)
	if s.Planner == nil {
		return executor.Spec{RunID: args.RunID, RunToken: token, Timeout: timeout, Env: sk.Env(),
			Files: map[string][]byte{}}, nil
	}
	p, err := s.Planner.PlanRun(ctx, PlanRequest{RunID: args.RunID, Token: token, Version: args.Version, Sink: sk})
	if err != nil {
		return executor.Spec{}, err
	}
	spec := p.Spec
	spec.RunID, spec.RunToken, spec.Timeout = args.RunID, token, timeout
	var profiles any
	if len(p.ProviderProfiles) > 0 {
		raw, err := json.Marshal(p.ProviderProfiles)
		if err != nil {
			return executor.Spec{}, fmt.Errorf("encode provider profiles: %w", err)
		}
		profiles = string(raw)
	}
	if _, err := s.DB.ExecContext(ctx, `UPDATE runs SET model_label = ?, model_source = ?, provider_profile_ids = ?
		WHERE id = ?`, store.NullIfEmpty(p.ModelLabel), store.NullIfEmpty(p.ModelSource), profiles, args.RunID); err != nil {
		return executor.Spec{}, fmt.Errorf("record the plan of run %s: %w", args.RunID, err)
	}
	return spec, nil
}
