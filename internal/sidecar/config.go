package sidecar

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/appstrate/appstrate-go/internal/llm"
)

// Defaults and ceilings of the configuration (RUNTIME.md §6).
const (
	DefaultListen                 = "127.0.0.1:8080"
	DefaultMaxRequestBodyBytes    = 10 << 20
	DefaultMaxMCPEnvelopeBytes    = 16 << 20
	MaxBodyCeilingBytes           = 100 << 20
	DefaultProviderCallConcurrent = 3
	DefaultInlineToolOutputTokens = 8000
	DefaultRunToolOutputBudget    = 100000
	DefaultContextWindow          = 128000
)

// Address is a listener address: a unix socket path or a TCP host:port.
type Address struct {
	Network string // "unix" or "tcp"
	Address string
}

func (a Address) String() string {
	if a.Network == "unix" {
		return "unix:" + a.Address
	}
	return a.Address
}

// IsZero reports whether no address is configured.
func (a Address) IsZero() bool { return a.Address == "" }

// Config is the sidecar's whole configuration, fixed at boot.
type Config struct {
	Listen      Address // SIDECAR_LISTEN
	ProxyListen Address // SIDECAR_PROXY_LISTEN (zero = no forward proxy)
	Token       string  // SIDECAR_TOKEN: required on /llm and /mcp when set

	RunToken    string   // RUN_TOKEN: bearer for the platform's /internal/* routes
	RunID       string   // RUN_ID, else the part of RUN_TOKEN before its first '.'
	PlatformURL *url.URL // PLATFORM_API_URL (nil = no platform: tools fail, usage is not reported)

	LLMBaseURL     *url.URL // PI_BASE_URL (nil = /llm answers 503)
	LLMAPIKey      string   // PI_API_KEY
	LLMPlaceholder string   // PI_PLACEHOLDER
	ModelAPI       string   // MODEL_API: the wire format metered ("" = no metering)

	ProxyURL *url.URL // PROXY_URL: outbound proxy for provider calls

	SinkURL         *url.URL // APPSTRATE_SINK_URL: the run's sink events URL, for the sink relay (nil = none)
	SinkFinalizeURL *url.URL // APPSTRATE_SINK_FINALIZE_URL

	ContextWindow int // MODEL_CONTEXT_WINDOW
	MaxTokens     int // MODEL_MAX_TOKENS (0 = unknown)

	MaxRequestBodyBytes     int64 // SIDECAR_MAX_REQUEST_BODY_BYTES
	MaxMCPEnvelopeBytes     int64 // SIDECAR_MAX_MCP_ENVELOPE_BYTES
	ProviderCallConcurrency int   // SIDECAR_PROVIDER_CALL_CONCURRENCY
	InlineToolOutputTokens  int   // SIDECAR_INLINE_TOOL_OUTPUT_TOKENS
	RunToolOutputBudget     int   // SIDECAR_RUN_TOOL_OUTPUT_BUDGET_TOKENS

	LogLevel slog.Level // LOG_LEVEL
}

// ConfigError names the environment variable whose value is wrong.
type ConfigError struct {
	Var    string
	Reason string
}

func (e *ConfigError) Error() string { return e.Var + ": " + e.Reason }

// LoadConfig reads and validates the environment through lookup (os.LookupEnv in production). The first bad
// value is returned as a *ConfigError.
func LoadConfig(lookup func(string) (string, bool)) (Config, error) {
	env := func(name string) string {
		v, _ := lookup(name)
		return strings.TrimSpace(v)
	}
	cfg := Config{
		Token:          env("SIDECAR_TOKEN"),
		RunToken:       env("RUN_TOKEN"),
		LLMAPIKey:      env("PI_API_KEY"),
		LLMPlaceholder: env("PI_PLACEHOLDER"),
	}
	p := parser{env: env}
	cfg.Listen = p.address("SIDECAR_LISTEN", DefaultListen)
	cfg.ProxyListen = p.address("SIDECAR_PROXY_LISTEN", "")
	cfg.PlatformURL = p.httpURL("PLATFORM_API_URL")
	cfg.LLMBaseURL = p.httpURL("PI_BASE_URL")
	cfg.ProxyURL = p.httpURL("PROXY_URL")
	cfg.SinkURL = p.httpURL("APPSTRATE_SINK_URL")
	cfg.SinkFinalizeURL = p.httpURL("APPSTRATE_SINK_FINALIZE_URL")
	cfg.ModelAPI = p.modelAPI("MODEL_API")
	cfg.ContextWindow = int(p.integer("MODEL_CONTEXT_WINDOW", DefaultContextWindow, 1, 1<<30))
	cfg.MaxTokens = int(p.integer("MODEL_MAX_TOKENS", 0, 1, 1<<30))
	cfg.MaxRequestBodyBytes = p.integer("SIDECAR_MAX_REQUEST_BODY_BYTES", DefaultMaxRequestBodyBytes, 1, MaxBodyCeilingBytes)
	cfg.MaxMCPEnvelopeBytes = p.integer("SIDECAR_MAX_MCP_ENVELOPE_BYTES", DefaultMaxMCPEnvelopeBytes, 1, MaxBodyCeilingBytes)
	cfg.ProviderCallConcurrency = int(p.integer("SIDECAR_PROVIDER_CALL_CONCURRENCY", DefaultProviderCallConcurrent, 1, 64))
	cfg.InlineToolOutputTokens = int(p.integer("SIDECAR_INLINE_TOOL_OUTPUT_TOKENS", DefaultInlineToolOutputTokens, 1, 1<<30))
	cfg.RunToolOutputBudget = int(p.integer("SIDECAR_RUN_TOOL_OUTPUT_BUDGET_TOKENS", DefaultRunToolOutputBudget, 1, 1<<30))
	cfg.LogLevel = p.logLevel("LOG_LEVEL")
	if p.err == nil && env("PI_LLM_OAUTH_CONFIG_JSON") != "" {
		p.fail("PI_LLM_OAUTH_CONFIG_JSON", "OAuth model credentials are not supported by this sidecar; give PI_BASE_URL and PI_API_KEY")
	}
	if p.err == nil && cfg.LLMBaseURL != nil && cfg.LLMPlaceholder != "" && cfg.LLMAPIKey == "" {
		p.fail("PI_API_KEY", "required when PI_PLACEHOLDER is set")
	}
	if p.err == nil && (cfg.SinkURL == nil) != (cfg.SinkFinalizeURL == nil) {
		p.fail("APPSTRATE_SINK_FINALIZE_URL", "APPSTRATE_SINK_URL and APPSTRATE_SINK_FINALIZE_URL go together")
	}
	if p.err != nil {
		return Config{}, p.err
	}
	cfg.RunID = env("RUN_ID")
	if cfg.RunID == "" {
		cfg.RunID, _, _ = strings.Cut(cfg.RunToken, ".")
	}
	if cfg.RunID == "" {
		cfg.RunID = "run"
	}
	return cfg, nil
}

// parser keeps the first error so LoadConfig reads as a list of fields.
type parser struct {
	env func(string) string
	err error
}

func (p *parser) fail(name, reason string) {
	if p.err == nil {
		p.err = &ConfigError{Var: name, Reason: reason}
	}
}

func (p *parser) address(name, def string) Address {
	v := p.env(name)
	if v == "" {
		v = def
	}
	if v == "" {
		return Address{}
	}
	a, err := ParseAddress(v)
	if err != nil {
		p.fail(name, err.Error())
	}
	return a
}

// ParseAddress reads "unix:/abs/path.sock" or "host:port".
func ParseAddress(v string) (Address, error) {
	if path, ok := strings.CutPrefix(v, "unix:"); ok {
		if !filepath.IsAbs(path) {
			return Address{}, fmt.Errorf("unix socket path must be absolute, got %q", path)
		}
		return Address{Network: "unix", Address: filepath.Clean(path)}, nil
	}
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		return Address{}, fmt.Errorf("want unix:/abs/path.sock or host:port, got %q", v)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return Address{}, fmt.Errorf("invalid port in %q", v)
	}
	return Address{Network: "tcp", Address: v}, nil
}

func (p *parser) httpURL(name string) *url.URL {
	v := p.env(name)
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.fail(name, fmt.Sprintf("want an absolute http(s) URL, got %q", redactURL(v)))
		return nil
	}
	return u
}

func (p *parser) modelAPI(name string) string {
	v := p.env(name)
	if v == "" {
		return ""
	}
	if _, err := llm.ParseAPI(v); err != nil {
		p.fail(name, fmt.Sprintf("unsupported API shape %q", v))
		return ""
	}
	return v
}

func (p *parser) integer(name string, def, lo, hi int64) int64 {
	v := p.env(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		p.fail(name, fmt.Sprintf("want an integer between %d and %d, got %q", lo, hi, v))
		return def
	}
	return n
}

func (p *parser) logLevel(name string) slog.Level {
	switch strings.ToLower(p.env(name)) {
	case "", "info":
		return slog.LevelInfo
	case "debug", "trace":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error", "fatal":
		return slog.LevelError
	}
	p.fail(name, fmt.Sprintf("want debug, info, warn or error, got %q", p.env(name)))
	return slog.LevelInfo
}

// redactURL hides userinfo in a URL shown in an error.
func redactURL(v string) string {
	if u, err := url.Parse(v); err == nil && u.User != nil {
		u.User = url.User("redacted")
		return u.String()
	}
	return v
}
