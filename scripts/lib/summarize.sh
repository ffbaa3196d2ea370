# shellcheck shell=bash
# The go test report: a small stdlib-only Go program, kept here as source and
# built into the temp dir at each run (outside the module, so it never shows
# up in ./... and needs nothing but the Go toolchain).
#
# It reads `go test -json` events on stdin and
#   - streams one line per finished package (ok / FAIL / ?) and one line per
#     failed top-level test,
#   - saves the raw events to -log,
#   - at the end prints the full output of every failed test (subtests
#     included), of packages that failed without a failing test (build
#     errors, panics, os.Exit, timeouts), and a summary with the number of
#     store subtests (names ending in /sqlite or /postgres) per dialect,
#   - writes "passed failed skipped sqlite_passed postgres_passed" to -counts
#     (top-level tests; a package that failed without a failing test counts
#     as one failure).

# build_summarizer DIR: build DIR/summarize; prints its path.
build_summarizer() {
	local dir="$1"
	mkdir -p "$dir/summarize-src"
	write_summarizer_source >"$dir/summarize-src/main.go"
	(cd "$dir/summarize-src" && GOFLAGS=-buildvcs=false GO111MODULE=on GOWORK=off \
		go build -o "$dir/summarize" main.go) >&2 || return 1
	printf '%s\n' "$dir/summarize"
}

write_summarizer_source() {
	cat <<'GO'
// Command summarize reads `go test -json` events on stdin, streams one line
// per finished package, and prints a readable summary at the end.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action      string
	Package     string
	ImportPath  string
	Test        string
	Elapsed     float64
	Output      string
	FailedBuild string
}

type testKey struct{ pkg, top string }

type pkgState struct {
	name      string
	done      bool
	action    string
	elapsed   float64
	output    []string // package-level output (no Test)
	failed    []string // failed top-level tests, in order
	buildFail string
}

type counts struct{ pass, fail, skip int }

var (
	red, green, yellow, bold, reset string
)

func main() {
	logPath := flag.String("log", "", "write the raw event stream here")
	countsPath := flag.String("counts", "", "write 'passed failed skipped' here")
	color := flag.Bool("color", false, "colour the output")
	flag.Parse()
	if *color {
		red, green, yellow, bold, reset = "\033[31m", "\033[32m", "\033[33m", "\033[1m", "\033[0m"
	}

	var logw io.Writer = io.Discard
	if *logPath != "" {
		f, err := os.Create(*logPath)
		if err != nil {
			fmt.Fprintln(os.Stderr, "summarize:", err)
			os.Exit(2)
		}
		defer f.Close()
		bw := bufio.NewWriter(f)
		defer bw.Flush()
		logw = bw
	}

	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()

	pkgs := map[string]*pkgState{}
	var order []string // packages in order of first appearance
	pkg := func(name string) *pkgState {
		p, ok := pkgs[name]
		if !ok {
			p = &pkgState{name: name}
			pkgs[name] = p
			order = append(order, name)
		}
		return p
	}
	testOut := map[testKey][]string{}
	buildOut := map[string][]string{}
	var buildOrder []string
	var top counts
	dialect := map[string]*counts{"sqlite": {}, "postgres": {}}

	r := bufio.NewReaderSize(os.Stdin, 1<<20)
	for {
		line, err := r.ReadString('\n')
		if line != "" {
			io.WriteString(logw, line)
			if !strings.HasSuffix(line, "\n") {
				io.WriteString(logw, "\n")
			}
			var e event
			trimmed := strings.TrimSpace(line)
			if !strings.HasPrefix(trimmed, "{") || json.Unmarshal([]byte(trimmed), &e) != nil || e.Action == "" {
				// Not an event: go command diagnostics on stderr.
				if trimmed != "" {
					fmt.Fprintln(out, strings.TrimRight(line, "\n"))
					out.Flush()
				}
			} else {
				handle(e, pkg, testOut, buildOut, &buildOrder, &top, dialect, out)
			}
		}
		if err != nil {
			break
		}
	}

	// Summary.
	var okPkgs, failPkgs, noTestPkgs int
	pkgOnlyFails := 0
	type failure struct {
		title string
		lines []string
		extra bool // context for another failure, not a failure itself
	}
	var failures []failure
	for _, name := range order {
		p := pkgs[name]
		if !p.done {
			p.action = "fail"
			p.output = append(p.output, "(no result from go test for this package: killed, crashed or timed out)\n")
			fmt.Fprintf(out, "%sFAIL%s    %s [no result]\n", red, reset, name)
		}
		switch p.action {
		case "pass":
			okPkgs++
		case "skip":
			noTestPkgs++
		case "fail":
			failPkgs++
			for _, t := range p.failed {
				failures = append(failures, failure{name + "." + t, testOut[testKey{name, t}], false})
			}
			if len(p.failed) > 0 && unusual(p.output) {
				// Output outside any test (TestMain, leaks, races after the
				// tests): show it too, it may be the real cause.
				failures = append(failures, failure{name + " (output outside tests)", p.output, true})
			}
			if len(p.failed) == 0 {
				pkgOnlyFails++
				var lines []string
				if p.buildFail != "" {
					lines = append(lines, buildOut[p.buildFail]...)
				}
				lines = append(lines, p.output...)
				failures = append(failures, failure{name + " (package failed without a failing test: build error, panic, os.Exit or timeout)", lines, false})
			}
		}
	}
	// Build failures of packages that never got a package event.
	for _, ip := range buildOrder {
		name := strings.SplitN(ip, " ", 2)[0]
		if _, ok := pkgs[name]; !ok {
			pkgOnlyFails++
			failPkgs++
			failures = append(failures, failure{ip + " (build failed)", buildOut[ip], false})
		}
	}

	if len(failures) > 0 {
		fmt.Fprintf(out, "\n%s%s==================== FAILURES ====================%s\n", bold, red, reset)
		for _, f := range failures {
			if f.extra {
				fmt.Fprintf(out, "\n%s--- %s%s\n", bold, f.title, reset)
			} else {
				fmt.Fprintf(out, "\n%s%s--- FAIL: %s%s\n", bold, red, f.title, reset)
			}
			for _, l := range f.lines {
				io.WriteString(out, l)
				if !strings.HasSuffix(l, "\n") {
					io.WriteString(out, "\n")
				}
			}
		}
		fmt.Fprintln(out)
	}

	fmt.Fprintf(out, "\n%s==================== SUMMARY ====================%s\n", bold, reset)
	fmt.Fprintf(out, "packages: %d ok, %d failed, %d without tests\n", okPkgs, failPkgs, noTestPkgs)
	fmt.Fprintf(out, "top-level tests: %d passed, %d failed, %d skipped\n", top.pass, top.fail, top.skip)
	if pkgOnlyFails > 0 {
		fmt.Fprintf(out, "%spackages failed without a failing test: %d (counted as failures)%s\n", red, pkgOnlyFails, reset)
	}
	fmt.Fprintf(out, "store tests: %d passed on sqlite, %d passed on postgres\n", dialect["sqlite"].pass, dialect["postgres"].pass)
	for _, d := range []string{"sqlite", "postgres"} {
		c := dialect[d]
		if c.fail > 0 || c.skip > 0 {
			fmt.Fprintf(out, "%sstore tests on %s: %d failed, %d skipped%s\n", yellow, d, c.fail, c.skip, reset)
		}
	}
	if len(failures) > 0 {
		names := make([]string, 0, len(failures))
		for _, f := range failures {
			if !f.extra {
				names = append(names, f.title)
			}
		}
		sort.Strings(names)
		fmt.Fprintf(out, "%sfailed:%s\n", red, reset)
		for _, n := range names {
			fmt.Fprintf(out, "  %s\n", n)
		}
	}

	if *countsPath != "" {
		c := fmt.Sprintf("%d %d %d %d %d\n", top.pass, top.fail+pkgOnlyFails, top.skip, dialect["sqlite"].pass, dialect["postgres"].pass)
		if err := os.WriteFile(*countsPath, []byte(c), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "summarize:", err)
			os.Exit(2)
		}
	}
}

func handle(e event, pkg func(string) *pkgState, testOut map[testKey][]string, buildOut map[string][]string,
	buildOrder *[]string, top *counts, dialect map[string]*counts, out *bufio.Writer) {
	switch e.Action {
	case "build-output":
		if _, ok := buildOut[e.ImportPath]; !ok {
			*buildOrder = append(*buildOrder, e.ImportPath)
		}
		buildOut[e.ImportPath] = append(buildOut[e.ImportPath], e.Output)
		return
	case "build-fail":
		return
	}
	if e.Package == "" {
		return
	}
	p := pkg(e.Package)
	if e.Test == "" {
		switch e.Action {
		case "output":
			p.output = append(p.output, e.Output)
		case "pass", "fail", "skip":
			p.done, p.action, p.elapsed = true, e.Action, e.Elapsed
			if e.FailedBuild != "" {
				p.buildFail = e.FailedBuild
			}
			switch e.Action {
			case "pass":
				fmt.Fprintf(out, "%sok%s      %s\t%.3fs\n", green, reset, e.Package, e.Elapsed)
			case "skip":
				fmt.Fprintf(out, "?       %s\t[no test files]\n", e.Package)
			case "fail":
				extra := ""
				if e.FailedBuild != "" {
					extra = " [build failed]"
				}
				fmt.Fprintf(out, "%sFAIL%s    %s\t%.3fs%s\n", red, reset, e.Package, e.Elapsed, extra)
			}
			out.Flush()
		}
		return
	}
	topName, _, isSub := strings.Cut(e.Test, "/")
	k := testKey{e.Package, topName}
	switch e.Action {
	case "output":
		testOut[k] = append(testOut[k], e.Output)
	case "pass", "fail", "skip":
		if isSub {
			for d, c := range dialect {
				if strings.HasSuffix(e.Test, "/"+d) {
					inc(c, e.Action)
				}
			}
			return
		}
		inc(top, e.Action)
		if e.Action == "fail" {
			p.failed = append(p.failed, e.Test)
			fmt.Fprintf(out, "%s--- FAIL: %s.%s (%.2fs)%s\n", red, e.Package, e.Test, e.Elapsed, reset)
			out.Flush()
		}
	}
}

func inc(c *counts, action string) {
	switch action {
	case "pass":
		c.pass++
	case "fail":
		c.fail++
	case "skip":
		c.skip++
	}
}

// unusual reports whether package-level output has more than the standard
// PASS/FAIL/ok/coverage lines go test prints itself.
func unusual(lines []string) bool {
	for _, l := range lines {
		l = strings.TrimSpace(l)
		switch {
		case l == "", l == "PASS", l == "FAIL", strings.HasPrefix(l, "FAIL\t"),
			strings.HasPrefix(l, "ok  \t"), strings.HasPrefix(l, "coverage:"):
		default:
			return true
		}
	}
	return false
}
GO
}
