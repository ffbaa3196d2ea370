package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/appstrate/appstrate-go/internal/afps"
)

func newPackageInitCmd() *cobra.Command {
	var name string
	var force bool
	cmd := &cobra.Command{
		Use:   "init <agent|skill|tool|provider> [dir]",
		Short: "Write a minimal valid package to a folder",
		Long: "Write a minimal valid package of the given type to dir (default: the current folder):\n" +
			"manifest.json plus prompt.md (agent), SKILL.md (skill), tool.js and TOOL.md (tool) or PROVIDER.md\n" +
			"(provider). The package id defaults to @local/<folder name>. Existing files are kept unless --force.",
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			typ := afps.Type(args[0])
			if !typ.Valid() {
				return usageError("unknown package type %q (want agent, skill, tool or provider)", args[0])
			}
			dir := "."
			if len(args) == 2 {
				dir = args[1]
			}
			if name == "" {
				abs, err := filepath.Abs(dir)
				if err != nil {
					return usageError("%v", err)
				}
				name = "@local/" + slugify(filepath.Base(abs), "my-"+string(typ))
			}
			if !afps.ValidName(name) {
				return usageError("%q is not a package id: expected @scope/name (lowercase letters, digits and inner hyphens)", name)
			}
			files, err := scaffold(typ, name)
			if err != nil {
				return err
			}
			if !force {
				for _, p := range sortedKeys(files) {
					if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
						return usageError("%s already exists (use --force to overwrite)", filepath.Join(dir, p))
					}
				}
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return &ExitError{Code: ExitFailure, Err: err}
			}
			out := cmd.OutOrStdout()
			for _, p := range sortedKeys(files) {
				if err := os.WriteFile(filepath.Join(dir, p), files[p], 0o644); err != nil {
					return &ExitError{Code: ExitFailure, Err: err}
				}
				fmt.Fprintf(out, "created %s\n", filepath.Join(dir, p))
			}
			_, err = fmt.Fprintf(out, "%s %s is ready: appstrate package validate %s\n", typ, name, dir)
			return err
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "package id @scope/name (default @local/<folder name>)")
	cmd.Flags().BoolVar(&force, "force", false, "overwrite existing files")
	return cmd
}

var reNonSlug = regexp.MustCompile(`[^a-z0-9]+`)

// slugify lowercases s and keeps alnum runs joined by single hyphens; fallback when nothing is left.
func slugify(s, fallback string) string {
	slug := strings.Trim(reNonSlug.ReplaceAllString(strings.ToLower(s), "-"), "-")
	if len(slug) > 50 {
		slug = strings.Trim(slug[:50], "-")
	}
	if !afps.ValidSlug(slug) {
		return fallback
	}
	return slug
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// manifestJSON renders members in the given order, indented by 2, with a final newline.
func manifestJSON(members [][2]any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("{\n")
	for i, m := range members {
		v, err := json.MarshalIndent(m[1], "  ", "  ")
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&buf, "  %q: %s", m[0], v)
		if i < len(members)-1 {
			buf.WriteByte(',')
		}
		buf.WriteByte('\n')
	}
	buf.WriteString("}\n")
	return buf.Bytes(), nil
}

// scaffold returns the files of a minimal valid package.
func scaffold(typ afps.Type, id string) (map[string][]byte, error) {
	_, short, _ := afps.SplitName(id)
	title := strings.ToUpper(short[:1]) + strings.ReplaceAll(short[1:], "-", " ")
	members := [][2]any{
		{"$schema", typ.SchemaURL()},
		{"name", id},
		{"version", "0.1.0"},
		{"type", string(typ)},
		{"schemaVersion", "1.1"},
		{"displayName", title},
		{"description", "TODO: describe " + title},
	}
	files := map[string][]byte{}
	switch typ {
	case afps.TypeAgent:
		members = append(members,
			[2]any{"input", map[string]any{"schema": map[string]any{
				"type":       "object",
				"properties": map[string]any{"task": map[string]any{"type": "string", "description": "What the agent should do"}},
				"required":   []string{"task"},
			}}},
			[2]any{"output", map[string]any{"schema": map[string]any{
				"type":       "object",
				"properties": map[string]any{"summary": map[string]any{"type": "string"}},
			}}},
		)
		files[afps.PromptFile] = []byte("You are " + title + ".\n\nComplete this task: {{input.task}}\n\nFinish with a short summary as your output.\n")
	case afps.TypeSkill:
		files[afps.SkillFile] = []byte("---\nname: " + short + "\ndescription: TODO: when to use " + title + "\n---\n\n# " + title + "\n\nInstructions for the agent.\n")
	case afps.TypeTool:
		tool := strings.ReplaceAll(short, "-", "_")
		members = append(members,
			[2]any{"entrypoint", "tool.js"},
			[2]any{"tool", map[string]any{
				"name":        tool,
				"description": "TODO: what " + tool + " does",
				"inputSchema": map[string]any{"type": "object", "properties": map[string]any{"text": map[string]any{"type": "string"}}, "required": []string{"text"}},
			}},
		)
		files["tool.js"] = []byte(`export default function (pi) {
  pi.registerTool({
    name: "` + tool + `",
    label: "` + title + `",
    description: "TODO: what ` + tool + ` does",
    parameters: {
      type: "object",
      properties: { text: { type: "string" } },
      required: ["text"],
    },
    async execute(toolCallId, params, signal) {
      return { content: [{ type: "text", text: String(params.text) }] };
    },
  });
}
`)
		files[afps.ToolDocFile] = []byte("# " + title + "\n\nCall `" + tool + "` with `{\"text\": \"...\"}`.\n")
	case afps.TypeProvider:
		members = append(members, [2]any{"definition", map[string]any{
			"authMode": "api_key",
			"credentials": map[string]any{
				"schema":    map[string]any{"type": "object", "properties": map[string]any{"api_key": map[string]any{"type": "string"}}, "required": []string{"api_key"}},
				"fieldName": "api_key",
			},
			"credentialHeaderName":   "Authorization",
			"credentialHeaderPrefix": "Bearer",
			"authorizedUris":         []string{"https://api.example.com/**"},
		}})
		files[afps.ProviderFile] = []byte("# " + title + "\n\nBase URL: https://api.example.com\n\nRequests to authorized URIs carry `Authorization: Bearer <api_key>`.\n")
	}
	raw, err := manifestJSON(members)
	if err != nil {
		return nil, err
	}
	files[afps.ManifestFile] = raw
	return files, nil
}
