package packages

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/appstrate/appstrate-go/internal/afps"
	"github.com/appstrate/appstrate-go/internal/packages/system"
)

func TestSystemCatalogLoadsEveryEmbeddedPackage(t *testing.T) {
	c := System()
	for _, err := range c.Problems() {
		t.Errorf("embedded package does not load: %v", err)
	}
	if got := len(c.All()); got != 66 {
		t.Errorf("versions = %d, want 66 (60 providers + 6 tool archives)", got)
	}
	if got := len(c.List(TypeProvider)); got != 60 {
		t.Errorf("providers = %d, want 60", got)
	}
	var tools []string
	for _, p := range c.List(TypeTool) {
		tools = append(tools, afps.Identity(p.ID, p.Version))
	}
	wantTools := []string{"@appstrate/log@1.0.0", "@appstrate/note@1.0.0", "@appstrate/output@2.0.0", "@appstrate/pin@1.0.0",
		"@appstrate/report@1.0.0"}
	if !reflect.DeepEqual(tools, wantTools) {
		t.Errorf("canonical tools = %v, want %v", tools, wantTools)
	}
	if got := c.List(TypeAgent); len(got) != 0 {
		t.Errorf("agents = %d, want none at this commit (health stays degraded)", len(got))
	}
	if got := c.List(TypeSkill); len(got) != 0 {
		t.Errorf("skills = %d, want none", len(got))
	}
	var outputs []string
	for _, p := range c.Versions("@appstrate/output") {
		outputs = append(outputs, p.Version)
	}
	if !reflect.DeepEqual(outputs, []string{"1.0.0", "2.0.0"}) {
		t.Errorf("output versions = %v", outputs)
	}
	for _, tc := range []struct {
		id   string
		want bool
	}{{"@appstrate/gmail", true}, {"@appstrate/output", true}, {"@appstrate/nope", false}, {"@acme/gmail", false}, {"", false}} {
		if got := c.IsSystem(tc.id); got != tc.want {
			t.Errorf("IsSystem(%q) = %v", tc.id, got)
		}
	}
	if p, ok := c.Get("@appstrate/output"); !ok || p.Version != "2.0.0" {
		t.Errorf("Get(output) = %v, %v; want the canonical 2.0.0", p, ok)
	}
	if p, ok := c.Version("@appstrate/output", "1.0.0"); !ok || p.Version != "1.0.0" {
		t.Errorf("Version(output, 1.0.0) = %v, %v", p, ok)
	}
	if _, ok := c.Version("@appstrate/output", "3.0.0"); ok {
		t.Error("Version(output, 3.0.0) found")
	}
}

// Every archive is what `appstrate package pack <folder>` produces, reads back as a strictly valid package with
// the same files, and packing is deterministic (the same integrity on every boot).
func TestSystemPackagesPackDeterministicallyAndValidateStrictly(t *testing.T) {
	again := LoadSystemCatalog(system.FS())
	for _, p := range System().All() {
		t.Run(p.Dir, func(t *testing.T) {
			archive, err := p.Archive()
			if err != nil {
				t.Fatal(err)
			}
			if p.Integrity() != afps.SRI(archive) {
				t.Errorf("integrity %s is not the SRI of the archive", p.Integrity())
			}
			q, _ := again.Version(p.ID, p.Version)
			if q == nil || q.Integrity() != p.Integrity() {
				t.Errorf("a second load packs differently")
			}
			files, err := afps.LoadDir(os.DirFS(filepath.Join("system", p.Dir)))
			if err != nil {
				t.Fatal(err)
			}
			packed, sri, err := afps.Pack(files, afps.ValidateOptions{Strict: true})
			if err != nil {
				t.Fatalf("strict pack of the source folder: %v", err)
			}
			if sri != p.Integrity() || !bytes.Equal(packed, archive) {
				t.Errorf("embedded archive differs from packing the folder on disk")
			}
			read, err := afps.ReadPackage(archive, afps.ValidateOptions{Strict: true})
			if err != nil {
				t.Fatalf("archive does not read back strictly: %v", err)
			}
			if !reflect.DeepEqual(read.Files, p.Package.Files) {
				t.Errorf("files changed on the round trip")
			}
			if err := afps.Validate(read.Manifest, afps.ValidateOptions{Strict: true}); err != nil {
				t.Errorf("strict validation: %v", err)
			}
			if read.Manifest.SchemaVersion != p.Manifest.SchemaVersion || p.Manifest.Author != "Appstrate" {
				t.Errorf("schemaVersion/author = %q/%q", p.Manifest.SchemaVersion, p.Manifest.Author)
			}
		})
	}
}

func TestSystemDigestIgnoresNothingThatShips(t *testing.T) {
	base := copyFS(t, system.FS())
	d0 := LoadSystemCatalog(base).Digest()
	if d0 != System().Digest() {
		t.Fatal("digest of a copy differs")
	}
	changed := copyFS(t, system.FS())
	f := changed["providers/gmail/PROVIDER.md"]
	f.Data = append(append([]byte(nil), f.Data...), "\nOne more line.\n"...)
	if LoadSystemCatalog(changed).Digest() == d0 {
		t.Error("changing a companion file does not change the digest")
	}
}

// factsPath is the machine-readable provider facts (shared/design/system-providers.json), copied by gen.
const factsPath = "testdata/system-providers.json"

type providerFact struct {
	Name        string          `json:"name"`
	Version     string          `json:"version"`
	DisplayName string          `json:"displayName"`
	DocsURL     string          `json:"docsUrl"`
	Categories  []string        `json:"categories"`
	IconURL     string          `json:"iconUrl"`
	Definition  json.RawMessage `json:"definition"`
}

func loadFacts(t *testing.T) []providerFact {
	t.Helper()
	raw, err := os.ReadFile(factsPath)
	if err != nil {
		t.Fatal(err)
	}
	// When the design folder is next to the repository (as in CI), the copy must be current.
	if shared, err := os.ReadFile("../../../shared/design/system-providers.json"); err == nil && !bytes.Equal(shared, raw) {
		t.Errorf("%s is stale: regenerate with internal/packages/system/gen", factsPath)
	}
	var facts []providerFact
	if err := json.Unmarshal(raw, &facts); err != nil {
		t.Fatal(err)
	}
	return facts
}

// Each provider manifest carries the facts of system-providers.json unchanged: identity, display fields and the
// whole definition, compared semantically member by member.
func TestSystemProvidersMatchFacts(t *testing.T) {
	facts := loadFacts(t)
	if len(facts) != 60 {
		t.Fatalf("facts = %d providers, want 60", len(facts))
	}
	c := System()
	for _, f := range facts {
		t.Run(f.Name, func(t *testing.T) {
			p, ok := c.Get(f.Name)
			if !ok {
				t.Fatal("no such system package")
			}
			m := p.Manifest
			if m.Type != afps.TypeProvider || m.Version != f.Version || m.SchemaVersion != "1.1" {
				t.Errorf("type/version/schemaVersion = %s/%s/%s", m.Type, m.Version, m.SchemaVersion)
			}
			if m.DisplayName != f.DisplayName || m.DocsURL != f.DocsURL || m.IconURL != f.IconURL ||
				!reflect.DeepEqual(m.Categories, f.Categories) {
				t.Errorf("display fields = %q %q %q %v", m.DisplayName, m.DocsURL, m.IconURL, m.Categories)
			}
			var obj map[string]json.RawMessage
			if err := json.Unmarshal(m.Raw, &obj); err != nil {
				t.Fatal(err)
			}
			var got, want map[string]any
			if err := json.Unmarshal(obj["definition"], &got); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(f.Definition, &want); err != nil {
				t.Fatal(err)
			}
			for k := range union(got, want) {
				if !reflect.DeepEqual(got[k], want[k]) {
					t.Errorf("definition.%s = %v, want %v", k, got[k], want[k])
				}
			}
			if strings.TrimSpace(m.Description) == "" {
				t.Error("no description")
			}
			sg := m.SetupGuide
			if sg == nil || len(sg.Steps) == 0 {
				t.Fatal("no setup guide steps")
			}
			oauth := m.Definition.AuthMode == afps.AuthOAuth2 || m.Definition.AuthMode == afps.AuthOAuth1
			if oauth != strings.Contains(sg.CallbackURLHint, "{{callbackUrl}}") {
				t.Errorf("callbackUrlHint %q for authMode %s", sg.CallbackURLHint, m.Definition.AuthMode)
			}
		})
	}
}

func union(a, b map[string]any) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// The provider table of PACKAGES.md §3.1, row by row, read through the typed definition (so the defaults of
// §4.1 apply): auth mode, injected header, PKCE, client authentication, scope separator, authorize params,
// token body encoding, credential fields, transforms, uploads, URL policy.
func TestSystemProvidersFollowPackagesTable(t *testing.T) {
	type row struct {
		name           string
		mode           string
		header, prefix string // injected header ("" = none)
		pkce, basic    bool
		sep            string // scope separator ("" = default space)
		params         string // authorization params, "k=v;k=v"
		json           bool   // tokenContentType application/json
		fields         string // credential schema properties, comma separated
		fieldName      string // resolved credentials.fieldName
		transform      string
		upload         string
		allowAll       bool
		uris           int // number of authorizedUris (0 = not checked)
	}
	g := "access_type=offline;prompt=consent"
	rows := []row{
		{name: "activecampaign", mode: "api_key", header: "Api-Token", fields: "account_name,api_key", fieldName: "api_key", allowAll: true},
		{name: "airtable", mode: "oauth2", header: "Authorization", prefix: "Bearer", pkce: true},
		{name: "asana", mode: "oauth2", header: "Authorization", prefix: "Bearer"},
		{name: "basecamp", mode: "oauth2", header: "Authorization", prefix: "Bearer", json: true, params: "type=web_server"},
		{name: "brevo", mode: "api_key", header: "api-key", fields: "api_key", fieldName: "api_key"},
		{name: "calendly", mode: "oauth2", header: "Authorization", prefix: "Bearer", pkce: true},
		{name: "canva", mode: "oauth2", header: "Authorization", prefix: "Bearer", pkce: true, basic: true},
		{name: "clickup", mode: "oauth2", header: "Authorization", prefix: "Bearer"},
		{name: "convertkit", mode: "oauth2", header: "Authorization", prefix: "Bearer", pkce: true},
		{name: "discord", mode: "oauth2", header: "Authorization", prefix: "Bearer", basic: true, params: "prompt=consent"},
		{name: "dropbox", mode: "oauth2", header: "Authorization", prefix: "Bearer", pkce: true, params: "token_access_type=offline"},
		{name: "dynamics365", mode: "oauth2", header: "Authorization", prefix: "Bearer", pkce: true, params: "prompt=consent", uris: 12},
		{name: "fathom", mode: "api_key", header: "X-Api-Key", fields: "api_key", fieldName: "api_key"},
		{name: "firecrawl", mode: "api_key", header: "Authorization", prefix: "Bearer", fields: "api_key", fieldName: "api_key"},
		{name: "freshdesk", mode: "api_key", header: "Authorization", prefix: "Basic", fields: "api_key,subdomain", fieldName: "api_key", transform: "{{api_key}}:X"},
		{name: "freshsales", mode: "api_key", header: "Authorization", prefix: "Token token=", fields: "api_key,subdomain", fieldName: "api_key"},
		{name: "github", mode: "oauth2", header: "Authorization", prefix: "Bearer"},
		{name: "gmail", mode: "oauth2", header: "Authorization", prefix: "Bearer", params: g},
		{name: "google-calendar", mode: "oauth2", header: "Authorization", prefix: "Bearer", params: g},
		{name: "google-contacts", mode: "oauth2", header: "Authorization", prefix: "Bearer", params: g},
		{name: "google-drive", mode: "oauth2", header: "Authorization", prefix: "Bearer", params: g, upload: "google-resumable"},
		{name: "google-forms", mode: "oauth2", header: "Authorization", prefix: "Bearer", params: g},
		{name: "google-sheets", mode: "oauth2", header: "Authorization", prefix: "Bearer", params: g},
		{name: "hubspot", mode: "oauth2", header: "Authorization", prefix: "Bearer"},
		{name: "intercom", mode: "oauth2", header: "Authorization", prefix: "Bearer"},
		{name: "jira", mode: "oauth2", header: "Authorization", prefix: "Bearer", json: true, params: "audience=api.atlassian.com;prompt=consent"},
		{name: "linear", mode: "oauth2", header: "Authorization", prefix: "Bearer", pkce: true, sep: ",", params: "prompt=consent"},
		{name: "linkedin", mode: "oauth2", header: "Authorization", prefix: "Bearer", pkce: true},
		{name: "loom", mode: "api_key", header: "Authorization", prefix: "Bearer", fields: "api_key", fieldName: "api_key"},
		{name: "mailchimp", mode: "oauth2", header: "Authorization", prefix: "Bearer"},
		{name: "microsoft-outlook", mode: "oauth2", header: "Authorization", prefix: "Bearer", pkce: true, upload: "ms-resumable"},
		{name: "microsoft-teams", mode: "oauth2", header: "Authorization", prefix: "Bearer", pkce: true, upload: "ms-resumable"},
		{name: "monday", mode: "oauth2", header: "Authorization", prefix: "Bearer"},
		{name: "notion", mode: "oauth2", header: "Authorization", prefix: "Bearer", basic: true, params: "owner=user"},
		{name: "onedrive", mode: "oauth2", header: "Authorization", prefix: "Bearer", pkce: true, upload: "ms-resumable"},
		{name: "paypal", mode: "oauth2", header: "Authorization", prefix: "Bearer", basic: true},
		{name: "pinterest", mode: "oauth2", header: "Authorization", prefix: "Bearer", basic: true, sep: ","},
		{name: "pipedrive", mode: "oauth2", header: "Authorization", prefix: "Bearer", basic: true},
		{name: "quickbooks-online", mode: "oauth2", header: "Authorization", prefix: "Bearer", basic: true},
		{name: "reddit", mode: "oauth2", header: "Authorization", prefix: "Bearer", basic: true, params: "duration=permanent"},
		{name: "salesforce", mode: "oauth2", header: "Authorization", prefix: "Bearer", pkce: true},
		{name: "shopify", mode: "api_key", header: "X-Shopify-Access-Token", fields: "access_token,shop_domain", fieldName: "access_token"},
		{name: "shortcut", mode: "api_key", header: "Shortcut-Token", fields: "api_key", fieldName: "api_key"},
		{name: "slack", mode: "oauth2", header: "Authorization", prefix: "Bearer", sep: ","},
		{name: "stripe", mode: "api_key", header: "Authorization", prefix: "Bearer", fields: "api_key", fieldName: "api_key"},
		{name: "teamwork", mode: "api_key", header: "Authorization", prefix: "Basic", fields: "api_key,subdomain", fieldName: "api_key", transform: "{{api_key}}:X"},
		{name: "telegram", mode: "api_key", fields: "bot_token", fieldName: "bot_token"},
		{name: "trello", mode: "oauth1", params: "expiration=never;name=Appstrate;scope=read,write"},
		{name: "twilio", mode: "api_key", header: "Authorization", prefix: "Basic", fields: "account_sid,auth_token", fieldName: "auth_token", transform: "{{account_sid}}:{{auth_token}}"},
		{name: "typeform", mode: "oauth2", header: "Authorization", prefix: "Bearer"},
		{name: "webhooks", mode: "custom", fields: "secret_header_name,secret_header_value,webhook_url", fieldName: "access_token", allowAll: true},
		{name: "woocommerce", mode: "custom", fields: "consumer_key,consumer_secret,site_url", fieldName: "access_token", allowAll: true},
		{name: "wordpress", mode: "custom", fields: "application_password,site_url,username", fieldName: "access_token", allowAll: true},
		{name: "wrike", mode: "oauth2", header: "Authorization", prefix: "Bearer", sep: ","},
		{name: "x", mode: "oauth2", header: "Authorization", prefix: "Bearer", pkce: true, basic: true},
		{name: "xero", mode: "oauth2", header: "Authorization", prefix: "Bearer", pkce: true, basic: true},
		{name: "youtube", mode: "oauth2", header: "Authorization", prefix: "Bearer", params: g, upload: "google-resumable"},
		{name: "zendesk", mode: "api_key", header: "Authorization", prefix: "Basic", fields: "api_key,email,subdomain", fieldName: "api_key", transform: "{{email}}/token:{{api_key}}"},
		{name: "zoho-crm", mode: "oauth2", header: "Authorization", prefix: "Zoho-oauthtoken", sep: ",", params: g, uris: 6},
		{name: "zoom", mode: "oauth2", header: "Authorization", prefix: "Bearer", pkce: true, basic: true},
	}
	if len(rows) != 60 {
		t.Fatalf("table has %d rows", len(rows))
	}
	modes := map[string]int{}
	noRefresh := map[string]bool{"clickup": true, "github": true, "intercom": true, "mailchimp": true, "monday": true, "slack": true}
	noScopeList := map[string]bool{"basecamp": true, "calendly": true, "clickup": true, "convertkit": true, "intercom": true,
		"mailchimp": true, "notion": true}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			p, ok := System().Get("@appstrate/" + r.name)
			if !ok {
				t.Fatal("missing")
			}
			d := p.Manifest.Definition
			modes[d.AuthMode]++
			if d.AuthMode != r.mode {
				t.Errorf("authMode = %s, want %s", d.AuthMode, r.mode)
			}
			if d.CredentialHeaderName != r.header || strings.TrimSpace(d.CredentialHeaderPrefix) != r.prefix {
				t.Errorf("header = %q %q, want %q %q", d.CredentialHeaderName, d.CredentialHeaderPrefix, r.header, r.prefix)
			}
			if d.AllowAllURIs != r.allowAll {
				t.Errorf("allowAllUris = %v", d.AllowAllURIs)
			}
			if r.mode == "custom" && (len(d.AuthorizedURIs) != 0 || !d.AllowAllURIs) {
				t.Errorf("custom providers declare authorizedUris [] and allowAllUris: %v %v", d.AuthorizedURIs, d.AllowAllURIs)
			}
			if r.mode != "custom" && len(d.AuthorizedURIs) == 0 {
				t.Error("no authorizedUris")
			}
			for _, u := range d.AuthorizedURIs {
				if !strings.HasPrefix(u, "https://") || !strings.HasSuffix(u, "/**") {
					t.Errorf("authorizedUri %q is not a host-rooted https glob", u)
				}
			}
			if r.uris > 0 && len(d.AuthorizedURIs) != r.uris {
				t.Errorf("authorizedUris = %d, want %d", len(d.AuthorizedURIs), r.uris)
			}
			if got := strings.Join(d.UploadProtocols, ","); got != r.upload {
				t.Errorf("uploadProtocols = %q, want %q", got, r.upload)
			}
			var params map[string]string
			switch r.mode {
			case "oauth2":
				o := d.OAuth2
				if o == nil {
					t.Fatal("no oauth2 block")
				}
				params = o.AuthorizationParams
				if o.PKCE() != r.pkce || o.PKCEEnabled == nil {
					t.Errorf("pkceEnabled = %v (declared %v), want %v", o.PKCE(), o.PKCEEnabled != nil, r.pkce)
				}
				wantMethod := "client_secret_post"
				if r.basic {
					wantMethod = "client_secret_basic"
				}
				if o.AuthMethod() != wantMethod || o.TokenAuthMethod == "" {
					t.Errorf("tokenAuthMethod = %q, want %q", o.TokenAuthMethod, wantMethod)
				}
				wantSep := r.sep
				if wantSep == "" {
					wantSep = " "
				}
				if o.Separator() != wantSep {
					t.Errorf("scopeSeparator = %q, want %q", o.Separator(), wantSep)
				}
				if (o.ContentType() == "application/json") != r.json {
					t.Errorf("tokenContentType = %q", o.TokenContentType)
				}
				if o.DefaultScopes == nil && !strings.Contains(string(p.Manifest.Raw), `"defaultScopes"`) {
					t.Error("defaultScopes not declared")
				}
				if noRefresh[r.name] != (o.RefreshURL == "") {
					t.Errorf("refreshUrl = %q", o.RefreshURL)
				}
				if o.RefreshURL != "" && o.RefreshURL != o.TokenURL {
					t.Errorf("refreshUrl %q differs from tokenUrl %q", o.RefreshURL, o.TokenURL)
				}
				if noScopeList[r.name] != (len(d.AvailableScopes) == 0) {
					t.Errorf("availableScopes = %d entries", len(d.AvailableScopes))
				}
			case "oauth1":
				if d.OAuth1 == nil || d.OAuth1.RequestTokenURL == "" || d.OAuth1.AccessTokenURL == "" {
					t.Fatal("incomplete oauth1 block")
				}
				params = d.OAuth1.AuthorizationParams
			default:
				if d.Credentials == nil {
					t.Fatal("no credentials")
				}
				var schema struct {
					Properties map[string]any `json:"properties"`
					Required   []string       `json:"required"`
				}
				if err := json.Unmarshal(d.Credentials.Schema, &schema); err != nil {
					t.Fatal(err)
				}
				var fields []string
				for k := range schema.Properties {
					fields = append(fields, k)
				}
				sort.Strings(fields)
				if strings.Join(fields, ",") != r.fields {
					t.Errorf("credential fields = %v, want %s", fields, r.fields)
				}
				if d.CredentialFieldName() != r.fieldName {
					t.Errorf("fieldName = %q, want %q", d.CredentialFieldName(), r.fieldName)
				}
			}
			if got := encodeParams(params); got != r.params {
				t.Errorf("authorizationParams = %q, want %q", got, r.params)
			}
			gotTransform := ""
			if d.CredentialTransform != nil {
				gotTransform = d.CredentialTransform.Template
				if d.CredentialTransform.Encoding != "base64" {
					t.Errorf("transform encoding %q", d.CredentialTransform.Encoding)
				}
			}
			if gotTransform != r.transform {
				t.Errorf("credentialTransform = %q, want %q", gotTransform, r.transform)
			}
		})
	}
	want := map[string]int{"oauth2": 42, "api_key": 14, "custom": 3, "oauth1": 1}
	if !reflect.DeepEqual(modes, want) {
		t.Errorf("auth modes = %v, want %v", modes, want)
	}
}

func encodeParams(m map[string]string) string {
	var kv []string
	for k, v := range m {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ";")
}

var exampleTarget = regexp.MustCompile(`"target": "([^"]+)"`)

// samples stand in for credential fields when checking that a PROVIDER.md example stays inside authorizedUris.
var samples = map[string]string{"subdomain": "acme", "account_name": "acme", "shop_domain": "acme.myshopify.com",
	"site_url": "https://shop.example.com", "webhook_url": "https://hooks.example.com/x", "bot_token": "123:abc"}

var placeholder = regexp.MustCompile(`\{\{\s*(\w+)\s*\}\}`)

// Each PROVIDER.md is a short cheat sheet whose example call names its provider and targets an authorized URL.
func TestSystemProviderDocs(t *testing.T) {
	for _, p := range System().List(TypeProvider) {
		t.Run(p.ID, func(t *testing.T) {
			doc := string(p.Package.Files[afps.ProviderFile])
			if doc == "" {
				t.Fatal("no PROVIDER.md")
			}
			if p.Content != doc {
				t.Error("draft content is not PROVIDER.md")
			}
			if n := strings.Count(doc, "\n"); n > 200 {
				t.Errorf("PROVIDER.md has %d lines", n)
			}
			for _, want := range []string{"# ", "Base URL", "## Key endpoints", `"providerId": "` + p.ID + `"`} {
				if !strings.Contains(doc, want) {
					t.Errorf("PROVIDER.md lacks %q", want)
				}
			}
			m := exampleTarget.FindStringSubmatch(doc)
			if m == nil {
				t.Fatal("no example target")
			}
			target := placeholder.ReplaceAllStringFunc(m[1], func(s string) string {
				name := placeholder.FindStringSubmatch(s)[1]
				if v, ok := samples[name]; ok {
					return v
				}
				return "x"
			})
			d := p.Manifest.Definition
			if d.AllowAllURIs {
				if !strings.HasPrefix(target, "https://") {
					t.Errorf("example target %q", target)
				}
				return
			}
			for _, glob := range d.AuthorizedURIs {
				if globMatch(glob, target) {
					return
				}
			}
			t.Errorf("example target %q matches none of %v", target, d.AuthorizedURIs)
		})
	}
}

// globMatch is the authorizedUris matcher of PACKAGES.md §4.2: anchored, `**` any characters, `*` no '/'.
func globMatch(glob, s string) bool {
	var re strings.Builder
	re.WriteString("^")
	for i := 0; i < len(glob); i++ {
		switch {
		case strings.HasPrefix(glob[i:], "**"):
			re.WriteString(".*")
			i++
		case glob[i] == '*':
			re.WriteString("[^/]*")
		default:
			re.WriteString(regexp.QuoteMeta(glob[i : i+1]))
		}
	}
	re.WriteString("$")
	return regexp.MustCompile(re.String()).MatchString(s)
}

// The system tools declare the contracts of RUNTIME.md §4.4 / PACKAGES.md §3.1.
func TestSystemTools(t *testing.T) {
	type field struct {
		name, typ string
		required  bool
		check     func(map[string]any) bool
	}
	enum := func(values ...any) func(map[string]any) bool {
		return func(s map[string]any) bool { return reflect.DeepEqual(s["enum"], values) }
	}
	scope := field{"scope", "string", false, enum("actor", "shared")}
	tests := []struct {
		id, version, schemaVersion, toolName string
		fields                               []field
		description                          string // must appear in tool.description
	}{
		{"@appstrate/output", "1.0.0", "1.1", "output", []field{{"data", "object", true, nil}}, "at least once"},
		{"@appstrate/output", "2.0.0", "1.1", "output", []field{{"data", "object", true, nil}}, "exactly once"},
		{"@appstrate/log", "1.0.0", "1.1", "log", []field{{"level", "string", true, enum("info", "warn", "error")}, {"message", "string", true, nil}}, "log"},
		{"@appstrate/note", "1.0.0", "1.5", "note", []field{{"content", "string", true, func(s map[string]any) bool { return s["maxLength"] == 2000.0 }}, scope}, "memory"},
		{"@appstrate/pin", "1.0.0", "1.5", "pin", []field{{"key", "string", true, func(s map[string]any) bool {
			return s["pattern"] == "^[a-z0-9_]+$" && s["minLength"] == 1.0 && s["maxLength"] == 64.0
		}}, {"content", "", true, nil}, scope}, "checkpoint"},
		{"@appstrate/report", "1.0.0", "1.1", "report", []field{{"content", "string", true, nil}}, "Markdown"},
	}
	for _, tc := range tests {
		t.Run(tc.id+"@"+tc.version, func(t *testing.T) {
			p, ok := System().Version(tc.id, tc.version)
			if !ok {
				t.Fatal("missing")
			}
			m := p.Manifest
			if m.Type != afps.TypeTool || m.SchemaVersion != tc.schemaVersion || m.Entrypoint != "tool.js" || m.Tool == nil {
				t.Fatalf("type/schemaVersion/entrypoint = %s/%s/%s", m.Type, m.SchemaVersion, m.Entrypoint)
			}
			if p.Dir != "tools/"+strings.TrimPrefix(tc.id, "@appstrate/")+"-"+tc.version {
				t.Errorf("folder %s", p.Dir)
			}
			files := p.Package.Paths()
			if !reflect.DeepEqual(files, []string{"TOOL.md", "manifest.json", "tool.js", "tool.ts"}) {
				t.Errorf("files = %v", files)
			}
			if m.Tool.Name != tc.toolName || !strings.Contains(m.Tool.Description, tc.description) {
				t.Errorf("tool = %q %q", m.Tool.Name, m.Tool.Description)
			}
			var schema struct {
				Type       string                    `json:"type"`
				Properties map[string]map[string]any `json:"properties"`
				Required   []string                  `json:"required"`
			}
			if err := json.Unmarshal(m.Tool.InputSchema, &schema); err != nil {
				t.Fatal(err)
			}
			if schema.Type != "object" || len(schema.Properties) != len(tc.fields) {
				t.Errorf("inputSchema type %q with %d properties", schema.Type, len(schema.Properties))
			}
			var required []string
			for _, f := range tc.fields {
				s, ok := schema.Properties[f.name]
				if !ok {
					t.Errorf("no property %s", f.name)
					continue
				}
				if typ, _ := s["type"].(string); typ != f.typ {
					t.Errorf("%s.type = %q, want %q", f.name, typ, f.typ)
				}
				if f.check != nil && !f.check(s) {
					t.Errorf("%s = %v", f.name, s)
				}
				if f.required {
					required = append(required, f.name)
				}
			}
			if !reflect.DeepEqual(schema.Required, required) {
				t.Errorf("required = %v, want %v", schema.Required, required)
			}
			for _, name := range []string{"tool.js", "tool.ts"} {
				src := string(p.Package.Files[name])
				for _, want := range []string{"export default function", "registerTool(", `name: "` + tc.toolName + `"`, "content:",
					"async execute(_toolCallId"} {
					if !strings.Contains(src, want) {
						t.Errorf("%s lacks %q", name, want)
					}
				}
			}
			if p.Content != string(p.Package.Files["tool.js"]) {
				t.Error("draft content is not the entrypoint")
			}
		})
	}
}

// With Node.js on the machine, each tool.js loads as an ES module and its tool emits the canonical event.
func TestSystemToolsRunUnderNode(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	dir := t.TempDir()
	harness := `const tools = [];
const mod = await import(process.argv[2]);
mod.default({ registerTool: (t) => tools.push(t) });
const r = await tools[0].execute("call_1", JSON.parse(process.argv[3]), undefined);
process.stdout.write(JSON.stringify({ tool: tools[0].name, result: r }) + "\n");
`
	if err := os.WriteFile(filepath.Join(dir, "harness.mjs"), []byte(harness), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		dir, args, env string
		event, result  string // substrings of the two output lines
	}{
		{"log-1.0.0", `{"level":"warn","message":"slow"}`, "", `"type":"log.written","level":"warn","message":"slow"`, `Logged [warn]: slow`},
		{"note-1.0.0", `{"content":" remember this ","scope":"shared"}`, "", `"type":"memory.added","content":"remember this","scope":"shared"`, "Note saved"},
		{"pin-1.0.0", `{"key":"checkpoint","content":{"cursor":7}}`, "", `"type":"pinned.set","key":"checkpoint","content":{"cursor":7}`, "Pinned checkpoint"},
		{"pin-1.0.0", `{"key":"Bad Key","content":1}`, "", "", `"isError":true`},
		{"report-1.0.0", `{"content":"## Done"}`, "", `"type":"report.appended","content":"## Done"`, "Report updated"},
		{"output-1.0.0", `{"data":{"a":1}}`, "", `"type":"output","data":{"a":1}`, "Output recorded"},
		{"output-2.0.0", `{"data":{"a":1}}`, "", `"type":"output.emitted","data":{"a":1}`, "Output recorded"},
		{"output-2.0.0", `{"data":{"n":"x"}}`, `{"type":"object","properties":{"n":{"type":"integer"}},"required":["n","m"]}`, "",
			`Output validation failed:\n  - / must have required property 'm'\n  - /n must be integer`},
	}
	for _, tc := range tests {
		t.Run(tc.dir+tc.args, func(t *testing.T) {
			src, err := filepath.Abs(filepath.Join("system", "tools", tc.dir, "tool.js"))
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(node, filepath.Join(dir, "harness.mjs"), "file://"+src, tc.args)
			cmd.Env = append(os.Environ(), "OUTPUT_SCHEMA="+tc.env)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("node: %v\n%s", err, out)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if tc.event != "" && (len(lines) != 2 || !strings.Contains(lines[0], tc.event) || !strings.Contains(lines[0], `"timestamp":`)) {
				t.Errorf("event line: %s, want %s", out, tc.event)
			}
			if tc.event == "" && len(lines) != 1 {
				t.Errorf("unexpected event: %s", out)
			}
			if !strings.Contains(lines[len(lines)-1], tc.result) {
				t.Errorf("result: %s, want %s", lines[len(lines)-1], tc.result)
			}
		})
	}
}

// copyFS copies an fs.FS into a writable fstest-style map.
func copyFS(t *testing.T, src fs.FS) fstest.MapFS {
	t.Helper()
	out := fstest.MapFS{}
	err := fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(src, p)
		out[p] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The committed provider folders are exactly what the generator writes from the facts and docs.go.
func TestSystemProvidersAreGenerated(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the generator")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go toolchain not in PATH")
	}
	out := t.TempDir()
	cmd := exec.Command(goTool, "run", "system/gen/main.go", "system/gen/docs.go", "-facts", factsPath, "-out", out, "-testdata", "")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("generator: %v\n%s", err, b)
	}
	generated := map[string][]byte{}
	_ = filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(out, p)
			generated[filepath.ToSlash(rel)], _ = os.ReadFile(p)
		}
		return err
	})
	committed := map[string][]byte{}
	providers, _ := fs.Sub(system.FS(), "providers")
	_ = fs.WalkDir(providers, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			committed[p], _ = fs.ReadFile(providers, p)
		}
		return err
	})
	if len(generated) != 120 || len(committed) != len(generated) {
		t.Errorf("generated %d files, committed %d", len(generated), len(committed))
	}
	for p, data := range generated {
		if !bytes.Equal(committed[p], data) {
			t.Errorf("%s differs from the generator's output: run it again (see system/gen/main.go)", p)
		}
	}
}
