package runner

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"
)

// Limits of grep and find.
const (
	grepDefaultMatches = 100
	grepMaxMatches     = 1000
	grepMaxLineChars   = 300
	grepMaxFileBytes   = 10 << 20
	findDefaultResults = 1000
	findMaxResults     = 5000
	maxGlobExpansions  = 64
)

// skippedDirs are not descended into unless the search starts inside them.
var skippedDirs = map[string]bool{".git": true, "node_modules": true}

var errStopWalk = errors.New("stop walk")

func grepTool(w *Workspace) Tool {
	return Tool{
		Name: "grep",
		Description: "Search file contents of the workspace with a regular expression (Go RE2 syntax). Prints " +
			"path:line: text for each matching line. Binary files, .git and node_modules are skipped.",
		Schema: schema(`{"type":"object","properties":{` +
			`"pattern":{"type":"string","description":"Regular expression (RE2)"},` +
			`"path":{"type":"string","description":"File or directory to search (default: the workspace)"},` +
			`"glob":{"type":"string","description":"Only files matching this glob, e.g. *.go or src/**/*.{ts,tsx}"},` +
			`"ignoreCase":{"type":"boolean","description":"Case-insensitive match"},` +
			`"literal":{"type":"boolean","description":"Treat pattern as plain text, not a regular expression"},` +
			`"limit":{"type":"integer","minimum":1,"description":"Maximum number of matches (default 100)"}},` +
			`"required":["pattern"]}`),
		Call: func(ctx context.Context, raw json.RawMessage) (string, error) {
			var a struct {
				Pattern    string `json:"pattern"`
				Path       string `json:"path"`
				Glob       string `json:"glob"`
				IgnoreCase bool   `json:"ignoreCase"`
				Literal    bool   `json:"literal"`
				Limit      *int   `json:"limit"`
			}
			if err := decodeArgs(raw, &a); err != nil {
				return "", err
			}
			if a.Pattern == "" {
				return "", toolErrorf(`Invalid arguments: "pattern" is required`)
			}
			limit := grepDefaultMatches
			if a.Limit != nil {
				limit = min(max(*a.Limit, 1), grepMaxMatches)
			}
			expr := a.Pattern
			if a.Literal {
				expr = regexp.QuoteMeta(expr)
			}
			if a.IgnoreCase {
				expr = "(?i)" + expr
			}
			re, err := regexp.Compile(expr)
			if err != nil {
				return "", toolErrorf("Invalid pattern: %v", err)
			}
			var glob *globMatcher
			if a.Glob != "" {
				if glob, err = compileGlob(a.Glob); err != nil {
					return "", toolErrorf("Invalid glob: %v", err)
				}
			}
			return w.grep(ctx, re, a.Path, glob, limit)
		},
	}
}

func (w *Workspace) grep(ctx context.Context, re *regexp.Regexp, p string, glob *globMatcher, limit int) (string, error) {
	rel, err := w.rel(p)
	if err != nil {
		return "", err
	}
	var out strings.Builder
	matches := 0
	err = w.walk(ctx, rel, func(file string, d fs.DirEntry) error {
		if d.IsDir() || (d.Type()&fs.ModeSymlink != 0 && file != rel) { // like grep -r: symlinks below the start are not followed
			return nil
		}
		if glob != nil && !glob.match(relTo(rel, file)) {
			return nil
		}
		return w.grepFile(file, re, func(line int, text string) bool {
			fmt.Fprintf(&out, "%s:%d: %s\n", file, line, preview(text, grepMaxLineChars))
			matches++
			return matches < limit
		})
	})
	if err != nil && !errors.Is(err, errStopWalk) {
		return "", fsError(displayPath(p), err)
	}
	if matches == 0 {
		return "No matches found.", nil
	}
	if errors.Is(err, errStopWalk) {
		fmt.Fprintf(&out, "[%d matches shown: limit reached, narrow the pattern or the path]", matches)
	}
	return strings.TrimRight(out.String(), "\n"), nil
}

// grepFile calls found for each matching line of a text file until it returns false (then errStopWalk).
func (w *Workspace) grepFile(file string, re *regexp.Regexp, found func(line int, text string) bool) error {
	f, err := w.fsys.Open(file)
	if err != nil {
		return nil // unreadable files are skipped
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() || fi.Size() > grepMaxFileBytes {
		return nil
	}
	br := bufio.NewReaderSize(f, 64<<10)
	if head, _ := br.Peek(8000); bytes.IndexByte(head, 0) >= 0 {
		return nil
	}
	line := 0
	for {
		text, err := br.ReadString('\n')
		if text != "" {
			line++
			text = strings.TrimRight(text, "\r\n")
			if re.MatchString(text) && !found(line, text) {
				return errStopWalk
			}
		}
		if err != nil {
			return nil
		}
	}
}

func findTool(w *Workspace) Tool {
	return Tool{
		Name: "find",
		Description: "Find files and directories of the workspace by glob: * and ? within a name, ** across " +
			"directories, [abc], {a,b}. A pattern without / matches names at any depth (*.md); with /, paths " +
			"relative to the search directory (src/**/*.ts). Directories end with /.",
		Schema: schema(`{"type":"object","properties":{` +
			`"pattern":{"type":"string","description":"Glob pattern"},` +
			`"path":{"type":"string","description":"Directory to search (default: the workspace)"},` +
			`"limit":{"type":"integer","minimum":1,"description":"Maximum number of results (default 1000)"}},` +
			`"required":["pattern"]}`),
		Call: func(ctx context.Context, raw json.RawMessage) (string, error) {
			var a struct {
				Pattern string `json:"pattern"`
				Glob    string `json:"glob"`
				Path    string `json:"path"`
				Limit   *int   `json:"limit"`
			}
			if err := decodeArgs(raw, &a); err != nil {
				return "", err
			}
			if a.Pattern == "" {
				a.Pattern = a.Glob
			}
			if a.Pattern == "" {
				return "", toolErrorf(`Invalid arguments: "pattern" is required`)
			}
			limit := findDefaultResults
			if a.Limit != nil {
				limit = min(max(*a.Limit, 1), findMaxResults)
			}
			glob, err := compileGlob(a.Pattern)
			if err != nil {
				return "", toolErrorf("Invalid pattern: %v", err)
			}
			return w.find(ctx, glob, a.Path, limit)
		},
	}
}

func (w *Workspace) find(ctx context.Context, glob *globMatcher, p string, limit int) (string, error) {
	rel, err := w.rel(p)
	if err != nil {
		return "", err
	}
	var found []string
	err = w.walk(ctx, rel, func(file string, d fs.DirEntry) error {
		if file == rel || !glob.match(relTo(rel, file)) {
			return nil
		}
		if d.IsDir() {
			file += "/"
		}
		found = append(found, file)
		if len(found) >= limit {
			return errStopWalk
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopWalk) {
		return "", fsError(displayPath(p), err)
	}
	if len(found) == 0 {
		return "No files found.", nil
	}
	out := strings.Join(found, "\n")
	if errors.Is(err, errStopWalk) {
		out += fmt.Sprintf("\n[%d results shown: limit reached, narrow the pattern or the path]", len(found))
	}
	return out, nil
}

// walk visits rel and everything below it in lexical order, without following symlinks and without entering
// skippedDirs below the start. fn's errStopWalk ends the walk (and is returned).
func (w *Workspace) walk(ctx context.Context, rel string, fn func(file string, d fs.DirEntry) error) error {
	return fs.WalkDir(w.fsys, rel, func(file string, d fs.DirEntry, err error) error {
		if err != nil {
			if file == rel {
				return err
			}
			return nil // unreadable entries below the start are skipped
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if d.IsDir() && file != rel && skippedDirs[d.Name()] {
			return fs.SkipDir
		}
		return fn(file, d)
	})
}

// relTo is file relative to the search root dir (both slash paths from the walk).
func relTo(dir, file string) string {
	if dir == "." {
		return file
	}
	if file == dir {
		return path.Base(file)
	}
	return strings.TrimPrefix(file, dir+"/")
}

// globMatcher matches slash paths against a glob with **, brace alternatives and path.Match syntax per
// segment. A pattern without "/" matches the base name.
type globMatcher struct {
	alternatives [][]string // segments of each brace expansion
	baseOnly     bool
}

func compileGlob(pattern string) (*globMatcher, error) {
	pattern = strings.TrimPrefix(pattern, "./")
	if pattern == "" {
		return nil, errors.New("empty pattern")
	}
	expanded, err := expandBraces(pattern)
	if err != nil {
		return nil, err
	}
	g := &globMatcher{baseOnly: !strings.Contains(pattern, "/")}
	for _, alt := range expanded {
		segs := strings.Split(strings.Trim(alt, "/"), "/")
		for _, s := range segs {
			if s == "**" {
				continue
			}
			if _, err := path.Match(s, ""); err != nil {
				return nil, fmt.Errorf("%q: %v", pattern, err)
			}
		}
		g.alternatives = append(g.alternatives, segs)
	}
	return g, nil
}

func (g *globMatcher) match(name string) bool {
	if g.baseOnly {
		name = path.Base(name)
	}
	parts := strings.Split(name, "/")
	for _, segs := range g.alternatives {
		if matchSegments(segs, parts) {
			return true
		}
	}
	return false
}

// matchSegments matches path parts against pattern segments, "**" standing for any number of parts.
func matchSegments(segs, parts []string) bool {
	for len(segs) > 0 {
		if segs[0] == "**" {
			for len(segs) > 0 && segs[0] == "**" {
				segs = segs[1:]
			}
			if len(segs) == 0 {
				return true
			}
			for i := range parts {
				if matchSegments(segs, parts[i:]) {
					return true
				}
			}
			return false
		}
		if len(parts) == 0 {
			return false
		}
		if ok, _ := path.Match(segs[0], parts[0]); !ok {
			return false
		}
		segs, parts = segs[1:], parts[1:]
	}
	return len(parts) == 0
}

// expandBraces expands {a,b} alternatives (nested ones included), up to maxGlobExpansions results.
func expandBraces(pattern string) ([]string, error) {
	open := -1
	depth := 0
	for i := 0; i < len(pattern); i++ {
		switch pattern[i] {
		case '\\':
			i++
		case '{':
			if depth == 0 {
				open = i
			}
			depth++
		case '}':
			if depth == 0 {
				return nil, fmt.Errorf("%q: unbalanced }", pattern)
			}
			depth--
			if depth == 0 {
				return expandAt(pattern, open, i)
			}
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("%q: unbalanced {", pattern)
	}
	return []string{pattern}, nil
}

// expandAt expands the brace group pattern[open:close+1].
func expandAt(pattern string, open, close int) ([]string, error) {
	prefix, body, suffix := pattern[:open], pattern[open+1:close], pattern[close+1:]
	var options []string
	depth, start := 0, 0
	for i := 0; i < len(body); i++ {
		switch body[i] {
		case '\\':
			i++
		case '{':
			depth++
		case '}':
			depth--
		case ',':
			if depth == 0 {
				options = append(options, body[start:i])
				start = i + 1
			}
		}
	}
	options = append(options, body[start:])
	var out []string
	for _, o := range options {
		rest, err := expandBraces(prefix + o + suffix)
		if err != nil {
			return nil, err
		}
		out = append(out, rest...)
		if len(out) > maxGlobExpansions {
			return nil, fmt.Errorf("%q: more than %d brace alternatives", pattern, maxGlobExpansions)
		}
	}
	return out, nil
}
