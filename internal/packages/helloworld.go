package packages

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/appstrate/appstrate-go/internal/afps/semver"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// HelloWorldName is the name of the starter agent every new organization gets (`@<orgSlug>/hello-world`).
const HelloWorldName = "hello-world"

// OutputToolID is the system tool the starter agent depends on.
const OutputToolID = "@appstrate/output"

// helloWorldFallbackOutput is the output tool version the dependency range names when the system packages are
// not loaded (the range is `^<canonical version>` of @appstrate/output otherwise).
const helloWorldFallbackOutput = "1.0.0"

// HelloWorldPrompt is the prompt.md of the starter agent (a Mustache template: schemaVersion 1.1).
const HelloWorldPrompt = `# Hello World

You are a cheerful assistant whose only job is to greet people.

Greet **{{input.name}}**{{^input.name}}the world{{/input.name}} in {{config.language}}{{^config.language}}English{{/config.language}}.
Keep it to one or two warm sentences, and add a light touch of humour if it fits.

When you are done, call the ` + "`output`" + ` tool exactly once with:
- ` + "`greeting`" + `: the greeting you wrote;
- ` + "`language`" + `: the language you used.

This agent is a starting point: edit this prompt, add input fields, skills, tools or providers, and run it again.
`

// helloWorldManifest is the draft manifest of `@<slug>/hello-world` (slug and output range filled in).
const helloWorldManifest = `{"$schema":"https://afps.appstrate.dev/packages/schema/v1/agent.schema.json",` +
	`"name":%q,"version":"1.0.0","type":"agent","schemaVersion":"1.1","displayName":"Hello World",` +
	`"description":"A friendly starter agent that greets someone by name. Edit it to build your own.",` +
	`"author":"Appstrate","keywords":["starter","example"],` +
	`"dependencies":{"tools":{%q:%q}},` +
	`"input":{"schema":{"type":"object","properties":{"name":{"type":"string","title":"Name","description":"Who to greet","maxLength":100}}},` +
	`"uiHints":{"name":{"placeholder":"Ada"}}},` +
	`"output":{"schema":{"type":"object","properties":{"greeting":{"type":"string","description":"The greeting"},` +
	`"language":{"type":"string","description":"Language of the greeting"}},"required":["greeting"]}},` +
	`"config":{"schema":{"type":"object","properties":{"language":{"type":"string","title":"Language",` +
	`"description":"Language of the greetings","enum":["English","French","Spanish","German"],"default":"English"}}}}}`

// HelloWorldManifest returns the draft manifest of the starter agent of the organization with this slug;
// outputVersion is the version of @appstrate/output the dependency range is built from.
func HelloWorldManifest(orgSlug, outputVersion string) string {
	return fmt.Sprintf(helloWorldManifest, "@"+orgSlug+"/"+HelloWorldName, OutputToolID, semver.CaretRange(outputVersion))
}

// InstallHelloWorld is the organization-creation hook (tenancy.OrgCreatedHook): inside the creation
// transaction it creates `@<slug>/hello-world` as a draft of the organization (no version row, as upstream)
// and installs it in the default application. When that id is already taken (package ids are global) the
// organization simply starts without it.
func InstallHelloWorld(ctx context.Context, q store.Querier, orgID, defaultAppID, userID string) error {
	var slug string
	if err := q.QueryRowContext(ctx, `SELECT slug FROM organizations WHERE id = ?`, orgID).Scan(&slug); err != nil {
		return fmt.Errorf("hello-world: organization slug: %w", err)
	}
	outputVersion := helloWorldFallbackOutput
	var manifest []byte
	err := q.QueryRowContext(ctx, `SELECT draft_manifest FROM packages WHERE id = ? AND source = 'system'`, OutputToolID).Scan(&manifest)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("hello-world: output tool: %w", err)
	}
	if v := apManifestInfo(manifest).Version; semver.Valid(v) {
		outputVersion = v
	}
	id := "@" + slug + "/" + HelloWorldName
	now := isotime.Now()
	var createdBy any
	if userID != "" {
		createdBy = userID
	}
	res, err := q.ExecContext(ctx, `INSERT INTO packages (id, org_id, type, source, draft_manifest, draft_content, auto_installed,
		lock_version, ephemeral, created_by, created_at, updated_at) VALUES (?, ?, 'agent', 'local', ?, ?, ?, 1, ?, ?, ?, ?)
		ON CONFLICT (id) DO NOTHING`, id, orgID, HelloWorldManifest(slug, outputVersion), HelloWorldPrompt, true, false, createdBy, now, now)
	if err != nil {
		return fmt.Errorf("hello-world: create %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil // the id belongs to someone else
	}
	if _, err := q.ExecContext(ctx, `INSERT INTO application_packages (application_id, package_id, config, enabled, installed_at, updated_at)
		VALUES (?, ?, '{}', ?, ?, ?) ON CONFLICT (application_id, package_id) DO NOTHING`, defaultAppID, id, true, now, now); err != nil {
		return fmt.Errorf("hello-world: install %s: %w", id, err)
	}
	return nil
}
