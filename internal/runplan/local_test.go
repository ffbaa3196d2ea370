package runplan_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/afps"
	"github.com/appstrate/appstrate-go/internal/runplan"
)

func localPackage(t *testing.T, manifest string, files map[string]string) runplan.LocalPackage {
	t.Helper()
	m, err := afps.ParseManifest([]byte(manifest))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{afps.ManifestFile: []byte(manifest)}
	for k, v := range files {
		out[k] = []byte(v)
	}
	return runplan.LocalPackage{ID: m.Name, Manifest: m, Files: out}
}

// TestPlanLocal: the agent's dependencies come from the bundle first (a skill), then from the embedded system
// packages (a tool, a provider); the prompt renders the input and lists the connected provider; the work
// directory holds the prompt, the skill and the provider's skill.
func TestPlanLocal(t *testing.T) {
	agent := localPackage(t, `{"name":"@acme/local","version":"1.0.0","type":"agent","schemaVersion":"1.1","timeout":42,
		"input":{"schema":{"type":"object","properties":{"who":{"type":"string"}}}},
		"dependencies":{"skills":{"@acme/tone":"^1.0.0"},"tools":{"@appstrate/output":"^2.0.0"},"providers":{"@appstrate/gmail":"*"}}}`,
		map[string]string{afps.PromptFile: "Greet {{input.who}}."})
	skill := localPackage(t, `{"name":"@acme/tone","version":"1.2.0","type":"skill"}`,
		map[string]string{afps.SkillFile: "---\nname: tone\ndescription: Be kind\n---\nBe kind."})
	lookup := func(dep afps.Dependency) (*runplan.LocalPackage, error) {
		if dep.Name == skill.ID {
			return &skill, nil
		}
		return nil, nil
	}
	plan, err := runplan.PlanLocal(runplan.LocalInput{RunID: "run_local", Agent: agent, Lookup: lookup,
		Input: json.RawMessage(`{"who":"Ada"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(plan.Prompt, "Greet Ada.") || !strings.Contains(plan.Prompt, "@appstrate/gmail") {
		t.Fatalf("prompt:\n%s", plan.Prompt)
	}
	if plan.Timeout.Seconds() != 42 || strings.Join(plan.AgentTools, ",") != "output" ||
		strings.Join(plan.ConnectedProviders, ",") != "@appstrate/gmail" {
		t.Fatalf("plan %+v", plan)
	}
	for _, f := range []string{runplan.PromptFile, ".pi/skills/@acme/tone/SKILL.md", ".git/HEAD"} {
		if _, ok := plan.Files[f]; !ok {
			t.Errorf("work directory lacks %s", f)
		}
	}

	// Nothing connected: the provider stays out of the prompt.
	plan, err = runplan.PlanLocal(runplan.LocalInput{RunID: "run_local", Agent: agent, Lookup: lookup,
		Connected: func(string) bool { return false }})
	if err != nil || len(plan.ConnectedProviders) != 0 || strings.Contains(plan.Prompt, "@appstrate/gmail") {
		t.Fatalf("unconnected plan: %v %+v", err, plan)
	}
}

func TestPlanLocalMissingDependency(t *testing.T) {
	agent := localPackage(t, `{"name":"@acme/local","version":"1.0.0","type":"agent",
		"dependencies":{"skills":{"@acme/nope":"*"}}}`, map[string]string{afps.PromptFile: "Hi."})
	_, err := runplan.PlanLocal(runplan.LocalInput{RunID: "r", Agent: agent})
	var pe *runplan.Error
	if !errors.As(err, &pe) || pe.Code != "missing_skill" || !strings.Contains(pe.Message, "@acme/nope required by @acme/local") {
		t.Fatalf("err %v", err)
	}
}
