package curl

import (
	"fmt"
	"strconv"
	"strings"
)

// Exit codes of `appstrate api` (CLI.md A8), as curl's.
const (
	ExitOK         = 0
	ExitFailure    = 1  // not logged in, auth errors, bad flags
	ExitUsage      = 2  // refused combinations, foreign host, cookie jars
	ExitDNS        = 6  // could not resolve host
	ExitConnect    = 7  // refused, unreachable, reset
	ExitHTTP       = 22 // HTTP error under -f / --fail-with-body (status < 500)
	ExitHTTPServer = 25 // HTTP error ≥ 500 under -f / --fail-with-body
	ExitTimeout    = 28 // --max-time / --connect-timeout
	ExitTLS        = 35 // TLS errors
)

// UsageError is a command line `api` refuses; Code is 1 for parse errors, 2 for refused combinations.
type UsageError struct {
	Code int
	Msg  string
}

func (e *UsageError) Error() string { return e.Msg }

// DataPart is one -d / --data-raw / --data-binary / --data-urlencode value, in command-line order.
type DataPart struct {
	Kind  string // "data", "raw", "binary", "urlencode"
	Value string
}

// Options is a parsed `appstrate api` command line.
type Options struct {
	Method   string   // positional method (upper-cased), "" when absent
	Target   string   // path or absolute URL
	Request  string   // -X
	Headers  []string // -H, raw "Name: value"
	Data     []DataPart
	Forms    []string // -F
	Upload   string   // -T
	Get      bool     // -G
	Query    []string // -q k=v
	Include  bool     // -i
	Head     bool     // -I
	Output   string   // -o
	Fail     bool     // -f
	FailBody bool     // --fail-with-body
	Location bool     // -L
	Verbose  bool     // -v
	Silent   bool     // -s
	ShowErr  bool     // -S
	Insecure bool     // -k: TLS verification off

	MaxTime          float64 // --max-time seconds (0: none)
	ConnectTimeout   float64 // --connect-timeout seconds
	Retry            int
	RetryDelay       float64 // seconds, default 1
	RetryMaxTime     float64 // seconds (0: none)
	RetryConnRefused bool

	Compressed bool   // --compressed
	Range      string // -r
	Referer    string // -e
	Cookie     string // -b
	UserAgent  string // -A
	WriteOut   string // -w
	HasUA      bool

	// Global options the api command accepts too.
	Profile        string // -p / --profile
	InstanceUnsafe bool   // --insecure (global: allow http:// non-loopback instances)
	Help           bool
}

// flagSpec describes one option.
type flagSpec struct {
	long  string
	short byte
	value bool
	set   func(o *Options, v string) error
}

func parseSeconds(flag, v string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || f < 0 || f != f || f > 1e9 {
		return 0, &UsageError{Code: ExitFailure, Msg: fmt.Sprintf("option %s: expected a number of seconds, got %q", flag, v)}
	}
	return f, nil
}

var flagSpecs = []flagSpec{
	{"request", 'X', true, func(o *Options, v string) error { o.Request = v; return nil }},
	{"header", 'H', true, func(o *Options, v string) error { o.Headers = append(o.Headers, v); return nil }},
	{"data", 'd', true, func(o *Options, v string) error { o.Data = append(o.Data, DataPart{"data", v}); return nil }},
	{"data-ascii", 0, true, func(o *Options, v string) error { o.Data = append(o.Data, DataPart{"data", v}); return nil }},
	{"data-raw", 0, true, func(o *Options, v string) error { o.Data = append(o.Data, DataPart{"raw", v}); return nil }},
	{"data-binary", 0, true, func(o *Options, v string) error { o.Data = append(o.Data, DataPart{"binary", v}); return nil }},
	{"data-urlencode", 0, true, func(o *Options, v string) error {
		o.Data = append(o.Data, DataPart{"urlencode", v})
		return nil
	}},
	{"form", 'F', true, func(o *Options, v string) error { o.Forms = append(o.Forms, v); return nil }},
	{"upload-file", 'T', true, func(o *Options, v string) error { o.Upload = v; return nil }},
	{"get", 'G', false, func(o *Options, _ string) error { o.Get = true; return nil }},
	{"query", 'q', true, func(o *Options, v string) error { o.Query = append(o.Query, v); return nil }},
	{"include", 'i', false, func(o *Options, _ string) error { o.Include = true; return nil }},
	{"head", 'I', false, func(o *Options, _ string) error { o.Head = true; return nil }},
	{"output", 'o', true, func(o *Options, v string) error { o.Output = v; return nil }},
	{"fail", 'f', false, func(o *Options, _ string) error { o.Fail = true; return nil }},
	{"fail-with-body", 0, false, func(o *Options, _ string) error { o.FailBody = true; return nil }},
	{"location", 'L', false, func(o *Options, _ string) error { o.Location = true; return nil }},
	{"verbose", 'v', false, func(o *Options, _ string) error { o.Verbose = true; return nil }},
	{"silent", 's', false, func(o *Options, _ string) error { o.Silent = true; return nil }},
	{"show-error", 'S', false, func(o *Options, _ string) error { o.ShowErr = true; return nil }},
	{"", 'k', false, func(o *Options, _ string) error { o.Insecure = true; return nil }},
	{"max-time", 'm', true, func(o *Options, v string) (err error) { o.MaxTime, err = parseSeconds("--max-time", v); return }},
	{"connect-timeout", 0, true, func(o *Options, v string) (err error) {
		o.ConnectTimeout, err = parseSeconds("--connect-timeout", v)
		return
	}},
	{"retry", 0, true, func(o *Options, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 || n > 1000 {
			return &UsageError{Code: ExitFailure, Msg: fmt.Sprintf("option --retry: expected a count, got %q", v)}
		}
		o.Retry = n
		return nil
	}},
	{"retry-delay", 0, true, func(o *Options, v string) (err error) { o.RetryDelay, err = parseSeconds("--retry-delay", v); return }},
	{"retry-max-time", 0, true, func(o *Options, v string) (err error) {
		o.RetryMaxTime, err = parseSeconds("--retry-max-time", v)
		return
	}},
	{"retry-connrefused", 0, false, func(o *Options, _ string) error { o.RetryConnRefused = true; return nil }},
	{"compressed", 0, false, func(o *Options, _ string) error { o.Compressed = true; return nil }},
	{"range", 'r', true, func(o *Options, v string) error { o.Range = v; return nil }},
	{"referer", 'e', true, func(o *Options, v string) error { o.Referer = v; return nil }},
	{"cookie", 'b', true, func(o *Options, v string) error { o.Cookie = v; return nil }},
	{"user-agent", 'A', true, func(o *Options, v string) error { o.UserAgent, o.HasUA = v, true; return nil }},
	{"write-out", 'w', true, func(o *Options, v string) error { o.WriteOut = v; return nil }},
	{"no-buffer", 'N', false, func(*Options, string) error { return nil }}, // accepted for AGENTS.md recipes: output is never buffered
	{"profile", 'p', true, func(o *Options, v string) error { o.Profile = v; return nil }},
	{"insecure", 0, false, func(o *Options, _ string) error { o.InstanceUnsafe = true; return nil }},
	{"help", 'h', false, func(o *Options, _ string) error { o.Help = true; return nil }},
}

func lookupLong(name string) *flagSpec {
	for i := range flagSpecs {
		if flagSpecs[i].long != "" && flagSpecs[i].long == name {
			return &flagSpecs[i]
		}
	}
	return nil
}

func lookupShort(c byte) *flagSpec {
	for i := range flagSpecs {
		if flagSpecs[i].short == c {
			return &flagSpecs[i]
		}
	}
	return nil
}

var methods = map[string]bool{"GET": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "HEAD": true, "OPTIONS": true}

// Parse reads the arguments of `appstrate api` (everything after `api`). Short flags combine (`-sS`,
// `-XPOST`), long flags take `--flag value` or `--flag=value`, and `--` ends the options.
func Parse(args []string) (*Options, error) {
	o := &Options{RetryDelay: 1}
	var positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			positional = append(positional, args[i+1:]...)
			i = len(args)
		case strings.HasPrefix(a, "--"):
			name, value, hasValue := strings.Cut(a[2:], "=")
			spec := lookupLong(name)
			if spec == nil {
				return nil, &UsageError{Code: ExitFailure, Msg: fmt.Sprintf("error: unknown option '--%s'", name)}
			}
			if spec.value && !hasValue {
				if i+1 >= len(args) {
					return nil, &UsageError{Code: ExitFailure, Msg: fmt.Sprintf("error: option '--%s' argument missing", name)}
				}
				i++
				value = args[i]
			} else if !spec.value && hasValue {
				return nil, &UsageError{Code: ExitFailure, Msg: fmt.Sprintf("error: option '--%s' does not take a value", name)}
			}
			if err := spec.set(o, value); err != nil {
				return nil, err
			}
		case len(a) > 1 && a[0] == '-':
			for j := 1; j < len(a); j++ {
				spec := lookupShort(a[j])
				if spec == nil {
					return nil, &UsageError{Code: ExitFailure, Msg: fmt.Sprintf("error: unknown option '-%s'", a[j:j+1])}
				}
				if !spec.value {
					if err := spec.set(o, ""); err != nil {
						return nil, err
					}
					continue
				}
				value := a[j+1:]
				if value == "" {
					if i+1 >= len(args) {
						return nil, &UsageError{Code: ExitFailure, Msg: fmt.Sprintf("error: option '-%c' argument missing", a[j])}
					}
					i++
					value = args[i]
				}
				if err := spec.set(o, value); err != nil {
					return nil, err
				}
				break
			}
		default:
			positional = append(positional, a)
		}
	}
	if o.Help {
		return o, nil
	}
	switch len(positional) {
	case 0:
		return nil, &UsageError{Code: ExitFailure, Msg: "error: missing required argument 'target'"}
	case 1:
		o.Target = positional[0]
	case 2:
		m := strings.ToUpper(positional[0])
		if !methods[m] {
			return nil, &UsageError{Code: ExitFailure, Msg: fmt.Sprintf("expected HTTP method as first argument, got %q (GET POST PUT PATCH DELETE HEAD OPTIONS)", positional[0])}
		}
		o.Method, o.Target = m, positional[1]
	default:
		return nil, &UsageError{Code: ExitFailure, Msg: fmt.Sprintf("error: too many arguments (%d); expected [method] <target>", len(positional))}
	}
	return o, o.check()
}

// check refuses the combinations of CLI.md A8 (exit 2).
func (o *Options) check() error {
	var urlencode, other bool
	for _, d := range o.Data {
		if d.Kind == "urlencode" {
			urlencode = true
		} else {
			other = true
		}
	}
	switch {
	case o.Upload != "" && (len(o.Data) > 0 || len(o.Forms) > 0):
		return &UsageError{Code: ExitUsage, Msg: "-T/--upload-file cannot be combined with -d/--data*/-F"}
	case urlencode && (other || len(o.Forms) > 0):
		return &UsageError{Code: ExitUsage, Msg: "--data-urlencode cannot be combined with -d/--data-raw/--data-binary/-F"}
	case o.Get && len(o.Forms) > 0:
		return &UsageError{Code: ExitUsage, Msg: "-G/--get cannot be combined with -F/--form"}
	case o.Cookie != "" && looksLikePath(o.Cookie):
		return &UsageError{Code: ExitUsage, Msg: fmt.Sprintf("cookie jars are not supported: -b %q looks like a file path; pass cookies literally (-b 'name=value')", o.Cookie)}
	}
	return nil
}

func looksLikePath(s string) bool {
	for _, p := range []string{"./", "../", "/", "~"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// EffectiveMethod applies the precedence -I → HEAD, -X, positional, -T → PUT, a body → POST, else GET (-G
// turns a body into a query string, so GET).
func (o *Options) EffectiveMethod() string {
	switch {
	case o.Head:
		return "HEAD"
	case o.Request != "":
		return strings.ToUpper(o.Request)
	case o.Method != "":
		return o.Method
	case o.Upload != "":
		return "PUT"
	case (len(o.Data) > 0 || len(o.Forms) > 0) && !o.Get:
		return "POST"
	}
	return "GET"
}
