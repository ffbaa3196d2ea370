package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/appstrate/appstrate-go/internal/cli/apiclient"
	"github.com/appstrate/appstrate-go/internal/cli/curl"
	"github.com/appstrate/appstrate-go/internal/cli/profile"
)

// methodOrder sorts the operations of one path.
var methodOrder = []string{"get", "post", "put", "patch", "delete", "head", "options", "trace"}

type openapiFlags struct {
	refresh, noCache bool
}

func newOpenAPICmd() *cobra.Command {
	var g globalFlags
	var cf openapiFlags
	cmd := &cobra.Command{
		Use:   "openapi",
		Short: "Explore the instance's OpenAPI schema (cached per profile, revalidated with ETag)",
		Args:  cobra.NoArgs,
	}
	addGlobalFlags(cmd, &g)
	cmd.PersistentFlags().BoolVar(&cf.refresh, "refresh", false, "download the schema again (still updates the cache)")
	cmd.PersistentFlags().BoolVar(&cf.noCache, "no-cache", false, "neither read nor write the cache")

	var tag, method, pathGlob, search string
	var listJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List operations, one per line",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			doc, err := loadOpenAPI(cmd, &g, cf)
			if err != nil {
				return err
			}
			var ops []operation
			for _, op := range doc.operations() {
				if op.matches(tag, method, pathGlob, search) {
					ops = append(ops, op)
				}
			}
			out := cmd.OutOrStdout()
			if listJSON {
				type row struct {
					Method      string   `json:"method"`
					Path        string   `json:"path"`
					OperationID string   `json:"operationId,omitempty"`
					Summary     string   `json:"summary,omitempty"`
					Tags        []string `json:"tags,omitempty"`
					Deprecated  bool     `json:"deprecated,omitempty"`
				}
				rows := []row{}
				for _, op := range ops {
					rows = append(rows, row{strings.ToUpper(op.Method), op.Path, op.ID, op.Summary, op.Tags, op.Deprecated})
				}
				return writeIndented(out, rows)
			}
			if len(ops) == 0 {
				fmt.Fprintln(out, "No operations match the given filters.")
				return nil
			}
			color := colorEnabled(out)
			var b strings.Builder
			for _, op := range ops {
				m := strings.ToUpper(op.Method)
				b.WriteString(paint(color, methodColor(m), fmt.Sprintf("%-6s", m)))
				b.WriteString(" " + op.Path)
				if op.Summary != "" {
					b.WriteString(paint(color, "2", " — "+op.Summary))
				}
				if len(op.Tags) > 0 {
					b.WriteString(paint(color, "36", " ["+strings.Join(op.Tags, ",")+"]"))
				}
				if op.Deprecated {
					b.WriteString(paint(color, "31", " [deprecated]"))
				}
				b.WriteString("\n")
			}
			_, err = fmt.Fprint(out, b.String())
			return err
		},
	}
	list.Flags().StringVar(&tag, "tag", "", "only operations with this tag (case-insensitive)")
	list.Flags().StringVar(&method, "method", "", "only this HTTP method")
	list.Flags().StringVar(&pathGlob, "path", "", "only paths matching this glob (* one segment, ** anything)")
	list.Flags().StringVar(&search, "search", "", "case-insensitive substring of operationId, summary, description, path or method")
	list.Flags().BoolVar(&listJSON, "json", false, "print a JSON array")

	var showJSON bool
	show := &cobra.Command{
		Use:   "show <operationId | METHOD> [path]",
		Short: "Describe one operation",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			doc, err := loadOpenAPI(cmd, &g, cf)
			if err != nil {
				return err
			}
			op := doc.find(args)
			if op == nil {
				return failure(fmt.Errorf("No operation matches %q. Tip: appstrate openapi list --search <text>", strings.Join(args, " "))) //lint:ignore ST1005 shown to users as is
			}
			out := cmd.OutOrStdout()
			if showJSON {
				resolved, err := doc.resolve(op.raw, nil, 0)
				var result any = &omap{keys: []string{"method", "path", "operation"},
					vals: map[string]any{"method": strings.ToUpper(op.Method), "path": op.Path, "operation": resolved}}
				if err != nil {
					raw := op.raw
					if m, ok := raw.(*omap); ok {
						c := m.clone()
						c.set("_warning", "the operation's schema is circular: $refs are not resolved")
						raw = c
					}
					result.(*omap).vals["operation"] = raw
				}
				return writeIndented(out, result)
			}
			_, err = fmt.Fprint(out, op.describe())
			return err
		},
	}
	show.Flags().BoolVar(&showJSON, "json", false, "print {method, path, operation} with $refs resolved")

	var output string
	export := &cobra.Command{
		Use:   "export",
		Short: "Print the whole schema (indented), or write it to a file",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			doc, err := loadOpenAPI(cmd, &g, cf)
			if err != nil {
				return err
			}
			var b bytes.Buffer
			if err := json.Indent(&b, doc.raw, "", "  "); err != nil {
				return failure(err)
			}
			if output == "" || output == "-" {
				b.WriteByte('\n')
				_, err := cmd.OutOrStdout().Write(b.Bytes())
				return err
			}
			if err := os.WriteFile(output, b.Bytes(), 0o600); err != nil {
				return failure(err)
			}
			_ = os.Chmod(output, 0o600)
			fmt.Fprintf(cmd.ErrOrStderr(), "Wrote %d bytes to %s\n", b.Len(), output)
			return nil
		},
	}
	export.Flags().StringVarP(&output, "output", "o", "", "write to this file (mode 0600) instead of stdout")
	cmd.AddCommand(list, show, export)
	return cmd
}

func methodColor(m string) string {
	switch m {
	case "GET":
		return "32"
	case "POST":
		return "33"
	case "PUT", "PATCH":
		return "34"
	case "DELETE":
		return "31"
	}
	return "35"
}

func writeIndented(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err = w.Write(out.Bytes())
	return err
}

// openapiCachePaths are <cacheDir>/openapi-<urlencoded profile>.json and .etag.
func openapiCachePaths(dir, profileName string) (doc, etag string) {
	base := filepath.Join(dir, "openapi-"+curlEncode(profileName))
	return base + ".json", base + ".etag"
}

func curlEncode(s string) string { return curl.EncodeURIComponent(s) }

// loadOpenAPI returns the schema: from the cache when the server answers 304 to If-None-Match.
func loadOpenAPI(cmd *cobra.Command, g *globalFlags, cf openapiFlags) (*openapiDoc, error) {
	s, err := loggedIn(cmd, &globalFlags{profile: g.profile, insecure: g.insecure})
	if err != nil {
		return nil, err
	}
	raw, err := fetchOpenAPI(cmd.Context(), s, cf)
	if err != nil {
		return nil, failure(err)
	}
	doc, err := parseOpenAPI(raw)
	if err != nil {
		return nil, failure(fmt.Errorf("the OpenAPI document cannot be read: %w", err))
	}
	return doc, nil
}

func fetchOpenAPI(ctx context.Context, s *session, cf openapiFlags) ([]byte, error) {
	dir, err := profile.CacheDir(getenv)
	if err != nil {
		return nil, err
	}
	docPath, etagPath := openapiCachePaths(dir, s.name)
	var cached []byte
	var etag string
	if !cf.refresh && !cf.noCache {
		if b, err := os.ReadFile(docPath); err == nil && json.Valid(b) {
			cached = b
			if e, err := os.ReadFile(etagPath); err == nil {
				etag = strings.TrimSpace(string(e))
			}
		}
	}
	headers := map[string]string{"Accept": "application/json"}
	if cached != nil && etag != "" {
		headers["If-None-Match"] = etag
	}
	res, err := s.client.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: "/api/openapi.json", Headers: headers})
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("read /api/openapi.json: %w", err)
	}
	switch {
	case res.StatusCode == http.StatusNotModified:
		if cached == nil {
			return nil, errors.New("the server answered 304 Not Modified but there is no cached schema; retry with --refresh")
		}
		return cached, nil
	case res.StatusCode == http.StatusUnauthorized:
		return nil, &apiclient.AuthError{Msg: fmt.Sprintf("Unauthorized — your session may have been revoked. Run: appstrate login --profile %s", s.name)}
	case res.StatusCode != http.StatusOK:
		snippet := string(body)
		if len(snippet) > 200 {
			snippet = snippet[:200]
		}
		return nil, fmt.Errorf("GET /api/openapi.json: HTTP %d: %s", res.StatusCode, snippet)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, body); err != nil {
		return nil, fmt.Errorf("GET /api/openapi.json: not JSON: %w", err)
	}
	if !cf.noCache {
		if err := writeCache(dir, docPath, etagPath, compact.Bytes(), res.Header.Get("ETag")); err != nil {
			fmt.Fprintf(s.cmd.ErrOrStderr(), "warning: cannot cache the schema: %v\n", err)
		}
	}
	return compact.Bytes(), nil
}

func writeCache(dir, docPath, etagPath string, doc []byte, etag string) error {
	if _, err := os.Stat(dir); err != nil {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
	}
	if err := writeCacheFile(docPath, doc); err != nil {
		return err
	}
	if etag == "" {
		if err := os.Remove(etagPath); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	return writeCacheFile(etagPath, []byte(etag))
}

func writeCacheFile(path string, data []byte) error {
	tmp := fmt.Sprintf("%s.%d.%d.tmp", path, os.Getpid(), time.Now().UnixNano())
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return nil
}

// openapiDoc is a parsed schema, key order preserved.
type openapiDoc struct {
	raw  []byte
	root *omap
}

func parseOpenAPI(raw []byte) (*openapiDoc, error) {
	v, err := decodeOrdered(raw)
	if err != nil {
		return nil, err
	}
	root, ok := v.(*omap)
	if !ok {
		return nil, errors.New("not a JSON object")
	}
	return &openapiDoc{raw: raw, root: root}, nil
}

type operation struct {
	Method, Path, ID, Summary, Description string
	Tags                                   []string
	Deprecated                             bool
	raw                                    any
	doc                                    *openapiDoc
}

func (d *openapiDoc) operations() []operation {
	paths, _ := d.root.get("paths").(*omap)
	if paths == nil {
		return nil
	}
	keys := append([]string(nil), paths.keys...)
	sort.Strings(keys)
	var ops []operation
	for _, p := range keys {
		item, _ := paths.get(p).(*omap)
		if item == nil {
			continue
		}
		for _, m := range methodOrder {
			o, ok := item.get(m).(*omap)
			if !ok {
				continue
			}
			op := operation{Method: m, Path: p, raw: o, doc: d}
			op.ID, _ = o.get("operationId").(string)
			op.Summary, _ = o.get("summary").(string)
			op.Description, _ = o.get("description").(string)
			op.Deprecated, _ = o.get("deprecated").(bool)
			if tags, ok := o.get("tags").([]any); ok {
				for _, t := range tags {
					if s, ok := t.(string); ok {
						op.Tags = append(op.Tags, s)
					}
				}
			}
			ops = append(ops, op)
		}
	}
	return ops
}

func (op operation) matches(tag, method, pathGlob, search string) bool {
	if tag != "" {
		found := false
		for _, t := range op.Tags {
			found = found || strings.EqualFold(t, tag)
		}
		if !found {
			return false
		}
	}
	if method != "" && !strings.EqualFold(method, op.Method) {
		return false
	}
	if pathGlob != "" && !globMatch(pathGlob, op.Path) {
		return false
	}
	if search != "" {
		q := strings.ToLower(search)
		hay := strings.ToLower(strings.Join([]string{op.ID, op.Summary, op.Description, op.Path, op.Method}, "\n"))
		if !strings.Contains(hay, q) {
			return false
		}
	}
	return true
}

// globMatch: exact unless the pattern has '*'; '*' matches within one segment, '**' anything. Patterns over
// 200 characters never match.
func globMatch(pattern, path string) bool {
	if len(pattern) > 200 {
		return false
	}
	if !strings.Contains(pattern, "*") {
		return pattern == path
	}
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(pattern); i++ {
		if pattern[i] == '*' {
			if i+1 < len(pattern) && pattern[i+1] == '*' {
				b.WriteString(".*")
				i++
			} else {
				b.WriteString("[^/]*")
			}
			continue
		}
		b.WriteString(regexp.QuoteMeta(pattern[i : i+1]))
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	return err == nil && re.MatchString(path)
}

// find looks an operation up by operationId, then by METHOD /path (two arguments or one quoted argument).
func (d *openapiDoc) find(args []string) *operation {
	ops := d.operations()
	if len(args) == 1 {
		for i := range ops {
			if ops[i].ID == args[0] {
				return &ops[i]
			}
		}
		if m, p, ok := strings.Cut(strings.TrimSpace(args[0]), " "); ok {
			args = []string{m, strings.TrimSpace(p)}
		}
	}
	if len(args) == 2 {
		for i := range ops {
			if strings.EqualFold(ops[i].Method, args[0]) && ops[i].Path == args[1] {
				return &ops[i]
			}
		}
	}
	return nil
}

// describe renders the text of `openapi show`.
func (op operation) describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", strings.ToUpper(op.Method), op.Path)
	if op.ID != "" {
		fmt.Fprintf(&b, "operationId: %s\n", op.ID)
	}
	if len(op.Tags) > 0 {
		fmt.Fprintf(&b, "tags: %s\n", strings.Join(op.Tags, ", "))
	}
	if op.Deprecated {
		b.WriteString("DEPRECATED\n")
	}
	if op.Summary != "" {
		fmt.Fprintf(&b, "\n%s\n", op.Summary)
	}
	if op.Description != "" && op.Description != op.Summary {
		fmt.Fprintf(&b, "\n%s\n", op.Description)
	}
	o, _ := op.raw.(*omap)
	if params, ok := o.get("parameters").([]any); ok && len(params) > 0 {
		b.WriteString("\nParameters:\n")
		for _, p := range params {
			pm, _ := op.doc.deref(p).(*omap)
			if pm == nil {
				continue
			}
			in, _ := pm.get("in").(string)
			name, _ := pm.get("name").(string)
			typ := "any"
			if sch, ok := op.doc.deref(pm.get("schema")).(*omap); ok {
				if t, ok := sch.get("type").(string); ok {
					typ = t
				}
			}
			line := fmt.Sprintf("  %s.%s: %s", in, name, typ)
			if req, _ := pm.get("required").(bool); req {
				line += " (required)"
			}
			if desc, _ := pm.get("description").(string); desc != "" {
				line += " — " + firstLine(desc)
			}
			b.WriteString(line + "\n")
		}
	}
	if rb, ok := op.doc.deref(o.get("requestBody")).(*omap); ok {
		req := ""
		if r, _ := rb.get("required").(bool); r {
			req = " (required)"
		}
		fmt.Fprintf(&b, "\nRequest body%s:\n", req)
		if content, ok := rb.get("content").(*omap); ok {
			for _, ct := range content.keys {
				fmt.Fprintf(&b, "  %s\n", ct)
			}
		}
	}
	if responses, ok := o.get("responses").(*omap); ok && len(responses.keys) > 0 {
		b.WriteString("\nResponses:\n")
		codes := append([]string(nil), responses.keys...)
		sort.SliceStable(codes, func(i, j int) bool {
			ni, ei := strconv.Atoi(codes[i])
			nj, ej := strconv.Atoi(codes[j])
			switch {
			case ei == nil && ej == nil:
				return ni < nj
			case ei == nil:
				return true
			case ej == nil:
				return false
			}
			return codes[i] < codes[j]
		})
		for _, code := range codes {
			r, _ := op.doc.deref(responses.get(code)).(*omap)
			desc := ""
			if r != nil {
				desc, _ = r.get("description").(string)
			}
			fmt.Fprintf(&b, "  %s — %s\n", code, firstLine(desc))
			if r != nil {
				if content, ok := r.get("content").(*omap); ok {
					for _, ct := range content.keys {
						fmt.Fprintf(&b, "      %s\n", ct)
					}
				}
			}
		}
	}
	return b.String()
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// deref follows one local $ref (#/a/b) when v is a reference object.
func (d *openapiDoc) deref(v any) any {
	for range 32 {
		m, ok := v.(*omap)
		if !ok {
			return v
		}
		ref, ok := m.get("$ref").(string)
		if !ok {
			return v
		}
		target := d.pointer(ref)
		if target == nil {
			return v
		}
		v = target
	}
	return v
}

// pointer resolves a local JSON pointer.
func (d *openapiDoc) pointer(ref string) any {
	p, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil
	}
	var cur any = d.root
	for _, part := range strings.Split(p, "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		m, ok := cur.(*omap)
		if !ok {
			return nil
		}
		cur = m.get(part)
		if cur == nil {
			return nil
		}
	}
	return cur
}

var errCircular = errors.New("circular $ref")

// resolve returns a copy of v with every local $ref replaced by its target; a cycle is an error.
func (d *openapiDoc) resolve(v any, stack []string, depth int) (any, error) {
	if depth > 256 {
		return nil, errCircular
	}
	switch x := v.(type) {
	case *omap:
		if ref, ok := x.get("$ref").(string); ok {
			for _, s := range stack {
				if s == ref {
					return nil, errCircular
				}
			}
			target := d.pointer(ref)
			if target == nil {
				return x, nil
			}
			return d.resolve(target, append(stack, ref), depth+1)
		}
		out := &omap{vals: map[string]any{}}
		for _, k := range x.keys {
			r, err := d.resolve(x.vals[k], stack, depth+1)
			if err != nil {
				return nil, err
			}
			out.set(k, r)
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := d.resolve(e, stack, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	return v, nil
}
