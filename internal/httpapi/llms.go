package httpapi

import (
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/danielgtaylor/huma/v2"
)

// serveLLMsTxt renders /llms.txt: a plain-text map of the API for coding agents, built from the live OpenAPI
// document so it never drifts from the routes.
func (s *Server) serveLLMsTxt(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte(renderLLMsTxt(s.api.OpenAPI())))
}

func renderLLMsTxt(doc *huma.OpenAPI) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n> %s\n\n", doc.Info.Title, doc.Info.Description)
	b.WriteString("- OpenAPI 3.1 document: /api/openapi.json\n- Interactive reference: /api/docs\n")
	b.WriteString("- Authentication: `Authorization: Bearer ask_…` (API key) or the CLI's JWT; session callers send `X-Org-Id` and `X-Application-Id`.\n")
	b.WriteString("- Errors: application/problem+json with a stable `code`; every response carries `Request-Id`.\n\n## Operations\n\n")
	paths := make([]string, 0, len(doc.Paths))
	for p := range doc.Paths {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		item := doc.Paths[p]
		for _, m := range []struct {
			method string
			op     *huma.Operation
		}{{"GET", item.Get}, {"POST", item.Post}, {"PUT", item.Put}, {"PATCH", item.Patch}, {"DELETE", item.Delete}} {
			if m.op != nil {
				fmt.Fprintf(&b, "- %s %s: %s\n", m.method, p, m.op.Summary)
			}
		}
	}
	return b.String()
}
