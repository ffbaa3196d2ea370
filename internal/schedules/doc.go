// Package schedules owns agent schedules (API.md §4.10, §5 item 17, §8.2; PLATFORM.md §2.2): a cron
// expression in an IANA time zone that runs an agent of an application as the owner of a connection profile,
// with an input and overrides frozen when the schedule is written.
//
// # Firing exactly once
//
// Each enabled schedule holds its next slot in next_run_at (computed by internal/cron in the schedule's zone
// when the schedule is written and after every fire). A periodic River job (FireArgs, every FireInterval on
// the quarter minute, run by the job leader) fires the schedules whose slot has come: for each, the run is
// created through runs.Service.Create with a Claim that moves next_run_at from the slot read to the next slot
// with a conditional UPDATE (WHERE next_run_at = <slot>) inside the transaction that inserts the run and its
// job. Two processes, or two overlapping fire jobs, that fire the same slot therefore serialize on the row: the
// second UPDATE matches nothing and its run is rolled back. A crash before the commit leaves the slot unclaimed
// and the next fire job takes it. This holds on SQLite and on PostgreSQL, with any number of serve processes.
//
// Slots missed while no process was running fire once, not once per missed slot: a schedule more than
// CatchUpWindow (1 min) behind fires once and its next slot is computed from the time of that fire. A slot that
// fires less late than that is followed by the next slot as usual, so a fire job delayed by a few seconds
// across a minute boundary does not lose the every-minute slot after it.
//
// # Failures
//
// A fire runs the same preflight as POST /api/agents/{scope}/{name}/run (input, config, provider readiness of
// the schedule's profile, org limits). When it fails, the slot is claimed the same way and a run is recorded
// already failed with the reason (runs.Service.CreateFailed: duration 0, webhook run.failed), so a schedule is
// never skipped silently.
//
// # Actor
//
// The run's actor is the owner of the schedule's connection profile: its user, its end-user, or nobody for an
// application profile (RUNTIME.md §1.1). Only the caller's own profiles and the application's profiles can be
// given to a schedule.
package schedules
