package afps

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/appstrate/appstrate-go/internal/afps/semver"
)

var (
	reSlug          = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
	reScopedName    = regexp.MustCompile(`^@[a-z0-9]([a-z0-9-]*[a-z0-9])?/[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
	reSchemaVersion = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$`)
	reCredentialKey = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// ValidSlug reports whether s is a scope/name/org slug: lowercase alnum with inner hyphens.
func ValidSlug(s string) bool { return reSlug.MatchString(s) }

// ValidName reports whether s is a scoped package id "@scope/name".
func ValidName(s string) bool { return reScopedName.MatchString(s) }

// SplitName splits "@scope/name" into "scope" (without @) and "name"; ok is false for an invalid id.
func SplitName(s string) (scope, name string, ok bool) {
	if !ValidName(s) {
		return "", "", false
	}
	scope, name, _ = strings.Cut(s[1:], "/")
	return scope, name, true
}

// ValidateOptions selects the strictness.
type ValidateOptions struct {
	// Strict applies the AFPS spec as written (publish/export): agents must declare a non-empty author.
	// The default is Appstrate's draft mode, where author is optional.
	Strict bool
}

// Validate checks a manifest against AFPS 1.x (PACKAGES.md §1.5–1.9, §4.1) and returns every problem as a
// *ValidationError with INVALID_MANIFEST issues, or nil.
func Validate(m *Manifest, opts ValidateOptions) error {
	obj, err := m.Object()
	if err != nil {
		return &ValidationError{Issues: []Issue{{Code: CodeInvalidManifest, Message: err.Error()}}}
	}
	return ValidateObject(obj, opts)
}

// ValidateObject validates a decoded manifest (numbers as json.Number or float64).
func ValidateObject(obj map[string]any, opts ValidateOptions) error {
	v := &checker{strict: opts.Strict}
	v.manifest(obj)
	return v.is.err()
}

type checker struct {
	is     issues
	strict bool
}

func (c *checker) fail(path, msg string) { c.is.add(path, CodeInvalidManifest, msg) }

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// jsType names a decoded JSON value the way Zod does in "Expected X, received Y".
func jsType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number, float64, int:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func numberOf(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil || isRangeErr(err)
	case float64:
		return x, true
	case int:
		return float64(x), true
	}
	return 0, false
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// field fetches obj[key]; a missing required member is reported as "Required". JSON null counts as present.
func (c *checker) field(obj map[string]any, path, key string, required bool) (any, bool) {
	v, ok := obj[key]
	if !ok {
		if required {
			c.fail(join(path, key), "Required")
		}
		return nil, false
	}
	return v, true
}

func (c *checker) expect(path, want string, v any) {
	c.fail(path, "Expected "+want+", received "+jsType(v))
}

// str checks an optional or required string member; minLen 1 also rejects "".
func (c *checker) str(obj map[string]any, path, key string, required bool, minLen int) (string, bool) {
	v, ok := c.field(obj, path, key, required)
	if !ok {
		return "", false
	}
	s, isStr := v.(string)
	if !isStr {
		c.expect(join(path, key), "string", v)
		return "", false
	}
	if len([]rune(s)) < minLen {
		c.fail(join(path, key), fmt.Sprintf("String must contain at least %d character(s)", minLen))
		return s, false
	}
	return s, true
}

func (c *checker) boolean(obj map[string]any, path, key string) {
	if v, ok := c.field(obj, path, key, false); ok {
		if _, isBool := v.(bool); !isBool {
			c.expect(join(path, key), "boolean", v)
		}
	}
}

func (c *checker) object(obj map[string]any, path, key string, required bool) (map[string]any, bool) {
	v, ok := c.field(obj, path, key, required)
	if !ok {
		return nil, false
	}
	o, isObj := v.(map[string]any)
	if !isObj {
		c.expect(join(path, key), "object", v)
		return nil, false
	}
	return o, true
}

func (c *checker) array(obj map[string]any, path, key string, required bool) ([]any, bool) {
	v, ok := c.field(obj, path, key, required)
	if !ok {
		return nil, false
	}
	a, isArr := v.([]any)
	if !isArr {
		c.expect(join(path, key), "array", v)
		return nil, false
	}
	return a, true
}

func (c *checker) stringArray(obj map[string]any, path, key string) ([]string, bool) {
	a, ok := c.array(obj, path, key, false)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(a))
	good := true
	for i, e := range a {
		s, isStr := e.(string)
		if !isStr {
			c.expect(index(join(path, key), i), "string", e)
			good = false
			continue
		}
		out = append(out, s)
	}
	return out, good
}

func (c *checker) stringMap(obj map[string]any, path, key string) {
	o, ok := c.object(obj, path, key, false)
	if !ok {
		return
	}
	for _, k := range sortedKeys(o) {
		if _, isStr := o[k].(string); !isStr {
			c.expect(join(join(path, key), k), "string", o[k])
		}
	}
}

func (c *checker) enum(obj map[string]any, path, key string, required bool, values ...string) (string, bool) {
	v, ok := c.field(obj, path, key, required)
	if !ok {
		return "", false
	}
	s, isStr := v.(string)
	if !isStr || !slices.Contains(values, s) {
		got := jsType(v)
		if isStr {
			got = "'" + s + "'"
		}
		c.fail(join(path, key), "Invalid enum value. Expected '"+strings.Join(values, "' | '")+"', received "+got)
		return "", false
	}
	return s, true
}

func (c *checker) manifest(obj map[string]any) {
	name, _ := c.str(obj, "", "name", true, 0)
	if _, has := obj["name"].(string); has && !ValidName(name) {
		c.fail("name", "Must be a scoped package name @scope/name (lowercase letters, digits and inner hyphens)")
	}
	if version, ok := c.str(obj, "", "version", true, 0); ok && !semver.Valid(version) {
		c.fail("version", "Must be a valid semver version (e.g. 1.0.0)")
	}
	typ, typeOK := c.enum(obj, "", "type", true, "agent", "skill", "tool", "provider")
	c.str(obj, "", "$schema", false, 0)
	c.str(obj, "", "displayName", typ == "agent", boolInt(typ == "agent"))
	c.str(obj, "", "description", false, 0)
	c.str(obj, "", "license", false, 0)
	c.str(obj, "", "repository", false, 0)
	c.stringArray(obj, "", "keywords")
	if sv, ok := c.str(obj, "", "schemaVersion", typ == "agent", 0); ok {
		if m := reSchemaVersion.FindStringSubmatch(sv); m == nil {
			c.fail("schemaVersion", "Must be MAJOR.MINOR (e.g. 1.1)")
		} else if m[1] != "1" {
			c.fail("schemaVersion", "Unsupported schemaVersion "+sv+": this validator accepts 1.x")
		}
	}
	c.dependencies(obj, name)
	if !typeOK {
		return
	}
	switch Type(typ) {
	case TypeAgent:
		c.agent(obj)
	case TypeTool:
		c.tool(obj)
	case TypeProvider:
		c.provider(obj)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (c *checker) dependencies(obj map[string]any, self string) {
	deps, ok := c.object(obj, "", "dependencies", false)
	if !ok {
		return
	}
	for _, kind := range []string{"skills", "tools", "providers"} {
		m, ok := c.object(deps, "dependencies", kind, false)
		if !ok {
			continue
		}
		base := "dependencies." + kind
		for _, id := range sortedKeys(m) {
			path := join(base, id)
			if !ValidName(id) {
				c.fail(path, "Invalid package id: expected @scope/name")
			} else if id == self {
				c.fail(path, "A package cannot depend on itself")
			}
			r, isStr := m[id].(string)
			if !isStr {
				c.expect(path, "string", m[id])
				continue
			}
			if _, ok := semver.ValidRange(r); !ok {
				c.fail(path, "Invalid semver range "+strconv.Quote(r))
			}
		}
	}
}

func (c *checker) agent(obj map[string]any) {
	if c.strict {
		c.str(obj, "", "author", true, 1)
	} else {
		c.str(obj, "", "author", false, 0)
	}
	if pc, ok := c.object(obj, "", "providersConfiguration", false); ok {
		for _, id := range sortedKeys(pc) {
			entry, isObj := pc[id].(map[string]any)
			if !isObj {
				c.expect(join("providersConfiguration", id), "object", pc[id])
				continue
			}
			c.stringArray(entry, join("providersConfiguration", id), "scopes")
		}
	}
	for _, key := range []string{"input", "output", "config"} {
		c.wrapper(obj, key)
	}
	if v, ok := c.field(obj, "", "timeout", false); ok {
		if f, isNum := numberOf(v); !isNum {
			c.expect("timeout", "number", v)
		} else if f <= 0 {
			c.fail("timeout", "Number must be greater than 0")
		}
	}
}

func (c *checker) wrapper(obj map[string]any, key string) {
	w, ok := c.object(obj, "", key, false)
	if !ok {
		return
	}
	schema, ok := w["schema"]
	if !ok {
		msg := "Required"
		if _, bare := w["properties"]; bare {
			msg = "Required: " + key + " must be a wrapper {schema, fileConstraints?, uiHints?, propertyOrder?}, not a bare JSON Schema"
		} else if _, bare := w["type"]; bare {
			msg = "Required: " + key + " must be a wrapper {schema, fileConstraints?, uiHints?, propertyOrder?}, not a bare JSON Schema"
		}
		c.fail(key+".schema", msg)
	} else if s, isObj := schema.(map[string]any); !isObj {
		c.expect(key+".schema", "object", schema)
	} else {
		c.jsonSchema(key+".schema", s, 0)
		if t, has := s["type"]; !has || t != "object" {
			c.fail(key+".schema.type", `Must be "object"`)
		}
		if _, has := s["properties"]; !has {
			c.fail(key+".schema.properties", "Required")
		}
	}
	if fc, ok := c.object(w, key, "fileConstraints", false); ok {
		for _, prop := range sortedKeys(fc) {
			path := join(key+".fileConstraints", prop)
			entry, isObj := fc[prop].(map[string]any)
			if !isObj {
				c.expect(path, "object", fc[prop])
				continue
			}
			c.str(entry, path, "accept", false, 0)
			if v, ok := c.field(entry, path, "maxSize", false); ok {
				if f, isNum := numberOf(v); !isNum {
					c.expect(path+".maxSize", "number", v)
				} else if f <= 0 {
					c.fail(path+".maxSize", "Number must be greater than 0")
				}
			}
		}
	}
	if hints, ok := c.object(w, key, "uiHints", false); ok {
		for _, prop := range sortedKeys(hints) {
			path := join(key+".uiHints", prop)
			entry, isObj := hints[prop].(map[string]any)
			if !isObj {
				c.expect(path, "object", hints[prop])
				continue
			}
			c.str(entry, path, "placeholder", false, 0)
		}
	}
	c.stringArray(w, key, "propertyOrder")
}

func (c *checker) tool(obj map[string]any) {
	if ep, ok := c.str(obj, "", "entrypoint", true, 1); ok {
		if !safeRelativePath(ep) {
			c.fail("entrypoint", "Must be a relative path inside the package (no '..', no leading '/', no '\\')")
		}
	}
	t, ok := c.object(obj, "", "tool", true)
	if !ok {
		return
	}
	c.str(t, "tool", "name", true, 1)
	c.str(t, "tool", "description", true, 1)
	c.object(t, "tool", "inputSchema", true)
}

// safeRelativePath reports whether p is a clean archive-relative file path.
func safeRelativePath(p string) bool {
	if p == "" || strings.HasPrefix(p, "/") || strings.ContainsAny(p, "\\\x00") {
		return false
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			return false
		}
	}
	return true
}

var uploadProtocols = []string{"google-resumable", "s3-multipart", "tus", "ms-resumable"}

func (c *checker) provider(obj map[string]any) {
	c.str(obj, "", "author", false, 0)
	c.str(obj, "", "iconUrl", false, 0)
	c.str(obj, "", "docsUrl", false, 0)
	c.stringArray(obj, "", "categories")
	if sg, ok := c.object(obj, "", "setupGuide", false); ok {
		c.str(sg, "setupGuide", "callbackUrlHint", false, 0)
		if steps, ok := c.array(sg, "setupGuide", "steps", false); ok {
			for i, s := range steps {
				path := index("setupGuide.steps", i)
				step, isObj := s.(map[string]any)
				if !isObj {
					c.expect(path, "object", s)
					continue
				}
				c.str(step, path, "label", true, 0)
				c.str(step, path, "url", false, 0)
			}
		}
	}
	def, ok := c.object(obj, "", "definition", true)
	if !ok {
		return
	}
	const dp = "definition"
	mode, _ := c.enum(def, dp, "authMode", true, AuthOAuth2, AuthOAuth1, AuthAPIKey, AuthBasic, AuthCustom)

	if o2, ok := c.object(def, dp, "oauth2", mode == AuthOAuth2); ok {
		const p = dp + ".oauth2"
		c.str(o2, p, "authorizationUrl", mode == AuthOAuth2, 0)
		c.str(o2, p, "tokenUrl", mode == AuthOAuth2, 0)
		c.str(o2, p, "refreshUrl", false, 0)
		c.stringArray(o2, p, "defaultScopes")
		c.str(o2, p, "scopeSeparator", false, 0)
		c.boolean(o2, p, "pkceEnabled")
		c.enum(o2, p, "tokenAuthMethod", false, "client_secret_post", "client_secret_basic")
		c.enum(o2, p, "tokenContentType", false, "application/x-www-form-urlencoded", "application/json")
		c.stringMap(o2, p, "authorizationParams")
		c.stringMap(o2, p, "tokenParams")
	}
	if o1, ok := c.object(def, dp, "oauth1", mode == AuthOAuth1); ok {
		const p = dp + ".oauth1"
		c.str(o1, p, "requestTokenUrl", mode == AuthOAuth1, 0)
		c.str(o1, p, "accessTokenUrl", mode == AuthOAuth1, 0)
		c.str(o1, p, "authorizationUrl", false, 0)
		c.stringMap(o1, p, "authorizationParams")
	}
	needsCreds := mode == AuthAPIKey || mode == AuthBasic || mode == AuthCustom
	if creds, ok := c.object(def, dp, "credentials", needsCreds); ok {
		const p = dp + ".credentials"
		schema, hasSchema := c.object(creds, p, "schema", needsCreds)
		var props map[string]any
		if hasSchema {
			if pv, has := schema["properties"]; has {
				if po, isObj := pv.(map[string]any); isObj {
					props = po
				} else {
					c.expect(p+".schema.properties", "object", pv)
				}
			}
			for _, k := range sortedKeys(props) {
				if !reCredentialKey.MatchString(k) {
					c.fail(p+".schema.properties."+k, "Credential field names must match ^[a-z][a-z0-9_]*$")
				}
			}
		}
		if fn, ok := c.str(creds, p, "fieldName", false, 0); ok {
			if !reCredentialKey.MatchString(fn) {
				c.fail(p+".fieldName", "Must match ^[a-z][a-z0-9_]*$")
			} else if len(props) > 0 {
				if _, declared := props[fn]; !declared {
					c.fail(p+".fieldName", "Must be one of the declared credentials.schema.properties")
				}
			}
		}
	}
	c.str(def, dp, "credentialHeaderName", false, 0)
	c.str(def, dp, "credentialHeaderPrefix", false, 0)
	if tr, ok := c.object(def, dp, "credentialTransform", false); ok {
		c.str(tr, dp+".credentialTransform", "template", true, 1)
		c.enum(tr, dp+".credentialTransform", "encoding", true, "base64")
	}
	c.stringArray(def, dp, "authorizedUris")
	c.boolean(def, dp, "allowAllUris")
	if scopes, ok := c.array(def, dp, "availableScopes", false); ok {
		for i, s := range scopes {
			path := index(dp+".availableScopes", i)
			switch x := s.(type) {
			case string:
			case map[string]any:
				c.str(x, path, "value", true, 0)
				c.str(x, path, "label", true, 0)
			default:
				c.expect(path, "string or {value, label} object", s)
			}
		}
	}
	if protos, ok := c.array(def, dp, "uploadProtocols", false); ok {
		seen := map[string]bool{}
		for i, p := range protos {
			path := index(dp+".uploadProtocols", i)
			s, isStr := p.(string)
			if !isStr || !slices.Contains(uploadProtocols, s) {
				c.fail(path, "Invalid enum value. Expected '"+strings.Join(uploadProtocols, "' | '")+"'")
				continue
			}
			if seen[s] {
				c.fail(path, "Duplicate upload protocol "+strconv.Quote(s))
			}
			seen[s] = true
		}
	}
	c.object(def, dp, "adminCredentialSchema", false)
}
