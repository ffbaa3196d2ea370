package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// newTestWorkspace makes a workspace with a few files, a directory outside it with a secret, and symlinks in
// every direction.
func newTestWorkspace(t *testing.T) (*Workspace, string) {
	t.Helper()
	base := t.TempDir()
	dir := filepath.Join(base, "ws")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{dir, outside, filepath.Join(dir, "src", "deep"), filepath.Join(dir, ".git"), filepath.Join(dir, "node_modules", "x")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"ws/README.md":             "# Title\nhello world\nHello again\n",
		"ws/src/main.go":           "package main\n\nfunc main() {\n\tprintln(\"hello\")\n}\n",
		"ws/src/deep/util.ts":      "export const hello = 1;\n",
		"ws/src/deep/view.tsx":     "<Hello/>\n",
		"ws/.git/config":           "hello from git\n",
		"ws/node_modules/x/idx.js": "hello from deps\n",
		"ws/image.png":             "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
		"ws/blob.bin":              "abc\x00def",
		"outside/secret.txt":       "top secret\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(base, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"ws/out-dir":      outside,                           // absolute, points out
		"ws/out-rel":      "../outside/secret.txt",           // relative, points out
		"ws/dangling-out": filepath.Join(outside, "new.txt"), // dangling, points out
		"ws/in-link":      "src/main.go",                     // stays inside
		"ws/src/up":       "..",                              // stays inside
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(base, name)); err != nil {
			t.Fatal(err)
		}
	}
	w, err := OpenWorkspace(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w, outside
}

func callTool(t *testing.T, tool Tool, args string) (string, error) {
	t.Helper()
	return tool.Call(context.Background(), json.RawMessage(args))
}

func TestWorkspaceRefusesEscapes(t *testing.T) {
	w, outside := newTestWorkspace(t)
	tools := newToolset(workspaceTools(w, []string{"PATH=" + os.Getenv("PATH")})...)
	secretPath := filepath.Join(outside, "secret.txt")
	tests := []struct{ tool, args string }{
		{"read", `{"path":"../outside/secret.txt"}`},
		{"read", fmt.Sprintf(`{"path":%q}`, secretPath)},
		{"read", `{"path":"out-dir/secret.txt"}`},
		{"read", `{"path":"out-rel"}`},
		{"read", `{"path":"src/../../outside/secret.txt"}`},
		{"read", `{"path":"/etc/passwd"}`},
		{"write", `{"path":"../evil.txt","content":"x"}`},
		{"write", `{"path":"out-dir/evil.txt","content":"x"}`},
		{"write", `{"path":"dangling-out","content":"x"}`},
		{"write", fmt.Sprintf(`{"path":%q,"content":"x"}`, filepath.Join(outside, "evil.txt"))},
		{"edit", `{"path":"out-rel","oldText":"top","newText":"bottom"}`},
		{"ls", `{"path":".."}`},
		{"ls", `{"path":"out-dir"}`},
		{"grep", `{"pattern":"secret","path":"out-dir"}`},
		{"grep", `{"pattern":"secret","path":"../outside"}`},
		{"find", `{"pattern":"*","path":"out-dir"}`},
		{"find", `{"pattern":"*","path":"/"}`},
	}
	for _, tt := range tests {
		text, isError := tools.call(context.Background(), tt.tool, json.RawMessage(tt.args))
		if !isError || !strings.Contains(text, "outside the workspace") {
			t.Errorf("%s %s = %q (error %v), want a refusal", tt.tool, tt.args, text, isError)
		}
	}
	entries, _ := os.ReadDir(outside)
	if len(entries) != 1 {
		t.Fatalf("files were created outside the workspace: %v", entries)
	}
	if data, _ := os.ReadFile(secretPath); string(data) != "top secret\n" {
		t.Fatal("the outside file was modified")
	}
}

func TestWorkspaceAcceptsInsidePaths(t *testing.T) {
	w, _ := newTestWorkspace(t)
	for _, p := range []string{"src/main.go", "./src/main.go", "src/deep/../main.go", "in-link", "src/up/src/main.go",
		filepath.Join(w.Dir(), "src", "main.go")} {
		out, err := w.read(p, 1, 100)
		if err != nil || !strings.Contains(out, "package main") {
			t.Errorf("read %q = %q, %v", p, out, err)
		}
	}
}

func TestRead(t *testing.T) {
	w, _ := newTestWorkspace(t)
	var lines []string
	for i := 1; i <= 3000; i++ {
		lines = append(lines, fmt.Sprintf("line %d", i))
	}
	if _, err := w.write("long.txt", strings.Join(lines, "\n")+"\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.write("wide.txt", strings.Repeat("x", 5000)+"\nshort\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.write("empty.txt", ""); err != nil {
		t.Fatal(err)
	}
	tool := readTool(w)
	tests := []struct {
		args      string
		want      string // prefix of the result, or of the error
		wantInErr bool
		contains  string
	}{
		{`{"path":"README.md"}`, "     1\t# Title\n     2\thello world\n     3\tHello again", false, ""},
		{`{"path":"README.md","offset":2,"limit":1}`, "     2\thello world\n\n[Showing lines 2-2 of 3. Use offset=3 to continue.]", false, ""},
		{`{"path":"long.txt"}`, "     1\tline 1\n", false, "[Showing lines 1-2000 of 3000. Use offset=2001 to continue.]"},
		{`{"path":"long.txt","offset":2990}`, "  2990\tline 2990\n", false, "  3000\tline 3000"},
		{`{"path":"wide.txt"}`, "     1\t" + strings.Repeat("x", 2000) + "… [line truncated]\n     2\tshort", false, ""},
		{`{"path":"empty.txt"}`, "(empty file)", false, ""},
		{`{"path":"README.md","offset":10}`, "README.md has 3 lines: offset 10 is past the end", true, ""},
		{`{"path":"README.md","offset":0}`, `Invalid arguments: "offset" must be at least 1`, true, ""},
		{`{"path":"src"}`, "src is a directory: use ls to list it", true, ""},
		{`{"path":"nope.txt"}`, "nope.txt: no such file or directory", true, ""},
		{`{"path":"image.png"}`, "image.png is an image (image/png, 16 bytes)", true, ""},
		{`{"path":"blob.bin"}`, "blob.bin is a binary file (7 bytes)", true, ""},
		{`{}`, `Invalid arguments: "path" is required`, true, ""},
		{`{"path":7}`, `Invalid arguments: "path" must be a string, got number`, true, ""},
		{`[1]`, `Invalid arguments: expected a JSON object, got [1]`, true, ""},
	}
	for _, tt := range tests {
		out, err := callTool(t, tool, tt.args)
		got := out
		if err != nil {
			got = err.Error()
		}
		if (err != nil) != tt.wantInErr || !strings.HasPrefix(got, tt.want) || !strings.Contains(got, tt.contains) {
			t.Errorf("read %s = %q (err %v)\nwant prefix %q", tt.args, preview(got, 300), err != nil, tt.want)
		}
	}
	out, _ := callTool(t, tool, `{"path":"long.txt"}`)
	if len(out) > readMaxBytes+200 {
		t.Fatalf("read returned %d bytes", len(out))
	}
}

func TestWriteAndEdit(t *testing.T) {
	w, _ := newTestWorkspace(t)
	write, edit := writeTool(w), editTool(w)
	if out, err := callTool(t, write, `{"path":"a/b/c.txt","content":"one\ntwo\none\n"}`); err != nil || out != "Wrote 12 bytes to a/b/c.txt" {
		t.Fatalf("write = %q, %v", out, err)
	}
	tests := []struct {
		args, want string
		ok         bool
	}{
		{`{"path":"a/b/c.txt","oldText":"one","newText":"1"}`, "oldText occurs 2 times in a/b/c.txt: include more surrounding lines", false},
		{`{"path":"a/b/c.txt","oldText":"three","newText":"3"}`, "oldText was not found in a/b/c.txt", false},
		{`{"path":"a/b/c.txt","oldText":"","newText":"3"}`, "oldText is empty", false},
		{`{"path":"a/b/c.txt","oldText":"two","newText":"two"}`, "oldText and newText are identical", false},
		{`{"path":"a/b/c.txt","oldText":"two"}`, `Invalid arguments: "path", "oldText" and "newText" are required`, false},
		{`{"path":"a/b/missing.txt","oldText":"x","newText":"y"}`, "a/b/missing.txt: no such file or directory", false},
		{`{"path":"a/b/c.txt","oldText":"one\ntwo","newText":"uno\ndos\ntres"}`, "Edited a/b/c.txt: replaced 2 line(s) with 3 line(s)", true},
	}
	for _, tt := range tests {
		out, err := callTool(t, edit, tt.args)
		got := out
		if err != nil {
			got = err.Error()
		}
		if (err == nil) != tt.ok || !strings.HasPrefix(got, tt.want) {
			t.Errorf("edit %s = %q, %v; want %q", tt.args, got, err, tt.want)
		}
	}
	data, _ := os.ReadFile(filepath.Join(w.Dir(), "a", "b", "c.txt"))
	if string(data) != "uno\ndos\ntres\none\n" {
		t.Fatalf("file = %q", data)
	}
	for args, want := range map[string]string{
		`{"path":"src","content":"x"}`:  "src is a directory",
		`{"path":".","content":"x"}`:    ". is the workspace directory, not a file",
		`{"path":"x.txt"}`:              `Invalid arguments: "path" and "content" are required`,
		`{"path":"x.txt","content":12}`: `Invalid arguments: "content" must be a string, got number`,
	} {
		if _, err := callTool(t, write, args); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("write %s = %v, want %q", args, err, want)
		}
	}
}

func TestLs(t *testing.T) {
	w, _ := newTestWorkspace(t)
	tool := lsTool(w)
	out, err := callTool(t, tool, `{}`)
	want := ".git/\nREADME.md\nblob.bin\ndangling-out@\nimage.png\nin-link@\nnode_modules/\nout-dir@\nout-rel@\nsrc/"
	if err != nil || out != want {
		t.Fatalf("ls = %q, %v\nwant %q", out, err, want)
	}
	if out, err := callTool(t, tool, `{"path":"src/deep"}`); err != nil || out != "util.ts\nview.tsx" {
		t.Fatalf("ls src/deep = %q, %v", out, err)
	}
	if _, err := callTool(t, tool, `{"path":"README.md"}`); err == nil || err.Error() != "README.md is a file, not a directory" {
		t.Fatalf("ls file = %v", err)
	}
	_ = os.Mkdir(filepath.Join(w.Dir(), "empty"), 0o755)
	if out, _ := callTool(t, tool, `{"path":"empty"}`); out != "(empty directory)" {
		t.Fatalf("ls empty = %q", out)
	}
}

func TestGrep(t *testing.T) {
	w, _ := newTestWorkspace(t)
	tool := grepTool(w)
	tests := []struct{ args, want string }{
		{`{"pattern":"hello"}`, "README.md:2: hello world\nsrc/deep/util.ts:1: export const hello = 1;\nsrc/main.go:4: \tprintln(\"hello\")"},
		{`{"pattern":"hello","ignoreCase":true,"glob":"*.{md,tsx}"}`, "README.md:2: hello world\nREADME.md:3: Hello again\nsrc/deep/view.tsx:1: <Hello/>"},
		{`{"pattern":"hello","path":"src","glob":"deep/*.ts"}`, "src/deep/util.ts:1: export const hello = 1;"},
		{`{"pattern":"hello","path":"src/main.go"}`, "src/main.go:4: \tprintln(\"hello\")"},
		{`{"pattern":"println(\"","literal":true}`, "src/main.go:4: \tprintln(\"hello\")"},
		{`{"pattern":"hello","path":"node_modules"}`, "node_modules/x/idx.js:1: hello from deps"},
		{`{"pattern":"hello","limit":1}`, "README.md:2: hello world\n[1 matches shown: limit reached, narrow the pattern or the path]"},
		{`{"pattern":"nothing-matches-this"}`, "No matches found."},
	}
	for _, tt := range tests {
		out, err := callTool(t, tool, tt.args)
		if err != nil || out != tt.want {
			t.Errorf("grep %s = %q, %v\nwant %q", tt.args, out, err, tt.want)
		}
	}
	for args, want := range map[string]string{
		`{"pattern":"("}`:             "Invalid pattern: error parsing regexp",
		`{"pattern":"a","glob":"{a"}`: "Invalid glob:",
		`{}`:                          `Invalid arguments: "pattern" is required`,
		`{"pattern":"a","path":"no"}`: "no: no such file or directory",
	} {
		if _, err := callTool(t, tool, args); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("grep %s = %v, want %q", args, err, want)
		}
	}
}

func TestFind(t *testing.T) {
	w, _ := newTestWorkspace(t)
	tool := findTool(w)
	tests := []struct{ args, want string }{
		{`{"pattern":"*.go"}`, "src/main.go"},
		{`{"pattern":"src/**/*.{ts,tsx}"}`, "src/deep/util.ts\nsrc/deep/view.tsx"},
		{`{"pattern":"**/deep"}`, "src/deep/"},
		{`{"glob":"*.ts","path":"src"}`, "src/deep/util.ts"},
		{`{"pattern":"deep/*","path":"src"}`, "src/deep/util.ts\nsrc/deep/view.tsx"},
		{`{"pattern":"*.js"}`, "No files found."},
		{`{"pattern":"*.js","path":"node_modules"}`, "node_modules/x/idx.js"},
		{`{"pattern":"*","limit":2}`, "README.md\nblob.bin\n[2 results shown: limit reached, narrow the pattern or the path]"},
	}
	for _, tt := range tests {
		out, err := callTool(t, tool, tt.args)
		if err != nil || out != tt.want {
			t.Errorf("find %s = %q, %v\nwant %q", tt.args, out, err, tt.want)
		}
	}
	if _, err := callTool(t, tool, `{"pattern":"[a"}`); err == nil || !strings.HasPrefix(err.Error(), "Invalid pattern") {
		t.Errorf("find [a = %v", err)
	}
}

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"*.go", "main.go", true},
		{"*.go", "a/b/main.go", true}, // no slash: base name
		{"*.go", "main.ts", false},
		{"src/*.go", "src/main.go", true},
		{"src/*.go", "src/a/main.go", false},
		{"src/**/*.go", "src/main.go", true},
		{"src/**/*.go", "src/a/b/main.go", true},
		{"**", "anything/at/all", true},
		{"**/x", "x", true},
		{"a/**", "a", true},
		{"*.{ts,tsx}", "v.tsx", true},
		{"*.{ts,tsx}", "v.js", false},
		{"{src,lib}/{a,b}.go", "lib/b.go", true},
		{"{src,lib}/{a,b}.go", "lib/c.go", false},
		{"file?.txt", "file1.txt", true},
		{"[ab].txt", "c.txt", false},
		{"./src/*.go", "src/x.go", true},
	}
	for _, tt := range tests {
		g, err := compileGlob(tt.pattern)
		if err != nil {
			t.Fatalf("compileGlob(%q): %v", tt.pattern, err)
		}
		if got := g.match(tt.name); got != tt.want {
			t.Errorf("%q matches %q = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
	for _, bad := range []string{"", "{a", "a}", "[", strings.Repeat("{a,b}", 7)} {
		if _, err := compileGlob(bad); err == nil {
			t.Errorf("compileGlob(%q) accepted", bad)
		}
	}
}

// FuzzGlob: glob patterns come from the model. Compiling and matching never panics, and a compiled pattern
// without metacharacters matches exactly its own path.
func FuzzGlob(f *testing.F) {
	f.Add("src/**/*.{ts,tsx}", "src/a/b.ts")
	f.Add("{{a,b},{c,{d,e}}}", "d")
	f.Add("[", "x")
	f.Fuzz(func(t *testing.T, pattern, name string) {
		g, err := compileGlob(pattern)
		if err != nil {
			return
		}
		_ = g.match(name)
		if !strings.ContainsAny(pattern, `*?[]{}\`) && !strings.Contains(pattern, "//") && pattern != "" &&
			!strings.HasPrefix(pattern, "/") && !strings.HasSuffix(pattern, "/") && !strings.HasPrefix(pattern, "./") {
			if !g.match(pattern) {
				t.Fatalf("literal pattern %q does not match itself", pattern)
			}
		}
	})
}

// FuzzToolArgs: whatever arguments the model sends, the file and platform tools answer with a result or an
// error — never a panic — and nothing is written outside the workspace.
func FuzzToolArgs(f *testing.F) {
	f.Add("read", `{"path":"README.md","offset":2}`)
	f.Add("write", `{"path":"../x","content":"y"}`)
	f.Add("edit", `{"path":"README.md","oldText":"hello","newText":"bye"}`)
	f.Add("grep", `{"pattern":"h.*","glob":"**/*.{md,go}"}`)
	f.Add("find", `{"pattern":"src/**"}`)
	f.Add("output", `{"data":{"summary":"x"}}`)
	f.Add("pin", `{"key":"checkpoint","content":[1,2]}`)
	f.Add("note", `{"content":"x","scope":"shared"}`)
	f.Add("log", `{"level":"warn","message":"m"}`)
	f.Add("set_state", `{"state":null}`)
	f.Add("read", `{"path":7}`)
	f.Add("ls", `[`)
	f.Fuzz(func(t *testing.T, name, args string) {
		w, outside := newTestWorkspace(t)
		agg := &aggregate{}
		platform, err := platformTools(agg, func(context.Context, string, any) {}, json.RawMessage(`{"type":"object","properties":{"summary":{"type":"string"}}}`), PlatformTools)
		if err != nil {
			t.Fatal(err)
		}
		tools := append([]Tool{readTool(w), writeTool(w), editTool(w), lsTool(w), grepTool(w), findTool(w)}, platform...)
		for _, tool := range tools {
			if tool.Name != name {
				continue
			}
			out, err := tool.Call(context.Background(), json.RawMessage(args))
			if err == nil && !json.Valid([]byte(strings.TrimSpace(args))) && strings.TrimSpace(args) != "" {
				t.Fatalf("%s accepted invalid JSON arguments %q: %q", name, args, out)
			}
			var te *ToolError
			if err != nil && errors.As(err, &te) && te.Message == "" {
				t.Fatalf("empty tool error")
			}
		}
		if entries, _ := os.ReadDir(outside); len(entries) != 1 {
			t.Fatalf("%s %s wrote outside the workspace", name, args)
		}
	})
}
