package packages

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/appstrate/appstrate-go/internal/afps"
	"github.com/appstrate/appstrate-go/internal/blob"
	"github.com/appstrate/appstrate-go/internal/store"
)

// Drafts (PACKAGES.md §2.1, §2.4): the editable state of a package is its packages row — draft_manifest and
// draft_content are authoritative — plus the other draft files, zipped in the library bucket under
// DraftKey. Published versions are immutable archives built from the draft.

// DraftInput is the body of JSON create and update. Nil members are absent.
type DraftInput struct {
	Manifest   json.RawMessage // a JSON object; required on create
	Content    *string         // prompt.md (agent), SKILL.md (skill), TOOL.md (tool), PROVIDER.md (provider)
	SourceCode *string         // tools: the entrypoint source
}

// DraftResult is what create and update return.
type DraftResult struct {
	PackageID   string
	LockVersion int
	Warnings    []string
}

// CreatedMessage is the create route's message ("Agent created").
func CreatedMessage(typ string) string {
	if typ == "" {
		return "Package created"
	}
	return strings.ToUpper(typ[:1]) + typ[1:] + " created"
}

// Create makes a new package of the caller's organization from JSON (upstream createOrgItem): validates the
// manifest and content, checks scope (403 scope_mismatch) and collisions (400 name_collision, org or system),
// stamps $schema (and the tool defaults), stores the draft row and files, publishes manifest.version and
// installs the package in the caller's application — all in one transaction.
func (r *Registry) Create(ctx context.Context, c Caller, typ string, in DraftInput) (*DraftResult, error) {
	if len(bytes.TrimSpace(in.Manifest)) == 0 {
		return nil, regValidation(FieldIssue{Field: "manifest", Code: "required", Message: "manifest is required"})
	}
	files, m, err := buildDraft(typ, in.Manifest, nil, in.Content, in.SourceCode, true)
	if err != nil {
		return nil, err
	}
	id := m.Name
	slug, err := regOrgSlug(ctx, r.DB, c.OrgID)
	if err != nil {
		return nil, err
	}
	if scope, _, _ := afps.SplitName(id); scope != slug {
		return nil, regForbidden("scope_mismatch", fmt.Sprintf("Package scope must be @%s (got %s)", slug, id))
	}
	pkg, err := afps.LoadPackage(files, afps.ValidateOptions{})
	if err != nil {
		return nil, draftValidationError(typ, err)
	}
	archive, err := afps.WritePackage(files)
	if err != nil {
		return nil, fmt.Errorf("write archive of %s: %w", id, err)
	}
	var lock int
	err = r.inTx(ctx, func(tx *store.Tx, j *blobJournal) error {
		if err := LockPackage(ctx, tx, id); err != nil {
			return err
		}
		if _, err := GetPackage(ctx, tx, id); err == nil {
			return regInvalid("name_collision", "A package named "+id+" already exists")
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		p := &Package{ID: id, OrgID: c.OrgID, Type: typ, Source: SourceLocal, DraftManifest: compactJSON(m.Raw),
			DraftContent: pkg.Content(), LockVersion: 1, CreatedBy: c.UserID}
		t := regNow()
		p.CreatedAt, p.UpdatedAt = t, t
		if err := insertPackage(ctx, tx, p); err != nil {
			return err
		}
		if err := r.putDraftFiles(ctx, j, p, files); err != nil {
			return err
		}
		if typ == TypeProvider {
			if err := regEnableProvider(ctx, tx, c.AppID, id); err != nil {
				return err
			}
		}
		if _, err := r.publish(ctx, tx, j, p, pkg.Manifest, archive, c.UserID, publishOptions{at: t}); err != nil {
			return err
		}
		if err := regAutoInstall(ctx, tx, c.AppID, id); err != nil {
			return err
		}
		regAudit(ctx, tx, c, "package.created", id, map[string]any{"type": typ, "version": m.Version})
		lock = p.LockVersion
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &DraftResult{PackageID: id, LockVersion: lock, Warnings: draftWarnings(pkg)}, nil
}

// UpdateInput is the body of PUT: the members to change and the lockVersion the client read.
type UpdateInput struct {
	DraftInput
	LockVersion int
}

// Update changes an owned package's draft with compare-and-swap on lock_version (409 conflict when stale).
// The manifest is re-validated, its name and type cannot change, and the existing ancillary files are kept.
func (r *Registry) Update(ctx context.Context, c Caller, typ, id string, in UpdateInput) (*DraftResult, error) {
	var res *DraftResult
	err := r.inTx(ctx, func(tx *store.Tx, j *blobJournal) error {
		if err := LockPackage(ctx, tx, id); err != nil {
			return err
		}
		p, err := r.owned(ctx, tx, c, typ, id)
		if err != nil {
			return err
		}
		current, err := r.draftFiles(ctx, tx, p)
		if err != nil {
			return err
		}
		manifest := in.Manifest
		if len(bytes.TrimSpace(manifest)) == 0 {
			manifest = current[afps.ManifestFile]
		}
		files, m, err := buildDraft(typ, manifest, current, in.Content, in.SourceCode, false)
		if err != nil {
			return err
		}
		if m.Name != id {
			return regInvalid("invalid_request", "The package name cannot be changed (manifest.name must be "+id+")")
		}
		pkg, err := afps.LoadPackage(files, afps.ValidateOptions{})
		if err != nil {
			return draftValidationError(typ, err)
		}
		t := regNow()
		n, err := execRows(ctx, tx, `UPDATE packages SET draft_manifest = ?, draft_content = ?, lock_version = lock_version + 1,
			updated_at = ? WHERE id = ? AND lock_version = ?`, string(compactJSON(m.Raw)), pkg.Content(), t, id, in.LockVersion)
		if err != nil {
			return fmt.Errorf("update package %s: %w", id, err)
		}
		if n == 0 {
			return regConflict("conflict", fmt.Sprintf("Package %s was modified concurrently (lockVersion %d is stale, current is %d)",
				id, in.LockVersion, p.LockVersion))
		}
		if err := r.putDraftFiles(ctx, j, p, files); err != nil {
			return err
		}
		regAudit(ctx, tx, c, "package.updated", id, nil)
		res = &DraftResult{PackageID: id, LockVersion: p.LockVersion + 1, Warnings: draftWarnings(pkg)}
		return nil
	})
	return res, err
}

// Delete removes a package of the caller's organization with its versions and archives. It is refused with
// 409 in_use while another package of the organization depends on it in its draft (provider_in_use for a
// provider used by agents).
func (r *Registry) Delete(ctx context.Context, c Caller, typ, id string) error {
	return r.inTx(ctx, func(tx *store.Tx, j *blobJournal) error {
		if err := LockPackage(ctx, tx, id); err != nil {
			return err
		}
		p, err := r.orgPackage(ctx, tx, c, typ, id)
		if err != nil {
			return err
		}
		users, err := regDependents(ctx, tx, c.OrgID, id)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			code := "in_use"
			if typ == TypeProvider {
				code = "provider_in_use"
			}
			return regConflict(code, fmt.Sprintf("%s is used by %s", id, strings.Join(users, ", ")))
		}
		versions, err := ListVersions(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM packages WHERE id = ?`, id); err != nil {
			return fmt.Errorf("delete package %s: %w", id, err)
		}
		for _, v := range versions {
			j.deleteLater(BucketVersions, VersionKey(id, v.Version))
		}
		j.deleteLater(BucketLibrary, DraftKey(p.OrgID, p.Type, id))
		regAudit(ctx, tx, c, "package.deleted", id, nil)
		return nil
	})
}

// regDependents lists the other non-ephemeral packages of an organization whose draft declares a dependency
// on id.
func regDependents(ctx context.Context, q store.Querier, orgID, id string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, draft_manifest FROM packages WHERE org_id = ? AND id <> ? AND ephemeral = ?`,
		orgID, id, false)
	if err != nil {
		return nil, fmt.Errorf("dependents of %s: %w", id, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var pid string
		var raw []byte
		if err := rows.Scan(&pid, &raw); err != nil {
			return nil, fmt.Errorf("scan dependent of %s: %w", id, err)
		}
		if draftDependsOn(raw, id) {
			out = append(out, pid)
		}
	}
	sort.Strings(out)
	return out, rows.Err()
}

// draftDependsOn reports whether a manifest declares id in any dependency section.
func draftDependsOn(manifest []byte, id string) bool {
	var m struct {
		Dependencies map[string]json.RawMessage `json:"dependencies"`
	}
	if json.Unmarshal(manifest, &m) != nil {
		return false
	}
	for _, section := range []string{"skills", "tools", "providers"} {
		var deps map[string]json.RawMessage
		if json.Unmarshal(m.Dependencies[section], &deps) == nil {
			if _, ok := deps[id]; ok {
				return true
			}
		}
	}
	return false
}

// buildDraft assembles and checks the files of a draft from a JSON manifest and the companion texts, on top of
// base (the current draft files on update). It stamps `type` when absent, `$schema`, and for tools the default
// entrypoint and tool block (upstream createOrgItem). Manifest problems are 400 validation_failed with
// `manifest.<path>` fields; content problems use the `content` / `sourceCode` fields.
func buildDraft(typ string, raw json.RawMessage, base map[string][]byte, content, source *string, creating bool) (map[string][]byte, *afps.Manifest, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, nil, regValidation(FieldIssue{Field: "manifest", Code: "invalid_manifest", Title: "Invalid Manifest",
			Message: "manifest must be a JSON object"})
	}
	var err error
	stamp := func(key string, value any, first bool) {
		if err == nil {
			raw, err = setJSONMember(raw, key, value, first)
		}
	}
	if _, ok := obj["type"]; !ok {
		stamp("type", typ, false)
	}
	stamp("$schema", afps.Type(typ).SchemaURL(), true)
	if typ == TypeTool {
		if _, ok := obj["entrypoint"]; !ok {
			stamp("entrypoint", "tool.ts", false)
		}
		if _, ok := obj["tool"]; !ok {
			stamp("tool", defaultToolBlock(obj), false)
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("stamp manifest: %w", err)
	}
	m, err := afps.ParseManifest(raw)
	if err != nil {
		return nil, nil, draftValidationError(typ, err)
	}
	var issues []FieldIssue
	if string(m.Type) != typ {
		issues = append(issues, FieldIssue{Field: "manifest.type", Code: "invalid_manifest", Title: "Invalid Manifest",
			Message: fmt.Sprintf("type must be %q on this route", typ)})
	}
	if err := afps.Validate(m, afps.ValidateOptions{}); err != nil {
		issues = append(issues, manifestIssues(err)...)
	}
	files := make(map[string][]byte, len(base)+3)
	for k, v := range base {
		files[k] = v
	}
	files[afps.ManifestFile] = m.Raw
	switch typ {
	case TypeAgent, TypeSkill:
		name := afps.PromptFile
		if typ == TypeSkill {
			name = afps.SkillFile
		}
		if content != nil {
			files[name] = []byte(*content)
		}
		if strings.TrimSpace(string(files[name])) == "" {
			issues = append(issues, FieldIssue{Field: "content", Code: "required", Message: "content is required and must not be blank"})
		} else if typ == TypeSkill && afps.ParseSkillMD(files[name]).Name == "" {
			issues = append(issues, FieldIssue{Field: "content", Code: "invalid_content", Title: "Invalid Content",
				Message: "SKILL.md frontmatter has no name"})
		}
	case TypeTool:
		if content != nil {
			setOrDrop(files, afps.ToolDocFile, *content)
		}
		entry := cleanRelPath(m.Entrypoint)
		if source != nil && entry != "" {
			files[entry] = []byte(*source)
		}
		if entry != "" {
			if msg := validateToolSource(string(files[entry])); msg != "" && (creating || source != nil) {
				issues = append(issues, FieldIssue{Field: "sourceCode", Code: "invalid_source", Title: "Invalid Source", Message: msg})
			}
		}
	case TypeProvider:
		if content != nil {
			setOrDrop(files, afps.ProviderFile, *content)
		}
	}
	if len(issues) > 0 {
		return nil, nil, regValidation(issues...)
	}
	return files, m, nil
}

// setOrDrop sets a companion file, or removes it when the new text is empty.
func setOrDrop(files map[string][]byte, name, text string) {
	if text == "" {
		delete(files, name)
		return
	}
	files[name] = []byte(text)
}

// defaultToolBlock is the `tool` block stamped on a tool created without one.
func defaultToolBlock(obj map[string]json.RawMessage) map[string]any {
	var name, desc, display string
	_ = json.Unmarshal(obj["name"], &name)
	_ = json.Unmarshal(obj["description"], &desc)
	_ = json.Unmarshal(obj["displayName"], &display)
	_, short, _ := strings.Cut(name, "/")
	if short == "" {
		short = "tool"
	}
	if desc == "" {
		desc = display
	}
	if desc == "" {
		desc = short
	}
	return map[string]any{"name": short, "description": desc, "inputSchema": map[string]any{"type": "object", "properties": map[string]any{}}}
}

var (
	exportDefaultRe = regexp.MustCompile(`\bexport\s+default\b`)
	emptyToolNameRe = regexp.MustCompile(`registerTool\s*\(\s*\{[^}]*\bname\s*:\s*(""|''|` + "``" + `)`)
	oneParamExecRe  = regexp.MustCompile(`\bexecute\s*(?::\s*(?:async\s*)?(?:function\s*)?)?\(\s*[A-Za-z_$][\w$]*\s*(?::[^,()]*)?\)`)
)

// validateToolSource is upstream's authoring-time check of a tool's source (PACKAGES.md §1.8): "" when the
// source is acceptable, else the reason.
func validateToolSource(src string) string {
	switch {
	case strings.TrimSpace(src) == "":
		return "sourceCode is required and must not be blank"
	case !exportDefaultRe.MatchString(src):
		return "The tool module must have a default export (export default function (pi) { ... })"
	case emptyToolNameRe.MatchString(src):
		return "registerTool() needs a non-empty name"
	case oneParamExecRe.MatchString(src):
		return "execute() receives (toolCallId, params, signal): a single parameter would receive the call id"
	}
	return ""
}

// draftWarnings are the non-fatal remarks of create and update.
func draftWarnings(p *afps.Package) []string {
	var w []string
	switch p.Manifest.Type {
	case afps.TypeSkill:
		if afps.ParseSkillMD(p.Files[afps.SkillFile]).Description == "" {
			w = append(w, "SKILL.md frontmatter has no description")
		}
	case afps.TypeTool:
		src := string(p.Files[cleanRelPath(p.Manifest.Entrypoint)])
		if !strings.Contains(src, ".registerTool(") {
			w = append(w, "The source never calls pi.registerTool(...)")
		}
		if !strings.Contains(src, "content:") {
			w = append(w, "execute() should return { content: [...] }")
		}
	}
	return w
}

// regValidation is a 400 validation_failed with field issues.
func regValidation(issues ...FieldIssue) *RegistryError {
	msg := issues[0].Message
	if issues[0].Field != "" {
		msg = issues[0].Field + ": " + msg
	}
	if len(issues) > 1 {
		msg += fmt.Sprintf(" (+%d more)", len(issues)-1)
	}
	return &RegistryError{Kind: KindInvalid, Code: "validation_failed", Message: msg, Issues: issues}
}

// manifestIssues maps afps issues onto `manifest.<path>` field issues.
func manifestIssues(err error) []FieldIssue {
	var ve *afps.ValidationError
	if !errors.As(err, &ve) {
		return []FieldIssue{{Field: "manifest", Code: "invalid_manifest", Title: "Invalid Manifest", Message: err.Error()}}
	}
	out := make([]FieldIssue, 0, len(ve.Issues))
	for _, is := range ve.Issues {
		field := "manifest"
		if is.Path != "" {
			field += "." + is.Path
		}
		out = append(out, FieldIssue{Field: field, Code: "invalid_manifest", Title: "Invalid Manifest", Message: is.Message})
	}
	return out
}

// draftValidationError maps an afps validation failure of draft files onto validation_failed: manifest issues
// under `manifest.<path>`, content issues under `content` (`sourceCode` for a tool's entrypoint).
func draftValidationError(typ string, err error) error {
	var ve *afps.ValidationError
	if !errors.As(err, &ve) {
		return regValidation(manifestIssues(err)...)
	}
	var out []FieldIssue
	for _, is := range ve.Issues {
		switch is.Code {
		case afps.CodeMissingContent, afps.CodeInvalidContent:
			field, code := "content", strings.ToLower(string(is.Code))
			if typ == TypeTool {
				field, code = "sourceCode", "invalid_source"
			}
			out = append(out, FieldIssue{Field: field, Code: code, Title: "Invalid Content", Message: is.Message})
		default:
			out = append(out, manifestIssues(&afps.ValidationError{Issues: []afps.Issue{is}})...)
		}
	}
	return regValidation(out...)
}

// draftFiles returns a package's draft files: the stored draft archive (else, for packages without one, the
// files of the latest version), with manifest.json and the primary content taken from the row, which is
// authoritative.
func (r *Registry) draftFiles(ctx context.Context, q store.Querier, p *Package) (map[string][]byte, error) {
	files := map[string][]byte{}
	data, err := r.Blobs.Get(ctx, BucketLibrary, DraftKey(p.OrgID, p.Type, p.ID))
	switch {
	case err == nil:
		a, err := afps.ReadArchive(data, afps.PackageLimits)
		if err != nil {
			return nil, fmt.Errorf("read draft archive of %s: %w", p.ID, err)
		}
		files = a.Files
	case errors.Is(err, blob.ErrNotFound):
		if v, err := latestVersion(ctx, q, p.ID); err == nil && v != nil {
			if vf, _, err := r.versionFiles(ctx, v); err == nil {
				files = vf
			}
		}
	default:
		return nil, fmt.Errorf("read draft archive of %s: %w", p.ID, err)
	}
	// The row is authoritative, but PostgreSQL jsonb re-orders members: keep the stored file's exact bytes when
	// it holds the same document.
	manifest := compactJSON(p.DraftManifest)
	if stored, ok := files[afps.ManifestFile]; !ok || !sameJSONDocument(stored, manifest) {
		files[afps.ManifestFile] = manifest
	} else {
		manifest = stored
	}
	m, _ := afps.ParseManifest(manifest)
	switch p.Type {
	case TypeAgent:
		files[afps.PromptFile] = []byte(p.DraftContent)
	case TypeSkill:
		files[afps.SkillFile] = []byte(p.DraftContent)
	case TypeTool:
		if m != nil && cleanRelPath(m.Entrypoint) != "" {
			files[cleanRelPath(m.Entrypoint)] = []byte(p.DraftContent)
		}
	case TypeProvider:
		if c := strings.TrimSpace(p.DraftContent); c != "" && !(strings.HasPrefix(c, "{") && json.Valid([]byte(c))) {
			files[afps.ProviderFile] = []byte(p.DraftContent)
		}
	}
	return files, nil
}

// sameJSONDocument reports whether two JSON texts hold the same document (member order aside).
func sameJSONDocument(a, b []byte) bool {
	decode := func(raw []byte) (any, bool) {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var v any
		return v, dec.Decode(&v) == nil
	}
	x, okX := decode(a)
	y, okY := decode(b)
	return okX && okY && reflect.DeepEqual(x, y)
}

// putDraftFiles stores the draft files of p (journaled).
func (r *Registry) putDraftFiles(ctx context.Context, j *blobJournal, p *Package, files map[string][]byte) error {
	data, err := afps.WriteStoredPackage(files)
	if err != nil {
		return fmt.Errorf("write draft archive of %s: %w", p.ID, err)
	}
	return j.put(ctx, BucketLibrary, DraftKey(p.OrgID, p.Type, p.ID), data)
}

// insertPackage inserts a packages row.
func insertPackage(ctx context.Context, q store.Querier, p *Package) error {
	_, err := q.ExecContext(ctx, `INSERT INTO packages (id, org_id, type, source, draft_manifest, draft_content, auto_installed,
		lock_version, forked_from, ephemeral, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, regNull(p.OrgID), p.Type, p.Source, string(p.DraftManifest), p.DraftContent, p.AutoInstalled, p.LockVersion,
		regNull(p.ForkedFrom), p.Ephemeral, regNull(p.CreatedBy), p.CreatedAt, p.UpdatedAt)
	if store.IsUniqueViolation(err) {
		return regInvalid("name_collision", "A package named "+p.ID+" already exists")
	}
	if err != nil {
		return fmt.Errorf("insert package %s: %w", p.ID, err)
	}
	return nil
}

// regEnableProvider is the provider type hook: an enabled application credential row without credentials.
func regEnableProvider(ctx context.Context, q store.Querier, appID, providerID string) error {
	if appID == "" {
		return nil
	}
	t := regNow()
	_, err := q.ExecContext(ctx, `INSERT INTO application_provider_credentials (id, application_id, provider_id, enabled, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (application_id, provider_id) DO NOTHING`, regUUID(), appID, providerID, true, t, t)
	if err != nil {
		return fmt.Errorf("enable provider %s in %s: %w", providerID, appID, err)
	}
	return nil
}

// execRows runs a statement and returns the affected row count.
func execRows(ctx context.Context, q store.Querier, query string, args ...any) (int64, error) {
	res, err := q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// cleanRelPath removes "." and empty segments of an archive path; "" for an unsafe one.
func cleanRelPath(p string) string {
	if p == "" || strings.HasPrefix(p, "/") || strings.ContainsAny(p, "\\\x00") {
		return ""
	}
	var kept []string
	for _, s := range strings.Split(p, "/") {
		switch s {
		case "", ".":
		case "..":
			return ""
		default:
			kept = append(kept, s)
		}
	}
	return strings.Join(kept, "/")
}

// compactJSON removes insignificant whitespace (PostgreSQL jsonb re-formats documents); invalid JSON is
// returned unchanged.
func compactJSON(raw []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return raw
	}
	return buf.Bytes()
}

// setJSONMember returns the JSON object obj with member key set to value — replaced in place when present,
// else inserted first or appended — keeping the other members and their order. The result is compact.
func setJSONMember(obj []byte, key string, value any, first bool) ([]byte, error) {
	type member struct {
		key string
		raw json.RawMessage
	}
	dec := json.NewDecoder(bytes.NewReader(obj))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	var members []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		members = append(members, member{k, raw})
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, errors.New("unterminated JSON object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the JSON object")
	}
	encoded, err := marshalNoEscape(value)
	if err != nil {
		return nil, err
	}
	replaced := false
	for i := range members {
		if members[i].key == key {
			members[i].raw, replaced = encoded, true
		}
	}
	if !replaced {
		if first {
			members = append([]member{{key, encoded}}, members...)
		} else {
			members = append(members, member{key, encoded})
		}
	}
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, mb := range members {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, _ := marshalNoEscape(mb.key)
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(compactJSON(mb.raw))
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// marshalNoEscape is json.Marshal without HTML escaping.
func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
