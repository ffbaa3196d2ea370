package runplan

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/appstrate/appstrate-go/internal/sidecar"
)

// What the prompt tells the model about provider_call is what the sidecar (internal/sidecar) and the runner
// do: the sidecar's timeout, request-body cap and token budget — a text response within the inline cap is
// returned as is while the run's inlined total stays within the run budget; larger text and every binary
// response are stored as a resource link, which the runner reads and saves in the workspace (internal/runner).
const (
	providerCallTimeout     = sidecar.ProviderCallTimeout
	providerBodyBytes       = sidecar.DefaultMaxRequestBodyBytes
	providerInlineTokens    = sidecar.DefaultInlineToolOutputTokens
	providerRunBudgetTokens = sidecar.DefaultRunToolOutputBudget
	charsPerToken           = 3.5 // the sidecar's estimate
)

// Tool is a tool the model can call, as the prompt lists it.
type Tool struct {
	ID          string // package id ("@appstrate/output"); "" for the runtime tools
	Name        string // what the model calls
	Description string
	Doc         string // usage documentation (the package's TOOL.md); "" = none
}

// Skill is a skill package available in the workspace.
type Skill struct {
	ID          string // package id; its files are under .pi/skills/<ID>/
	Name        string // SKILL.md frontmatter name ("" = the id)
	Description string
}

// Provider is a provider package the agent depends on.
type Provider struct {
	ID             string
	DisplayName    string // "" = the id
	Description    string
	AuthMode       string
	AuthorizedURIs []string
	AllowAllURIs   bool
	DocsURL        string
	Doc            string // PROVIDER.md; "" = none
	// Connected reports whether the run's actor has a usable connection: only those are in the prompt and in
	// CONNECTED_PROVIDERS (every provider gets its skill in the workspace).
	Connected bool
}

// Document is an uploaded input file placed under documents/.
type Document struct {
	Name string // the workspace file name (sanitised: see uploads.DocumentName)
	MIME string
	Data []byte
}

// Memory is a pinned memory shown in every run of the agent.
type Memory struct {
	Content   string
	CreatedAt time.Time
}

// Values are the input or the configuration of a run with the schema describing them.
type Values struct {
	Schema        json.RawMessage // JSON Schema object ("" = none)
	PropertyOrder []string        // the manifest wrapper's propertyOrder
	Values        json.RawMessage // JSON object
}

// PromptInput is everything the platform prompt is built from.
type PromptInput struct {
	RunID          string
	TimeoutSeconds int
	// SchemaVersion is the agent manifest's schemaVersion: from 1.1 prompt.md is a Mustache template.
	SchemaVersion string
	Tools         []Tool // the agent's tool packages, in dependency order
	Skills        []Skill
	Providers     []Provider
	Input         Values
	Config        Values
	Documents     []Document
	Checkpoint    json.RawMessage            // nil = none
	PinnedSlots   map[string]json.RawMessage // key → JSON value (the checkpoint excluded)
	Memories      []Memory                   // pinned memories, oldest first
	OutputSchema  json.RawMessage
	AgentPrompt   string // prompt.md
}

// RuntimeTools are the tools the runner always offers, after the agent's own (§4.4).
var RuntimeTools = []Tool{
	{Name: "run_history", Description: "Fetch the recent successful runs of this agent (their checkpoints, optionally their results).",
		Doc: runHistoryDoc},
	{Name: "recall_memory", Description: "Search the memories that earlier runs of this agent saved with `note`.",
		Doc: recallMemoryDoc},
}

const runHistoryDoc = `# run_history

Returns the most recent successful runs of this agent for the same user, newest first (this run excluded).

- ` + "`limit`" + ` (1–50, default 10): how many runs.
- ` + "`fields`" + ` (default ` + "`[\"checkpoint\"]`" + `; add ` + "`\"result\"`" + ` for their output): what to include for each run.

Result: ` + "`{\"object\":\"list\",\"data\":[{\"id\",\"status\",\"date\",\"duration\",\"checkpoint\"?,\"result\"?}],\"hasMore\":false}`" + `.`

const recallMemoryDoc = `# recall_memory

Searches the memories saved by earlier runs of this agent with ` + "`note`" + `, newest first.

- ` + "`q`" + ` (optional, up to 2000 characters): text the memory must contain (case-insensitive); omit it to get the latest memories.
- ` + "`limit`" + ` (1–50, default 10): how many memories.

Result: ` + "`{\"memories\":[{\"id\",\"content\",\"createdAt\",\"actorType\",\"actorId\"}]}`" + `.`

// BuildPrompt assembles the platform prompt (RUNTIME.md §4.6): the preamble sections that have content, in
// order, then "---" and prompt.md — rendered as logic-less Mustache when SchemaVersion ≥ 1.1, verbatim
// otherwise. The error is an *Error (ErrInvalidPrompt) for a template that cannot be rendered.
func BuildPrompt(in PromptInput) (string, error) {
	agentPrompt := in.AgentPrompt
	if mustacheEnabled(in.SchemaVersion) {
		rendered, err := RenderMustache(in.AgentPrompt, mustacheView(in))
		if err != nil {
			return "", &Error{Code: ErrInvalidPrompt.Code, Message: "prompt.md is not a valid template: " + err.Error(), Err: err}
		}
		agentPrompt = rendered
	}
	var sections []string
	add := func(s string) {
		if s != "" {
			sections = append(sections, s)
		}
	}
	connected, skills := connectedProviders(in.Providers)
	add(systemSection(in, len(connected) > 0))
	add(toolsSection(in.Tools))
	add(toolDocs(in.Tools))
	add(skillsSection(in.Skills))
	add(providersSection(connected, skills))
	add(valuesSection("User Input", in.Input))
	add(documentsSection(in.Documents))
	add(valuesSection("Configuration", in.Config))
	add(checkpointSection(in.Checkpoint))
	add(pinnedSection(in.PinnedSlots))
	add(memorySection(in.Memories))
	add(outputSection(in.OutputSchema))
	return strings.Join(sections, "\n\n") + "\n\n---\n\n" + agentPrompt, nil
}

// connectedProviders returns the connected providers with the names of their skills.
func connectedProviders(all []Provider) ([]Provider, []string) {
	names := providerSkillNames(all)
	var out []Provider
	var skills []string
	for i, p := range all {
		if p.Connected {
			out = append(out, p)
			skills = append(skills, names[i])
		}
	}
	return out, skills
}

func systemSection(in PromptInput, providers bool) string {
	network := "- **Network access**: use `curl` or `fetch` for public APIs."
	if providers {
		network += " Use `provider_call` for the connected providers below: the platform adds their credentials."
	}
	workspace := "- **Workspace**: your working directory; write your files there."
	if len(in.Documents) > 0 {
		workspace += " The uploaded documents are in `./documents/`."
	}
	return strings.Join([]string{
		"## System",
		"",
		"You are an AI agent running on the Appstrate platform.",
		"You execute a specific task inside an isolated, ephemeral container.",
		"",
		"### Environment",
		"",
		"- **Ephemeral container**: nothing persists after this run; files you write and software you install are discarded when it ends.",
		network,
		"- **Timeout**: You have " + strconv.Itoa(in.TimeoutSeconds) + " seconds to complete this task; the run is stopped after that.",
		workspace,
	}, "\n")
}

func toolsSection(tools []Tool) string {
	lines := []string{"### Tools", ""}
	for _, t := range append(append([]Tool(nil), tools...), RuntimeTools...) {
		line := "- **" + t.Name + "**"
		if d := strings.TrimSpace(t.Description); d != "" {
			line += ": " + oneLine(d)
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

func toolDocs(tools []Tool) string {
	var docs []string
	for _, t := range append(append([]Tool(nil), tools...), RuntimeTools...) {
		if d := strings.TrimSpace(t.Doc); d != "" {
			docs = append(docs, d)
		}
	}
	return strings.Join(docs, "\n\n")
}

func skillsSection(skills []Skill) string {
	if len(skills) == 0 {
		return ""
	}
	lines := []string{"### Skills", "", "These skills are available in your workspace at `.pi/skills/`. Read a skill's `SKILL.md` before you use it.", ""}
	for _, s := range skills {
		name := s.Name
		if name == "" {
			name = s.ID
		}
		line := "- **" + name + "**"
		if d := strings.TrimSpace(s.Description); d != "" {
			line += ": " + oneLine(d)
		}
		lines = append(lines, line+" (`"+SkillDir(s.ID)+"/SKILL.md`)")
	}
	return strings.Join(lines, "\n")
}

func providersSection(providers []Provider, skills []string) string {
	if len(providers) == 0 {
		return ""
	}
	lines := []string{
		"## Connected Providers",
		"",
		"Call the APIs of these providers with the `provider_call` tool. The platform injects the credentials of the connected account: never ask for them, print them or put them in a request yourself. Read the provider's skill before your first call.",
		"",
		"- Calls go through the platform's proxy and time out after " + strconv.Itoa(int(providerCallTimeout/time.Second)) + " seconds.",
		"- `target` is an absolute URL the provider authorizes. The connection's fields can be used as `{{field}}` placeholders in the URL and the headers (and in a text body with `substituteBody: true`).",
		"- `body` is a string; a file of your workspace is `{\"fromFile\": \"path\"}`; binary data is `{\"fromBytes\": \"<base64>\", \"encoding\": \"base64\"}`; a multipart form is `{\"multipart\": [{\"name\": \"title\", \"value\": \"Report\"}, {\"name\": \"file\", \"fromFile\": \"report.pdf\", \"contentType\": \"application/pdf\"}]}` (a part's content can also be `\"fromBytes\"` with `\"encoding\": \"base64\"`). At most " + roundSize(providerBodyBytes) + " once decoded.",
		"- The result is JSON `{status, headers, body}`. A text response of up to " + strconv.Itoa(providerInlineTokens) + " tokens (about " + strconv.Itoa(int(providerInlineTokens*charsPerToken)) + " characters) comes back inline as `{\"kind\": \"text\", \"text\"}` while the responses inlined during this run stay under " + strconv.Itoa(providerRunBudgetTokens) + " tokens in total. A larger text response, any binary one, and every response of a call with `\"responseMode\": {\"toFile\": true}` is saved in your workspace instead: `body` is then `{\"kind\": \"file\", \"path\", \"size\", \"mimeType\", \"sha256\"}`; work on the file at `path`, or ask for less (filters, pagination, selected fields) to get data inline.",
		"",
		"Available providers:",
		"",
	}
	for i, p := range providers {
		name := p.DisplayName
		if name == "" {
			name = p.ID
		}
		lines = append(lines, "- **"+name+"** (`"+p.ID+"`) — read `.pi/skills/"+skills[i]+"/SKILL.md`",
			"  Authorized URLs: "+authorizedURLs(p))
	}
	return strings.Join(lines, "\n")
}

func authorizedURLs(p Provider) string {
	if p.AllowAllURIs || len(p.AuthorizedURIs) == 0 {
		return "all public URLs"
	}
	quoted := make([]string, len(p.AuthorizedURIs))
	for i, u := range p.AuthorizedURIs {
		quoted[i] = codeSpan(u)
	}
	return strings.Join(quoted, ", ")
}

// valuesSection lists the input or configuration: every schema property but file fields, with its value,
// then values the schema does not describe; without a schema, every value.
func valuesSection(title string, v Values) string {
	values := decodeObject(v.Values)
	props := schemaProperties(v.Schema, v.PropertyOrder)
	var lines []string
	described := map[string]bool{}
	for _, p := range props {
		described[p.Name] = true
		if p.File {
			continue
		}
		line := p.line()
		if val, ok := values[p.Name]; ok {
			line += " — " + inlineValue(val)
		} else {
			line += " — (not provided)"
		}
		lines = append(lines, line)
	}
	for _, k := range sortedKeys(values) {
		if !described[k] {
			lines = append(lines, "- **"+k+"**: "+inlineValue(values[k]))
		}
	}
	if len(lines) == 0 {
		return ""
	}
	return "## " + title + "\n\n" + strings.Join(lines, "\n")
}

func documentsSection(docs []Document) string {
	if len(docs) == 0 {
		return ""
	}
	lines := []string{"## Documents", ""}
	for _, d := range docs {
		lines = append(lines, "- **"+d.Name+"** ("+d.MIME+", "+formatSize(int64(len(d.Data)))+") → "+codeSpan("./documents/"+d.Name))
	}
	return strings.Join(lines, "\n")
}

func checkpointSection(checkpoint json.RawMessage) string {
	if isNull(checkpoint) {
		return ""
	}
	return "## Checkpoint\n\n" +
		"The checkpoint saved by the previous run (the `pin` tool with the key `checkpoint`). Continue from it, and pin the updated checkpoint before you finish.\n\n" +
		fenced(prettyJSON(checkpoint))
}

func pinnedSection(slots map[string]json.RawMessage) string {
	if len(slots) == 0 {
		return ""
	}
	parts := []string{"## Pinned Slots\n\nValues that earlier runs pinned with the `pin` tool, by key."}
	for _, k := range sortedKeys(slots) {
		var s string
		if json.Unmarshal(slots[k], &s) == nil {
			parts = append(parts, "### "+k+"\n\n"+s)
		} else {
			parts = append(parts, "### "+k+"\n\n"+fenced(prettyJSON(slots[k])))
		}
	}
	return strings.Join(parts, "\n\n")
}

func memorySection(memories []Memory) string {
	if len(memories) == 0 {
		return ""
	}
	lines := []string{"## Memory", "", "Pinned memories (always visible across runs):", ""}
	for _, m := range memories {
		content := strings.ReplaceAll(strings.TrimSpace(m.Content), "\n", "\n  ")
		lines = append(lines, "- "+content+" ("+isoTime(m.CreatedAt)+")")
	}
	return strings.Join(lines, "\n")
}

func outputSection(schema json.RawMessage) string {
	props := schemaProperties(schema, nil)
	if len(props) == 0 {
		return ""
	}
	lines := []string{
		"## Output Format",
		"",
		"When the task is done, call the `output` tool **exactly once** with your result as `data`. It must match the schema below: an invalid result is refused with the list of problems, so fix them and call `output` again.",
		"",
		"### Required shape",
		"",
	}
	for _, p := range props {
		lines = append(lines, p.line())
	}
	lines = append(lines, "", "### Full JSON Schema", "", fenced(prettyJSON(schema)))
	return strings.Join(lines, "\n")
}

// --- Mustache view ---

func mustacheEnabled(schemaVersion string) bool {
	major, minor, ok := strings.Cut(strings.TrimSpace(schemaVersion), ".")
	if !ok {
		return false
	}
	ma, err1 := strconv.Atoi(major)
	mi, err2 := strconv.Atoi(minor)
	return err1 == nil && err2 == nil && (ma > 1 || ma == 1 && mi >= 1)
}

// mustacheView is {runId, input, config, checkpoint (or null), memories, history: []} (§4.6 item 13).
func mustacheView(in PromptInput) map[string]any {
	memories := make([]any, len(in.Memories))
	for i, m := range in.Memories {
		memories[i] = map[string]any{"content": m.Content, "createdAt": json.Number(strconv.FormatInt(m.CreatedAt.UnixMilli(), 10))}
	}
	var checkpoint any
	if !isNull(in.Checkpoint) {
		checkpoint = decodeJSON(in.Checkpoint)
	}
	input := map[string]any{}
	for k, v := range decodeObject(in.Input.Values) {
		input[k] = v
	}
	config := map[string]any{}
	for k, v := range decodeObject(in.Config.Values) {
		config[k] = v
	}
	return map[string]any{"runId": in.RunID, "input": input, "config": config, "checkpoint": checkpoint,
		"memories": memories, "history": []any{}}
}
