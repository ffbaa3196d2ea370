package schedules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/appstrate/appstrate-go/internal/cron"
	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/jsonschema"
	"github.com/appstrate/appstrate-go/internal/packages"
	"github.com/appstrate/appstrate-go/internal/runs"
	"github.com/appstrate/appstrate-go/internal/store"
)

// agentRef is an agent visible in the caller's application.
type agentRef struct {
	id            string
	draftManifest json.RawMessage
	system        bool
	config        []byte // the installation's config (nil for an uninstalled system agent)
}

// agent returns agentID when it is an agent of the caller's organization (or a system agent) installed in the
// caller's application (system agents need not be), else ErrAgentNotFound.
func (s *Service) agent(ctx context.Context, c runs.Caller, agentID string) (*agentRef, error) {
	p, err := packages.GetPackage(ctx, s.DB, agentID)
	if errors.Is(err, packages.ErrNotFound) {
		return nil, ErrAgentNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load agent %s: %w", agentID, err)
	}
	if p.Type != packages.TypeAgent || !p.VisibleToOrg(c.OrgID) {
		return nil, ErrAgentNotFound
	}
	a := &agentRef{id: p.ID, draftManifest: p.DraftManifest, system: p.IsSystem()}
	err = s.DB.QueryRowContext(ctx, `SELECT config FROM application_packages WHERE application_id = ? AND package_id = ?`,
		c.AppID, p.ID).Scan(&a.config)
	switch {
	case errNoRows(err) && !a.system:
		return nil, ErrAgentNotFound
	case err != nil && !errNoRows(err):
		return nil, fmt.Errorf("load installation of %s: %w", p.ID, err)
	}
	return a, nil
}

// checkProfile refuses a connection profile that is neither the caller's (its user's; an impersonated
// end-user's) nor an application profile of the caller's application.
func (s *Service) checkProfile(ctx context.Context, c runs.Caller, id string) error {
	if !ids.ValidUUID(id) {
		return invalid("connectionProfileId", jsonschema.CodeInvalidFmt, "must be a connection profile id (uuid)")
	}
	var userID, endUserID, appID *string
	err := s.DB.QueryRowContext(ctx, `SELECT user_id, end_user_id, application_id FROM connection_profiles WHERE id = ?`,
		id).Scan(&userID, &endUserID, &appID)
	if errNoRows(err) {
		return ErrProfileForbidden
	}
	if err != nil {
		return fmt.Errorf("load connection profile %s: %w", id, err)
	}
	switch {
	case appID != nil && *appID == c.AppID:
		return nil
	case c.EndUserID != "" && endUserID != nil && *endUserID == c.EndUserID:
		return nil
	case c.EndUserID == "" && c.UserID != "" && userID != nil && *userID == c.UserID:
		return nil
	}
	return ErrProfileForbidden
}

// validate checks a schedule about to be written and sets its next run: name, cron expression and zone, the
// version override, and the input and config override against the agent's schemas (agents with file inputs
// cannot be scheduled: an upload can be consumed once).
func (s *Service) validate(ctx context.Context, a *agentRef, sc *Schedule) error {
	if sc.Name != nil {
		name := strings.TrimSpace(*sc.Name)
		switch {
		case name == "":
			sc.Name = nil
		case utf8.RuneCountInString(name) > MaxNameLength:
			return invalid("name", jsonschema.CodeOutOfRange, fmt.Sprintf("must be at most %d characters", MaxNameLength))
		default:
			sc.Name = &name
		}
	}
	sched, err := cron.ParseIn(sc.CronExpression, sc.Timezone)
	var pe *cron.ParseError
	var ze *cron.ZoneError
	switch {
	case errors.As(err, &pe):
		return invalid("cronExpression", "invalid_cron", strings.TrimPrefix(pe.Error(), "cron: "))
	case errors.As(err, &ze):
		return invalid("timezone", "invalid_timezone", strings.TrimPrefix(ze.Error(), "cron: "))
	case err != nil:
		return err
	}
	sc.CronExpression = sched.Expr().String()
	sc.NextRunAt = isoZero
	if sc.Enabled {
		sc.NextRunAt = nextAfter(sched, s.now())
	}
	manifest := []byte(a.draftManifest)
	if sc.VersionOverride != nil {
		v, err := s.resolveVersion(ctx, a, *sc.VersionOverride)
		if err != nil {
			return err
		}
		if v == "" {
			return invalid("versionOverride", jsonschema.CodeInvalidValue, "no published version or dist-tag "+
				*sc.VersionOverride+" of "+a.id)
		}
		if err := s.DB.QueryRowContext(ctx, `SELECT manifest FROM package_versions WHERE package_id = ? AND version = ?`,
			a.id, v).Scan(&manifest); err != nil {
			return fmt.Errorf("load version %s of %s: %w", v, a.id, err)
		}
	}
	if len(sc.Input) == 0 || string(sc.Input) == "null" {
		sc.Input = json.RawMessage(`{}`)
	}
	if files := fileInputs(manifest); len(files) > 0 {
		ve := &ValidationError{}
		for _, f := range files {
			ve.Fields = append(ve.Fields, jsonschema.FieldError{Path: "input." + f, Code: jsonschema.CodeInvalidValue,
				Message: "file inputs cannot be scheduled: an upload can be used by one run only"})
		}
		return ve
	}
	var rve *runs.ValidationError
	if err := runs.Check(manifest, sc.Input, a.config, sc.ConfigOverride); errors.As(err, &rve) {
		ve := &ValidationError{}
		for _, f := range rve.Fields {
			if rest, ok := strings.CutPrefix(f.Path, "config"); ok {
				f.Path = "configOverride" + rest
			}
			ve.Fields = append(ve.Fields, f)
		}
		return ve
	} else if err != nil {
		return err
	}
	return nil
}

// resolveVersion returns the version spec names — a published version, else a dist-tag — or "" when it names
// none. System agents have no published versions.
func (s *Service) resolveVersion(ctx context.Context, a *agentRef, spec string) (string, error) {
	if a.system {
		return "", nil
	}
	var v string
	err := s.DB.QueryRowContext(ctx, `SELECT version FROM package_versions WHERE package_id = ? AND version = ?`,
		a.id, spec).Scan(&v)
	if errNoRows(err) {
		err = s.DB.QueryRowContext(ctx, `SELECT v.version FROM package_dist_tags t
			JOIN package_versions v ON v.id = t.version_id WHERE t.package_id = ? AND t.tag = ?`, a.id, spec).Scan(&v)
	}
	if errNoRows(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("resolve version %s of %s: %w", spec, a.id, err)
	}
	return v, nil
}

// fileInputs returns the input properties that are file uploads (PACKAGES.md §2: format "uri" with a
// contentMediaType, or an array of such), sorted.
func fileInputs(manifest []byte) []string {
	var m struct {
		Input struct {
			Schema struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schema"`
		} `json:"input"`
	}
	if json.Unmarshal(manifest, &m) != nil {
		return nil
	}
	var out []string
	for name, raw := range m.Input.Schema.Properties {
		var prop struct {
			fileProp
			Items *fileProp `json:"items"`
		}
		if json.Unmarshal(raw, &prop) != nil {
			continue
		}
		if prop.isFile() || prop.Items != nil && prop.Items.isFile() {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

type fileProp struct {
	Format           string          `json:"format"`
	ContentMediaType json.RawMessage `json:"contentMediaType"`
}

func (p fileProp) isFile() bool { return p.Format == "uri" && len(p.ContentMediaType) > 0 }

// scopeWhere restricts a schedule query to the caller's application; an impersonated end-user sees only the
// schedules on its own profiles.
func scopeWhere(c runs.Caller) (string, []any) {
	where, args := ` WHERE s.org_id = ? AND s.application_id = ?`, []any{c.OrgID, c.AppID}
	if c.EndUserID != "" {
		where += ` AND cp.end_user_id = ?`
		args = append(args, c.EndUserID)
	}
	return where, args
}

// row is a schedule with its profile.
type row struct {
	Schedule
	profileName                 string
	profileUser, profileEndUser *string
	profileApp, profileOwner    *string
}

// actor is the run caller of the schedule's fires: the owner of its profile.
func (r *row) actor() runs.Caller {
	c := runs.Caller{OrgID: r.OrgID, AppID: r.ApplicationID}
	switch {
	case r.profileEndUser != nil:
		c.EndUserID = *r.profileEndUser
	case r.profileUser != nil:
		c.UserID = *r.profileUser
	}
	return c
}

const selectSchedule = `SELECT s.id, s.package_id, s.connection_profile_id, s.org_id, s.application_id, s.name,
	s.enabled, s.cron_expression, s.timezone, s.input, s.config_override, s.model_id_override, s.proxy_id_override,
	s.version_override, s.last_run_at, s.next_run_at, s.created_at, s.updated_at,
	cp.name, cp.user_id, cp.end_user_id, cp.application_id, COALESCE(u.name, eu.name, a.name)
	FROM package_schedules s JOIN connection_profiles cp ON cp.id = s.connection_profile_id
	LEFT JOIN users u ON u.id = cp.user_id LEFT JOIN end_users eu ON eu.id = cp.end_user_id
	LEFT JOIN applications a ON a.id = cp.application_id`

func scanRow(sc interface{ Scan(...any) error }) (*row, error) {
	var r row
	var input, override []byte
	err := sc.Scan(&r.ID, &r.PackageID, &r.ConnectionProfileID, &r.OrgID, &r.ApplicationID, &r.Name, &r.Enabled,
		&r.CronExpression, &r.Timezone, &input, &override, &r.ModelIDOverride, &r.ProxyIDOverride, &r.VersionOverride,
		&r.LastRunAt, &r.NextRunAt, &r.CreatedAt, &r.UpdatedAt,
		&r.profileName, &r.profileUser, &r.profileEndUser, &r.profileApp, &r.profileOwner)
	if err != nil {
		return nil, err
	}
	r.Input = json.RawMessage(`{}`)
	if len(input) > 0 {
		r.Input = json.RawMessage(input)
	}
	if len(override) > 0 {
		r.ConfigOverride = json.RawMessage(override)
	}
	return &r, nil
}

// get returns a schedule of the caller's application, else ErrNotFound.
func (s *Service) get(ctx context.Context, q store.Querier, c runs.Caller, id string) (*row, error) {
	where, args := scopeWhere(c)
	r, err := scanRow(q.QueryRowContext(ctx, selectSchedule+where+` AND s.id = ?`, append(args, id)...))
	if errNoRows(err) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get schedule %s: %w", id, err)
	}
	return r, nil
}
