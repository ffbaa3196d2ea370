package curl

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want func(o *Options) bool
	}{
		{"one positional is the target", []string{"/api/agents"}, func(o *Options) bool { return o.Target == "/api/agents" && o.Method == "" }},
		{"method in any case", []string{"post", "/x"}, func(o *Options) bool { return o.Method == "POST" && o.Target == "/x" }},
		{"combined short flags", []string{"-sSfL", "/x"}, func(o *Options) bool { return o.Silent && o.ShowErr && o.Fail && o.Location }},
		{"attached short value", []string{"-XPATCH", "-HX-A: 1", "/x"}, func(o *Options) bool {
			return o.Request == "PATCH" && reflect.DeepEqual(o.Headers, []string{"X-A: 1"})
		}},
		{"long flag with =", []string{"--data-raw=@x", "--max-time=1.5", "/x"}, func(o *Options) bool {
			return o.Data[0] == DataPart{"raw", "@x"} && o.MaxTime == 1.5
		}},
		{"data parts keep their order", []string{"-d", "a=1", "--data-binary", "@f", "/x"}, func(o *Options) bool {
			return reflect.DeepEqual(o.Data, []DataPart{{"data", "a=1"}, {"binary", "@f"}})
		}},
		{"global flags are accepted", []string{"-p", "prod", "--insecure", "/x"}, func(o *Options) bool { return o.Profile == "prod" && o.InstanceUnsafe && !o.Insecure }},
		{"-k is the TLS skip", []string{"-k", "/x"}, func(o *Options) bool { return o.Insecure && !o.InstanceUnsafe }},
		{"-N is a no-op", []string{"-N", "/x"}, func(o *Options) bool { return o.Target == "/x" }},
		{"-- ends options", []string{"--", "-odd"}, func(o *Options) bool { return o.Target == "-odd" }},
		{"help needs no target", []string{"--help"}, func(o *Options) bool { return o.Help }},
		{"retry defaults", []string{"--retry", "3", "/x"}, func(o *Options) bool { return o.Retry == 3 && o.RetryDelay == 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := Parse(tt.args)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.want(o) {
				t.Fatalf("%+v", o)
			}
		})
	}
}

func TestParseRefusals(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"unknown option", []string{"--nope", "/x"}, 1, "unknown option '--nope'"},
		{"unknown short option", []string{"-Z", "/x"}, 1, "unknown option '-Z'"},
		{"missing target", []string{"-s"}, 1, "missing required argument"},
		{"missing value", []string{"/x", "-H"}, 1, "argument missing"},
		{"first of two positionals is not a method", []string{"FETCH", "/x"}, 1, `expected HTTP method as first argument, got "FETCH"`},
		{"too many positionals", []string{"GET", "/x", "/y"}, 1, "too many arguments"},
		{"-T with a body", []string{"-T", "f", "-d", "x", "/x"}, 2, "-T/--upload-file"},
		{"--data-urlencode with -d", []string{"--data-urlencode", "a=b", "-d", "x", "/x"}, 2, "--data-urlencode"},
		{"--data-urlencode with -d even with -G", []string{"-G", "--data-urlencode", "a=b", "-d", "x", "/x"}, 2, "--data-urlencode"},
		{"-G with -F", []string{"-G", "-F", "a=b", "/x"}, 2, "-G/--get"},
		{"cookie jar", []string{"-b", "./jar.txt", "/x"}, 2, "cookie jars are not supported"},
		{"bad retry", []string{"--retry", "x", "/x"}, 1, "--retry"},
		{"negative timeout", []string{"--max-time", "-1", "/x"}, 1, "--max-time"},
		{"boolean with a value", []string{"--silent=yes", "/x"}, 1, "does not take a value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.args)
			var ue *UsageError
			if !errors.As(err, &ue) || ue.Code != tt.code || !strings.Contains(ue.Msg, tt.msg) {
				t.Fatalf("err = %v, want code %d with %q", err, tt.code, tt.msg)
			}
		})
	}
}

func TestEffectiveMethod(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"/x"}, "GET"},
		{[]string{"-d", "a", "/x"}, "POST"},
		{[]string{"-F", "a=b", "/x"}, "POST"},
		{[]string{"-T", "f", "/x"}, "PUT"},
		{[]string{"-d", "a", "-G", "/x"}, "GET"},
		{[]string{"DELETE", "/x", "-d", "a"}, "DELETE"},
		{[]string{"-X", "patch", "GET", "/x"}, "PATCH"},
		{[]string{"-I", "-X", "POST", "/x"}, "HEAD"},
	}
	for _, tt := range tests {
		o, err := Parse(tt.args)
		if err != nil {
			t.Fatal(err)
		}
		if got := o.EffectiveMethod(); got != tt.want {
			t.Errorf("%v: %s, want %s", tt.args, got, tt.want)
		}
	}
}

func plan(t *testing.T, stdin string, files map[string]string, args ...string) *Plan {
	t.Helper()
	o, err := Parse(args)
	if err != nil {
		t.Fatal(err)
	}
	p, err := BuildPlan(o, "http://127.0.0.1:4599", Files{Stdin: strings.NewReader(stdin), ReadFile: func(name string) ([]byte, error) {
		if s, ok := files[name]; ok {
			return []byte(s), nil
		}
		return nil, errors.New("no such file")
	}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBuildPlan(t *testing.T) {
	files := map[string]string{"body.json": `{"a":1}` + "\n", "v.txt": "a b&c"}
	tests := []struct {
		name  string
		stdin string
		args  []string
		check func(t *testing.T, p *Plan)
	}{
		{"relative path on the instance with -q", "", []string{"-q", "k=a b", "-q", "flag", "/api/runs?x=1"}, func(t *testing.T, p *Plan) {
			if p.URL.String() != "http://127.0.0.1:4599/api/runs?x=1&k=a+b&flag=" {
				t.Fatal(p.URL)
			}
		}},
		{"absolute URL on the same origin", "", []string{"http://127.0.0.1:4599/api/x"}, func(t *testing.T, p *Plan) {
			if p.URL.Path != "/api/x" {
				t.Fatal(p.URL)
			}
		}},
		{"literal -d: one trailing newline stripped, no content type", "", []string{"-d", "x=1\n\n", "/x"}, func(t *testing.T, p *Plan) {
			if string(p.Body) != "x=1\n" || p.ContentType != "" {
				t.Fatalf("%q %q", p.Body, p.ContentType)
			}
		}},
		{"-d values joined with &", "", []string{"-d", "a=1", "--data-raw", "@b", "/x"}, func(t *testing.T, p *Plan) {
			if string(p.Body) != "a=1&@b" {
				t.Fatalf("%q", p.Body)
			}
		}},
		{"@file as is with a MIME type from the extension", "", []string{"-d", "@body.json", "/x"}, func(t *testing.T, p *Plan) {
			if string(p.Body) != `{"a":1}`+"\n" || p.ContentType != "application/json" {
				t.Fatalf("%q %q", p.Body, p.ContentType)
			}
		}},
		{"@- streams stdin", "from stdin", []string{"-d", "@-", "/x"}, func(t *testing.T, p *Plan) {
			b, _ := io.ReadAll(p.Stream)
			if string(b) != "from stdin" || p.Replayable() {
				t.Fatalf("%q", b)
			}
		}},
		{"-T file is a PUT of the file", "", []string{"-T", "body.json", "/x"}, func(t *testing.T, p *Plan) {
			if p.Method != "PUT" || p.ContentType != "application/json" {
				t.Fatal(p.Method, p.ContentType)
			}
		}},
		{"--data-urlencode forms", "", []string{"--data-urlencode", "a b", "--data-urlencode", "=c&d", "--data-urlencode", "n=e f",
			"--data-urlencode", "@v.txt", "--data-urlencode", "m@v.txt", "/x"}, func(t *testing.T, p *Plan) {
			if string(p.Body) != "a%20b&c%26d&n=e%20f&a%20b%26c&m=a%20b%26c" {
				t.Fatalf("%q", p.Body)
			}
		}},
		{"-G moves the data to the query", "", []string{"-G", "-d", "a=1&b=2", "/x"}, func(t *testing.T, p *Plan) {
			if p.Method != "GET" || p.Body != nil || p.URL.RawQuery != "a=1&b=2" {
				t.Fatalf("%s %q %q", p.Method, p.Body, p.URL.RawQuery)
			}
		}},
		{"-F multipart with a file part", "", []string{"-F", "name=x", "-F", "file=@dir/v.txt;type=text/plain", "/x"}, func(t *testing.T, p *Plan) {
			files["dir/v.txt"] = "a b&c"
			if !strings.HasPrefix(p.ContentType, "multipart/form-data; boundary=") {
				t.Fatal(p.ContentType)
			}
		}},
		{"shortcut headers then -H, case-insensitive override", "", []string{"--compressed", "-r", "0-9", "-e", "https://r", "-b", "k=v",
			"-H", "authorization: Bearer mine", "-H", "X-Org-Id:", "-H", "NoColon", "-H", "X-Empty;", "-A", "ua/1", "/x"}, func(t *testing.T, p *Plan) {
			got := p.HeaderList([]Header{{"User-Agent", "appstrate-cli/1"}, {"Authorization", "Bearer jwt"}, {"X-Org-Id", "org"}})
			want := []Header{{"User-Agent", "ua/1"}, {"authorization", "Bearer mine"}, {"Accept-Encoding", "gzip, deflate"},
				{"Range", "bytes=0-9"}, {"Referer", "https://r"}, {"Cookie", "k=v"}, {"X-Empty", ""}}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%v\nwant %v", got, want)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Contains(tt.name, "multipart") {
				files["dir/v.txt"] = "a b&c"
			}
			tt.check(t, plan(t, tt.stdin, files, tt.args...))
		})
	}
}

func TestForeignHostIsRefused(t *testing.T) {
	for _, target := range []string{"https://evil.example/api", "http://127.0.0.1:4600/api", "https://127.0.0.1:4599/api"} {
		o, _ := Parse([]string{target})
		_, err := BuildPlan(o, "http://127.0.0.1:4599", Files{})
		var ue *UsageError
		if !errors.As(err, &ue) || ue.Code != ExitUsage || !strings.Contains(ue.Msg, "refusing to send bearer to foreign host") {
			t.Errorf("%s: %v", target, err)
		}
	}
}

func TestWriteOut(t *testing.T) {
	v := WriteOutVars{HTTPCode: 201, HTTPVersion: "1.1", SizeDownload: 12, URLEffective: "http://h/x", NumRedirects: 1,
		Headers: map[string]string{"content-type": "application/json", "b": "2"}, ExitCode: 0, TimeTotal: 1500000000}
	got := WriteOut(`%{http_code} %{http_version} %{size_download} %{url_effective} %{num_redirects} %{time_total} %{exitcode}\n%{header_json}\t%{nope} %{unterminated`, v)
	want := "201 1.1 12 http://h/x 1 1.500000 0\n{\"b\":\"2\",\"content-type\":\"application/json\"}\t%{nope} %{unterminated"
	if got != want {
		t.Fatalf("%q\nwant %q", got, want)
	}
}

// FuzzCurlArgs: the api argument parser never panics, its errors carry exit code 1 or 2, and whatever it
// accepts builds a request on the instance (or a refusal) without panicking either.
func FuzzCurlArgs(f *testing.F) {
	for _, seed := range [][]string{
		{"GET", "/api/agents"}, {"-sSf", "-w", `%{http_code}\n`, "/x"}, {"-XPOST", "-d", "@-", "/x"},
		{"--data-urlencode", "a=b c", "-G", "/x"}, {"-F", "f=@x;type=text/plain", "/x"}, {"-H", "X: y", "-H", "Bad", "/x"},
		{"--", "-x"}, {"http://127.0.0.1:4599/a?b=c", "-q", "k"}, {"-b", "~/jar"}, {"--retry=3", "--retry-delay", "0.5", "/x"},
		{"-T", "-", "/x"}, {"-p", "prod", "--insecure", "-k", "/x"},
	} {
		f.Add(strings.Join(seed, "\x00"))
	}
	f.Fuzz(func(t *testing.T, joined string) {
		args := strings.Split(joined, "\x00")
		o, err := Parse(args)
		if err != nil {
			var ue *UsageError
			if !errors.As(err, &ue) || (ue.Code != 1 && ue.Code != 2) || ue.Msg == "" {
				t.Fatalf("bad error %#v", err)
			}
			return
		}
		if o.Help {
			return
		}
		_ = o.EffectiveMethod()
		p, err := BuildPlan(o, "http://127.0.0.1:4599", Files{Stdin: strings.NewReader("in"), ReadFile: func(string) ([]byte, error) {
			return []byte("file"), nil
		}})
		if err != nil {
			return
		}
		if Origin(p.URL) != "http://127.0.0.1:4599" {
			t.Fatalf("request leaves the instance: %s", p.URL)
		}
		for _, h := range p.HeaderList([]Header{{"Authorization", "Bearer x"}}) {
			if strings.ContainsAny(h.Name+h.Value, "\r\n") {
				t.Fatalf("header injection: %q", h)
			}
		}
	})
}
