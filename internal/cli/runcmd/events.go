package runcmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/appstrate/appstrate-go/internal/sink"
)

// Event is one RunEvent of A10.3: {type, timestamp (ms), runId, …payload}.
type Event map[string]any

// NewEvent builds an event from a type and a payload (a JSON object, or anything encoding to one).
func NewEvent(typ, runID string, at time.Time, payload any) Event {
	e := Event{}
	if payload != nil {
		if m, ok := payload.(map[string]any); ok {
			for k, v := range m {
				e[k] = v
			}
		} else if raw, err := json.Marshal(payload); err == nil {
			var m map[string]any
			if json.Unmarshal(raw, &m) == nil {
				for k, v := range m {
					e[k] = v
				}
			}
		}
	}
	e["type"], e["runId"], e["timestamp"] = typ, runID, at.UnixMilli()
	return e
}

// Type is the event's type.
func (e Event) Type() string { s, _ := e["type"].(string); return s }

func (e Event) str(key string) string { s, _ := e[key].(string); return s }

func (e Event) obj(key string) map[string]any { m, _ := e[key].(map[string]any); return m }

// Printer writes a run's events: JSON lines on Out with JSON, else human lines (events on Out, status lines,
// warnings and errors on Err). Safe for concurrent use.
type Printer struct {
	Out, Err io.Writer
	JSON     bool
	Verbose  bool
	Quiet    bool // no tool lines
	Color    bool

	mu     sync.Mutex
	metric Event // the last appstrate.metric (human mode prints it at the end)
}

// Status writes a human status line on Err (both modes: stdout stays machine-clean with --json).
func (p *Printer) Status(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.Err, format+"\n", args...)
}

// Warn writes "warn: …" on Err.
func (p *Printer) Warn(format string, args ...any) {
	p.Status("warn: "+format, args...)
}

// Line writes v as one JSON line on Out (JSON mode only).
func (p *Printer) Line(v any) {
	if !p.JSON {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.writeJSON(v)
}

func (p *Printer) writeJSON(v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err == nil {
		_, _ = p.Out.Write(buf.Bytes())
	}
}

func (p *Printer) paint(code, s string) string {
	if !p.Color {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// Event prints one event.
func (p *Printer) Event(e Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.JSON {
		p.writeJSON(e)
		return
	}
	switch e.Type() {
	case sink.TypeProgress:
		p.progress(e)
	case sink.TypeError:
		fmt.Fprintln(p.Err, p.paint("33", "⚠ "+e.str("message")))
	case sink.TypeMetric:
		p.metric = e
	case sink.TypeOutput:
		fmt.Fprintln(p.Out, p.paint("32", "✓ output: ")+compact(e["data"]))
	case sink.TypeReport:
		fmt.Fprintln(p.Out, strings.TrimRight(e.str("content"), "\n"))
	case sink.TypeMemory:
		fmt.Fprintln(p.Out, "+ memory: "+e.str("content"))
	case sink.TypePinned:
		fmt.Fprintln(p.Out, "+ pinned "+e.str("key")+": "+cut(compact(e["content"]), 200, false))
	case sink.TypeLog:
		line := "· " + e.str("message")
		if lvl := e.str("level"); lvl == "warn" || lvl == "error" {
			fmt.Fprintln(p.Err, p.paint("33", "⚠ "+e.str("message")))
			return
		}
		fmt.Fprintln(p.Out, line)
	}
}

// progress prints a progress event: a tool call, a tool result, or text.
func (p *Printer) progress(e Event) {
	data := e.obj("data")
	tool, _ := data["tool"].(string)
	if tool == "" {
		if msg := e.str("message"); msg != "" {
			fmt.Fprintln(p.Out, p.paint("36", "→ ")+msg)
		}
		return
	}
	if p.Quiet {
		return
	}
	callID, _ := data["toolCallId"].(string)
	short := callID
	if len(short) > 8 {
		short = short[len(short)-8:]
	}
	if _, isResult := data["result"]; isResult {
		limit := 100
		if p.Verbose {
			limit = 2048
		}
		text := resultText(data["result"])
		if isErr, _ := data["isError"].(bool); isErr {
			fmt.Fprintln(p.Out, p.paint("31", "✗ error #"+short)+" "+cut(text, limit, true))
		} else {
			fmt.Fprintln(p.Out, p.paint("32", "✓ result #"+short)+" "+cut(text, limit, true))
		}
		return
	}
	fmt.Fprintln(p.Out, p.paint("36", "→ tool: ")+tool+" #"+short)
	if args, ok := data["args"]; ok && args != nil {
		if p.Verbose {
			b, _ := json.MarshalIndent(args, "  ", "  ")
			fmt.Fprintln(p.Out, "  args  "+string(b))
		} else if s := argsLine(args); s != "" {
			fmt.Fprintln(p.Out, "  args  "+cut(s, 200, true))
		}
	}
}

// Finish prints the end of a run: the finalize line (JSON), else the token line and [run complete] or
// [run failed] <message>.
func (p *Printer) Finish(result any, failure string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.JSON {
		p.writeJSON(map[string]any{"type": "appstrate.finalize", "result": result})
		return
	}
	if p.metric != nil {
		u := p.metric.obj("usage")
		cost, _ := p.metric["cost"].(float64)
		fmt.Fprintf(p.Out, "∑ tokens in=%s out=%s  $%.4f\n", number(u["input_tokens"]), number(u["output_tokens"]), cost)
	}
	if failure != "" {
		fmt.Fprintln(p.Out, "\n"+p.paint("31", "[run failed]")+" "+failure)
		return
	}
	fmt.Fprintln(p.Out, "\n"+p.paint("32", "[run complete]"))
}

func number(v any) string {
	switch n := v.(type) {
	case float64:
		return fmt.Sprintf("%d", int64(n))
	case json.Number:
		return n.String()
	case int64:
		return fmt.Sprintf("%d", n)
	case int:
		return fmt.Sprintf("%d", n)
	}
	return "0"
}

func compact(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// argsLine is "k: v, …" for an object (values compact JSON, strings bare), else compact JSON.
func argsLine(args any) string {
	m, ok := args.(map[string]any)
	if !ok {
		return compact(args)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		v, isStr := m[k].(string)
		if !isStr {
			v = compact(m[k])
		}
		parts = append(parts, k+": "+v)
	}
	return strings.Join(parts, ", ")
}

// resultText unwraps an MCP {content:[{type:"text",text}]} result to its text.
func resultText(v any) string {
	switch r := v.(type) {
	case string:
		return r
	case map[string]any:
		if content, ok := r["content"].([]any); ok {
			var texts []string
			for _, c := range content {
				if item, ok := c.(map[string]any); ok && item["type"] == "text" {
					s, _ := item["text"].(string)
					texts = append(texts, s)
				}
			}
			if len(texts) > 0 {
				return strings.Join(texts, "\n")
			}
		}
	}
	return compact(v)
}

// cut shortens s to limit runes with "…"; arrows shows newlines as ↵.
func cut(s string, limit int, arrows bool) string {
	s = strings.TrimSpace(s)
	if arrows {
		s = strings.ReplaceAll(s, "\r\n", "\n")
		s = strings.ReplaceAll(s, "\n", " ↵ ")
	}
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	r := []rune(s)
	return string(r[:limit]) + "…"
}
