package runplan

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/<name>, rewriting it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs (go test -update rewrites it):\n--- got ---\n%s", path, got)
	}
}

const fullInputSchema = `{"type":"object","properties":{
  "topic":{"type":"string","description":"What to write about"},
  "filters":{"type":"object","description":"Search filters"},
  "tags":{"type":"array","items":{"type":"string"}},
  "notes":{"type":"string","description":"Free text"},
  "attachment":{"type":"string","format":"uri","contentMediaType":"application/pdf","description":"A PDF"},
  "limit":{"type":["integer","null"],"description":"At most this many"},
  "tone":{"description":"Untyped"}
},"required":["topic","attachment"]}`

// fullInput is an agent with everything the prompt can show.
func fullInput() PromptInput {
	return PromptInput{
		RunID:          "run_0190a8c4-0000-7000-8000-000000000001",
		TimeoutSeconds: 600,
		SchemaVersion:  "1.0",
		Tools: []Tool{
			{ID: "@appstrate/output", Name: "output", Description: "Return the final structured result of this run.",
				Doc: "# output\n\nCall `output` **exactly once** with `{\"data\": {...}}`.\n"},
			{ID: "@appstrate/note", Name: "note", Description: "Save a memory\nfor later runs.", Doc: "# note\n\nSave a memory (≤ 2000 characters).\n"},
			{ID: "@acme/fetch-json", Name: "fetch_json", Description: "Fetch a JSON document."},
		},
		Skills: []Skill{
			{ID: "@acme/tone", Name: "tone-rewriter", Description: "Rewrite text in a given tone."},
			{ID: "@acme/bare"},
		},
		Providers: []Provider{
			{ID: "@appstrate/gmail", DisplayName: "Gmail", AuthMode: "oauth2", Connected: true,
				AuthorizedURIs: []string{"https://gmail.googleapis.com/**", "https://www.googleapis.com/gmail/**"}},
			{ID: "@acme/crm", DisplayName: "Acme CRM", AuthMode: "api_key", Connected: false},
			{ID: "@appstrate/activecampaign", DisplayName: "ActiveCampaign", AuthMode: "api_key", Connected: true,
				AllowAllURIs: true, AuthorizedURIs: []string{"https://*.api-us1.com/**"}},
		},
		Input: Values{Schema: json.RawMessage(fullInputSchema), PropertyOrder: []string{"notes", "topic"},
			Values: json.RawMessage(`{"topic":"Q3 report","filters":{"region":"EU","min":3},"tags":["a","b"],
				"notes":"line one\nline two","attachment":"upload://upl_0190a8c4-0000-7000-8000-000000000002",
				"extra":"not in the schema","limit":null}`)},
		Config: Values{Schema: json.RawMessage(`{"type":"object","properties":{"language":{"type":"string","enum":["en","fr"]},
			"code":{"type":"string","description":"Uses ` + "`backticks`" + `"}}}`),
			Values: json.RawMessage(`{"language":"fr","code":"a ` + "``" + ` b"}`)},
		Documents: []Document{
			{Name: "report.pdf", MIME: "application/pdf", Data: make([]byte, 1536)},
			{Name: "tiny.txt", MIME: "text/plain", Data: []byte("hello")},
			{Name: "scan (2).png", MIME: "image/png", Data: make([]byte, 3*1024*1024+512*1024)},
		},
		Checkpoint: json.RawMessage(`{"cursor": "2026-06-01", "seen": [1, 2]}`),
		PinnedSlots: map[string]json.RawMessage{
			"style":  json.RawMessage(`"Short sentences.\nNo jargon."`),
			"digest": json.RawMessage(`{"count":3,"last":"x"}`),
		},
		Memories: []Memory{
			{Content: "The customer prefers French.", CreatedAt: time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)},
			{Content: "Two lines:\nsecond line", CreatedAt: time.Date(2026, 5, 2, 8, 30, 0, 123e6, time.FixedZone("CEST", 2*3600))},
		},
		OutputSchema: json.RawMessage(`{"type":"object","properties":{"summary":{"type":"string","description":"One paragraph"},
			"items":{"type":"array","items":{"type":"object"}}},"required":["summary"]}`),
		AgentPrompt: "# Mission\n\nWrite about {{input.topic}}.\n",
	}
}

const templatePrompt = `# Run {{runId}}

Topic: {{input.topic}} ({{input.filters.region}}), filters {{input.filters}}; language {{config.language}}.
{{#checkpoint}}
Resume from {{cursor}} (seen {{seen}}).
{{/checkpoint}}
{{^checkpoint}}
First run.
{{/checkpoint}}
{{#memories}}
- remembered: {{content}} @ {{createdAt}}
{{/memories}}
{{^history}}
No history in the view.
{{/history}}
Missing: [{{input.nope}}] Raw: {{{input.notes}}}
`

func TestBuildPromptGolden(t *testing.T) {
	minimal := PromptInput{RunID: "run_min", TimeoutSeconds: 300, SchemaVersion: "1.0", AgentPrompt: "Say hello.\n"}

	template := fullInput()
	template.SchemaVersion = "1.1"
	template.AgentPrompt = templatePrompt

	verbatim := template
	verbatim.SchemaVersion = "1.0"

	noCheckpoint := template
	noCheckpoint.Checkpoint = nil
	noCheckpoint.Memories = nil
	noCheckpoint.SchemaVersion = "2.3"

	noSchemas := PromptInput{RunID: "run_plain", TimeoutSeconds: 30, AgentPrompt: "Do it.",
		Input:  Values{Values: json.RawMessage(`{"b":{"x":[1,2]},"a":"text"}`)},
		Config: Values{Values: json.RawMessage(`{}`)}, OutputSchema: json.RawMessage(`{"type":"object","properties":{}}`),
		Providers: []Provider{{ID: "@acme/crm", Connected: true}}}

	tests := []struct {
		name string
		in   PromptInput
	}{
		{"minimal", minimal},
		{"full", fullInput()},
		{"template_1_1", template},
		{"template_1_0_verbatim", verbatim},
		{"template_2_3_no_checkpoint", noCheckpoint},
		{"no_schemas", noSchemas},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := BuildPrompt(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(got, "[object Object]") {
				t.Fatal("an object printed as [object Object]")
			}
			golden(t, filepath.Join("prompt", tt.name+".golden"), []byte(got))
		})
	}
}

// TestBuildPromptSectionOrder checks the §4.6 order on the full prompt, independently of the goldens.
func TestBuildPromptSectionOrder(t *testing.T) {
	got, err := BuildPrompt(fullInput())
	if err != nil {
		t.Fatal(err)
	}
	order := []string{"## System", "### Environment", "### Tools", "# output", "# run_history", "### Skills",
		"## Connected Providers", "## User Input", "## Documents", "## Configuration", "## Checkpoint",
		"## Pinned Slots", "## Memory", "## Output Format", "\n---\n\n# Mission"}
	last := -1
	for _, h := range order {
		i := strings.Index(got, h)
		if i <= last {
			t.Fatalf("%q at %d, after the previous section at %d", h, i, last)
		}
		last = i
	}
	for _, absent := range []string{"Acme CRM", "upload://", "(not provided)\n- **attachment**"} {
		if strings.Contains(got, absent) {
			t.Fatalf("prompt contains %q", absent)
		}
	}
	for _, present := range []string{"up to 8000 tokens (about 28000 characters)", "under 100000 tokens", "At most 10 MB once decoded", "time out after 30 seconds", `{"min":3,"region":"EU"}`,
		"- **limit** (integer | null, optional): At most this many — `null`", "- **extra**: `not in the schema`",
		"(application/pdf, 1.5 KB)", "(text/plain, 5 B)", "(image/png, 3.50 MB)", "(2026-05-02T06:30:00.123Z)"} {
		if !strings.Contains(got, present) {
			t.Fatalf("prompt lacks %q", present)
		}
	}
}

func TestBuildPromptInvalidTemplate(t *testing.T) {
	in := PromptInput{RunID: "r", SchemaVersion: "1.1", AgentPrompt: "ok\n{{#input}}\nnever closed"}
	_, err := BuildPrompt(in)
	if !errors.Is(err, ErrInvalidPrompt) || !strings.Contains(err.Error(), `line 2: unclosed section "input"`) {
		t.Fatalf("err %v", err)
	}
	in.SchemaVersion = "1.0" // verbatim: not a template
	if _, err := BuildPrompt(in); err != nil {
		t.Fatal(err)
	}
}

func TestMustacheEnabled(t *testing.T) {
	for v, want := range map[string]bool{"": false, "1.0": false, "1.1": true, "1.10": true, "2.0": true, "0.9": false,
		"1": false, "x.y": false, " 1.1 ": true} {
		if got := mustacheEnabled(v); got != want {
			t.Errorf("mustacheEnabled(%q) = %v", v, got)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KB", 1536: "1.5 KB", 1048575: "1024.0 KB",
		1048576: "1.00 MB", 5 << 20: "5.00 MB"} {
		if got := formatSize(n); got != want {
			t.Errorf("formatSize(%d) = %q, want %q", n, got, want)
		}
	}
	if roundSize(5<<20) != "5 MB" || roundSize(256<<10) != "256 KB" || roundSize(1000) != "1000 B" {
		t.Fatal("roundSize")
	}
}

func TestCodeSpan(t *testing.T) {
	for in, want := range map[string]string{"x": "`x`", "a`b": "``a`b``", "``": "``` `` ```", "`x": "`` `x ``", "": "``"} {
		if got := codeSpan(in); got != want {
			t.Errorf("codeSpan(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzBuildPrompt feeds arbitrary schemas, values and templates (all written by agent authors or callers):
// no panic, every section heading once at most, the agent's part last.
func FuzzBuildPrompt(f *testing.F) {
	f.Add(fullInputSchema, `{"topic":"x","filters":{"a":[1,{"b":null}]}}`, `{"type":"object","properties":{"a":{}}}`, "{{input.topic}}")
	f.Add(`{"properties":{"x":{"type":["a",1]}},"required":"x"}`, `[1,2]`, `{}`, "{{#memories}}{{content}}{{/memories}}")
	f.Add(`{"properties":{"a":{"items":{"format":"uri","contentMediaType":"x"},"type":"array"}}}`, `{"a":"`+"`"+`"}`, `null`, "{{")
	f.Fuzz(func(t *testing.T, schema, values, output, prompt string) {
		in := PromptInput{RunID: "r", SchemaVersion: "1.1", AgentPrompt: prompt,
			Input:        Values{Schema: json.RawMessage(schema), Values: json.RawMessage(values)},
			Config:       Values{Schema: json.RawMessage(output), Values: json.RawMessage(values)},
			OutputSchema: json.RawMessage(output), Checkpoint: json.RawMessage(values)}
		got, err := BuildPrompt(in)
		if err != nil {
			if !errors.Is(err, ErrInvalidPrompt) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		preamble, _, ok := strings.Cut(got, "\n\n---\n\n")
		if !ok {
			t.Fatal("no separator before the agent's prompt")
		}
		for _, h := range []string{"\n## User Input\n", "\n## Configuration\n", "\n## Checkpoint\n", "\n## Output Format\n"} {
			if strings.Count(preamble, h) > 1 {
				t.Fatalf("%q twice", h)
			}
		}
	})
}
