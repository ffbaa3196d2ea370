package schedules

import (
	"context"
	"time"

	"github.com/appstrate/appstrate-go/internal/cron"
	"github.com/appstrate/appstrate-go/internal/providers"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// Readiness statuses.
const (
	Ready    = "ready"     // every provider the agent declares is connected on the schedule's profile
	Degraded = "degraded"  // some are
	NotReady = "not_ready" // none is (or the profile cannot be used)
)

var isoZero isotime.Time

// nextAfter is the schedule's first fire time after t (zero when it never fires).
func nextAfter(sched *cron.Schedule, t time.Time) isotime.Time {
	return isotime.From(sched.Next(t))
}

// detail adds the profile and the readiness to a schedule.
func (s *Service) detail(ctx context.Context, r *row) ScheduleDetail {
	d := ScheduleDetail{Schedule: r.Schedule, ProfileName: r.profileName, ProfileType: "user", ProfileOwnerName: r.profileOwner}
	if r.profileApp != nil {
		d.ProfileType = "app"
	}
	d.Readiness = s.readiness(ctx, r)
	return d
}

// readiness resolves the agent's providers as a fire of the schedule would: as the profile's owner, on the
// schedule's profile.
func (s *Service) readiness(ctx context.Context, r *row) ScheduleReadiness {
	out := ScheduleReadiness{Status: NotReady, MissingProviders: []string{}}
	if s.Resolver == nil {
		return out
	}
	c := r.actor()
	rc := providers.RunContext{OrgID: c.OrgID, AppID: c.AppID, AgentID: r.PackageID, ExplicitProfileID: r.ConnectionProfileID,
		Actor: providers.Actor{UserID: c.UserID, EndUserID: c.EndUserID}}
	resolved, missing, err := s.Resolver.Resolve(ctx, s.DB, rc)
	if err != nil {
		s.log().Warn("schedules: readiness not resolved", "schedule", r.ID, "error", err)
		return out
	}
	seen := map[string]bool{}
	for id := range resolved {
		seen[id] = true
	}
	for _, m := range missing {
		seen[m.ProviderID] = true
		out.MissingProviders = append(out.MissingProviders, m.ProviderID)
	}
	out.TotalProviders = len(seen)
	out.ConnectedProviders = out.TotalProviders - len(out.MissingProviders)
	switch {
	case len(out.MissingProviders) == 0:
		out.Status = Ready
	case out.ConnectedProviders > 0:
		out.Status = Degraded
	}
	return out
}
