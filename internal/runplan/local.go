package runplan

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/appstrate/appstrate-go/internal/afps"
	"github.com/appstrate/appstrate-go/internal/afps/semver"
	"github.com/appstrate/appstrate-go/internal/packages"
)

// Local runs: `appstrate run` executes an agent on the user's machine from an `.afps-bundle`, a plain `.afps`
// or a bundle downloaded from the platform. PlanLocal assembles the same prompt and work directory as a
// platform run from packages held in memory, without the database: no persisted checkpoint, pinned slots
// or memories, and no uploaded documents.

// LocalPackage is one package of a locally executed agent.
type LocalPackage struct {
	ID       string
	Manifest *afps.Manifest
	Files    map[string][]byte
}

// LocalInput is a local run to plan.
type LocalInput struct {
	RunID string
	Agent LocalPackage
	// Lookup finds a dependency the agent's closure declares (nil: only the embedded system packages).
	// Returning (nil, nil) falls back to the system packages.
	Lookup func(dep afps.Dependency) (*LocalPackage, error)
	// Input and Config are JSON objects (nil: none).
	Input, Config json.RawMessage
	// Connected reports whether a provider counts as connected (nil: every provider does).
	Connected func(providerID string) bool
}

// LocalPlan is what a local run executes.
type LocalPlan struct {
	Prompt string
	// Files are the work directory's files (BuildWorkspace).
	Files        map[string][]byte
	OutputSchema json.RawMessage
	// AgentTools are the platform tools the agent declares (AGENT_TOOLS).
	AgentTools         []string
	ConnectedProviders []string
	Providers          []Provider
	Timeout            time.Duration
	// UnsupportedTools are tool packages left out (their code cannot run here).
	UnsupportedTools []string
}

// PlanLocal resolves the agent's dependencies breadth-first (skills and providers transitively, tools of the
// agent only, as a platform run does) and assembles the prompt and the work directory. A dependency nothing
// provides is an *Error (missing_skill, missing_tool, missing_provider).
func PlanLocal(in LocalInput) (*LocalPlan, error) {
	if in.Agent.Manifest == nil {
		return nil, errors.New("runplan: the agent has no manifest")
	}
	agent := &loadedPackage{ID: in.Agent.ID, Version: in.Agent.Manifest.Version, Type: afps.TypeAgent,
		Manifest: in.Agent.Manifest, Files: in.Agent.Files}
	b, err := localBundle(agent, in.Lookup)
	if err != nil {
		return nil, err
	}
	m := agent.Manifest
	timeout := time.Duration(m.TimeoutSeconds() * float64(time.Second))
	pin := PromptInput{RunID: in.RunID, TimeoutSeconds: int(timeout / time.Second), SchemaVersion: m.SchemaVersion,
		Input: values(m.Input, rawOrEmpty(in.Input)), Config: values(m.Config, rawOrEmpty(in.Config)),
		AgentPrompt: string(agent.Files[afps.PromptFile])}
	if m.Output != nil {
		pin.OutputSchema = m.Output.Schema
	}
	for _, pkg := range b.Providers {
		pr := pkg.provider()
		pr.Connected = in.Connected == nil || in.Connected(pr.ID)
		pin.Providers = append(pin.Providers, pr)
	}
	runnable, unsupported := splitTools(b.Tools)
	var skills, tools []PackageFiles
	var toolIDs []string
	for _, t := range runnable {
		pin.Tools = append(pin.Tools, t.tool())
		tools = append(tools, t.files())
		toolIDs = append(toolIDs, t.ID)
	}
	for _, s := range b.Skills {
		pin.Skills = append(pin.Skills, s.skill())
		skills = append(skills, s.files())
	}
	prompt, err := BuildPrompt(pin)
	if err != nil {
		return nil, err
	}
	files, err := BuildWorkspace(WorkspaceInput{Prompt: prompt, Skills: skills, Tools: tools, Providers: pin.Providers})
	if err != nil {
		return nil, fmt.Errorf("runplan: %w", err)
	}
	plan := &LocalPlan{Prompt: prompt, Files: files, OutputSchema: pin.OutputSchema, AgentTools: AgentTools(toolIDs),
		Providers: pin.Providers, Timeout: timeout, UnsupportedTools: unsupported}
	for _, pr := range pin.Providers {
		if pr.Connected {
			plan.ConnectedProviders = append(plan.ConnectedProviders, pr.ID)
		}
	}
	return plan, nil
}

func rawOrEmpty(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "{}"
	}
	return string(raw)
}

// localBundle is loadBundle over in-memory packages: lookup first, then the embedded system packages at their
// highest version satisfying the range.
func localBundle(agent *loadedPackage, lookup func(afps.Dependency) (*LocalPackage, error)) (*bundle, error) {
	return walkBundle(agent, func(dep afps.Dependency, requiredBy string) (*loadedPackage, error) {
		return localDependency(dep, requiredBy, lookup)
	})
}

func localDependency(dep afps.Dependency, requiredBy string, lookup func(afps.Dependency) (*LocalPackage, error)) (*loadedPackage, error) {
	kind := string(dep.Type)
	missing := func(why string) error {
		return &Error{Code: "missing_" + kind, Message: capitalize(kind) + " " + dep.Name + " required by " + requiredBy + " " + why}
	}
	if lookup != nil {
		lp, err := lookup(dep)
		if err != nil {
			return nil, err
		}
		if lp != nil {
			if lp.Manifest == nil || string(lp.Manifest.Type) != kind {
				return nil, missing("is not a " + kind)
			}
			return &loadedPackage{ID: lp.ID, Version: lp.Manifest.Version, Type: dep.Type, Manifest: lp.Manifest, Files: lp.Files}, nil
		}
	}
	rng := dep.Range
	if rng == "" {
		rng = "*"
	}
	cat := packages.System()
	versions := cat.Versions(dep.Name)
	if len(versions) == 0 {
		return nil, missing("is neither in the bundle nor a system package")
	}
	for i := len(versions) - 1; i >= 0; i-- {
		if semver.Satisfies(versions[i].Version, rng) {
			if versions[i].Type != kind {
				return nil, missing("is not a " + kind)
			}
			return fromSystem(versions[i]), nil
		}
	}
	return nil, missing("has no version matching " + rng)
}
