package runplan

// Error is a reason a run cannot be planned that is the run's own fault (or its organization's), not the
// platform's: the worker finalizes the run `failed` with Message. Callers branch with errors.Is against the
// sentinels below (same Code) or errors.As for the details.
type Error struct {
	Code    string // model_not_configured, agent_not_found, missing_skill, missing_tool, missing_provider, …
	Message string // user-facing, stored as the run's error
	Err     error  // the underlying error, if any
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Is matches any *Error with the same Code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Sentinels for errors.Is.
var (
	// ErrModelNotConfigured: the run names no model and the organization has no default (nor the system).
	ErrModelNotConfigured = &Error{Code: "model_not_configured", Message: "No LLM model configured for this organization"}
	// ErrAgentNotFound: the run's agent (or the version it was created for) no longer exists.
	ErrAgentNotFound = &Error{Code: "agent_not_found", Message: "Agent not found"}
	// ErrRunNotFound: no run has the given id.
	ErrRunNotFound = &Error{Code: "run_not_found", Message: "Run not found"}
	// ErrMissingSkill, ErrMissingTool, ErrMissingProvider: a dependency of the agent (or of one of its skills)
	// does not exist for the organization, is of another type, or has no version matching its range.
	ErrMissingSkill    = &Error{Code: "missing_skill"}
	ErrMissingTool     = &Error{Code: "missing_tool"}
	ErrMissingProvider = &Error{Code: "missing_provider"}
	// ErrInvalidPrompt: prompt.md is not a valid Mustache template (schemaVersion ≥ 1.1).
	ErrInvalidPrompt = &Error{Code: "invalid_prompt"}
	// ErrModelNotSupported: the model's API shape is one the runner cannot speak.
	ErrModelNotSupported = &Error{Code: "model_not_supported"}
	// ErrDocumentUnavailable: an uploaded input file cannot be read.
	ErrDocumentUnavailable = &Error{Code: "document_unavailable"}
)
