package runner

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strings"
)

// Limits of the file tools.
const (
	readDefaultLines = 2000
	readMaxBytes     = 50 << 10 // text returned by one read
	readMaxLineChars = 2000
	editMaxFileBytes = 10 << 20
	lsMaxEntries     = 1000
)

func schema(s string) json.RawMessage { return json.RawMessage(s) }

// workspaceTools are the file tools over w (bash included).
func workspaceTools(w *Workspace, bashEnv []string) []Tool {
	return []Tool{readTool(w), writeTool(w), editTool(w), bashTool(w, bashEnv), lsTool(w), grepTool(w), findTool(w)}
}

func readTool(w *Workspace) Tool {
	return Tool{
		Name: "read",
		Description: "Read a text file of the workspace. Lines come numbered; long files are cut at " +
			fmt.Sprint(readDefaultLines) + " lines or 50 KB: use offset (1-based line) and limit to read further.",
		Schema: schema(`{"type":"object","properties":{` +
			`"path":{"type":"string","description":"File path, relative to the workspace"},` +
			`"offset":{"type":"integer","minimum":1,"description":"First line to read (1-based)"},` +
			`"limit":{"type":"integer","minimum":1,"description":"Maximum number of lines to read"}},` +
			`"required":["path"]}`),
		Call: func(_ context.Context, raw json.RawMessage) (string, error) {
			var a struct {
				Path   string `json:"path"`
				Offset *int   `json:"offset"`
				Limit  *int   `json:"limit"`
			}
			if err := decodeArgs(raw, &a); err != nil {
				return "", err
			}
			if a.Path == "" {
				return "", toolErrorf(`Invalid arguments: "path" is required`)
			}
			offset, limit := 1, readDefaultLines
			if a.Offset != nil {
				if *a.Offset < 1 {
					return "", toolErrorf(`Invalid arguments: "offset" must be at least 1`)
				}
				offset = *a.Offset
			}
			if a.Limit != nil {
				if *a.Limit < 1 {
					return "", toolErrorf(`Invalid arguments: "limit" must be at least 1`)
				}
				limit = *a.Limit
			}
			return w.read(a.Path, offset, limit)
		},
	}
}

// read renders lines [offset, offset+limit) of a text file, numbered.
func (w *Workspace) read(p string, offset, limit int) (string, error) {
	rel, err := w.rel(p)
	if err != nil {
		return "", err
	}
	f, err := w.root.Open(rel)
	if err != nil {
		return "", fsError(p, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fsError(p, err)
	}
	if fi.IsDir() {
		return "", fmt.Errorf("%s is a directory: use ls to list it", p)
	}
	br := bufio.NewReaderSize(f, 64<<10)
	head, _ := br.Peek(8000)
	if bytes.IndexByte(head, 0) >= 0 {
		kind := http.DetectContentType(head)
		if strings.HasPrefix(kind, "image/") {
			return "", fmt.Errorf("%s is an image (%s, %d bytes): the read tool returns text only", p, kind, fi.Size())
		}
		return "", fmt.Errorf("%s is a binary file (%d bytes) and cannot be shown as text", p, fi.Size())
	}
	if fi.Size() == 0 {
		return "(empty file)", nil
	}
	var out strings.Builder
	line, shown, last := 0, 0, 0
	cut := false
	for {
		text, err := br.ReadString('\n')
		if text == "" && err != nil {
			break
		}
		line++
		if line >= offset && shown < limit && !cut {
			text = strings.TrimRight(text, "\r\n")
			if len(text) > readMaxLineChars {
				text = preview(text, readMaxLineChars) + " [line truncated]"
			}
			entry := fmt.Sprintf("%6d\t%s\n", line, text)
			if out.Len()+len(entry) > readMaxBytes && shown > 0 {
				cut = true
			} else {
				out.WriteString(entry)
				shown++
				last = line
			}
		}
		if err != nil {
			break
		}
	}
	if line < offset {
		return "", fmt.Errorf("%s has %d lines: offset %d is past the end", p, line, offset)
	}
	if last < line {
		fmt.Fprintf(&out, "\n[Showing lines %d-%d of %d. Use offset=%d to continue.]", offset, last, line, last+1)
	}
	return strings.TrimRight(out.String(), "\n"), nil
}

func writeTool(w *Workspace) Tool {
	return Tool{
		Name:        "write",
		Description: "Write a file of the workspace, replacing it if it exists. Parent directories are created.",
		Schema: schema(`{"type":"object","properties":{` +
			`"path":{"type":"string","description":"File path, relative to the workspace"},` +
			`"content":{"type":"string","description":"The whole content of the file"}},` +
			`"required":["path","content"]}`),
		Call: func(_ context.Context, raw json.RawMessage) (string, error) {
			var a struct {
				Path    string  `json:"path"`
				Content *string `json:"content"`
			}
			if err := decodeArgs(raw, &a); err != nil {
				return "", err
			}
			if a.Path == "" || a.Content == nil {
				return "", toolErrorf(`Invalid arguments: "path" and "content" are required`)
			}
			return w.write(a.Path, *a.Content)
		},
	}
}

func (w *Workspace) write(p, content string) (string, error) {
	rel, err := w.rel(p)
	if err != nil {
		return "", err
	}
	if rel == "." {
		return "", fmt.Errorf("%s is the workspace directory, not a file", p)
	}
	if dir := path.Dir(rel); dir != "." {
		if err := w.root.MkdirAll(dir, w.mkdir); err != nil {
			return "", fsError(p, err)
		}
	}
	if fi, err := w.root.Stat(rel); err == nil && fi.IsDir() {
		return "", fmt.Errorf("%s is a directory", p)
	}
	if err := w.root.WriteFile(rel, []byte(content), 0o644); err != nil {
		return "", fsError(p, err)
	}
	return fmt.Sprintf("Wrote %d bytes to %s", len(content), p), nil
}

func editTool(w *Workspace) Tool {
	return Tool{
		Name: "edit",
		Description: "Replace one exact piece of text in a file of the workspace. oldText must occur exactly once " +
			"(whitespace and line breaks included); include surrounding lines to make it unique.",
		Schema: schema(`{"type":"object","properties":{` +
			`"path":{"type":"string","description":"File path, relative to the workspace"},` +
			`"oldText":{"type":"string","description":"Exact text to replace (must occur once)"},` +
			`"newText":{"type":"string","description":"Replacement text"}},` +
			`"required":["path","oldText","newText"]}`),
		Call: func(_ context.Context, raw json.RawMessage) (string, error) {
			var a struct {
				Path    string  `json:"path"`
				OldText string  `json:"oldText"`
				NewText *string `json:"newText"`
			}
			if err := decodeArgs(raw, &a); err != nil {
				return "", err
			}
			if a.Path == "" || a.NewText == nil {
				return "", toolErrorf(`Invalid arguments: "path", "oldText" and "newText" are required`)
			}
			return w.edit(a.Path, a.OldText, *a.NewText)
		},
	}
}

func (w *Workspace) edit(p, oldText, newText string) (string, error) {
	if oldText == "" {
		return "", toolErrorf("oldText is empty: give the exact text to replace")
	}
	if oldText == newText {
		return "", toolErrorf("oldText and newText are identical: nothing to change")
	}
	rel, err := w.rel(p)
	if err != nil {
		return "", err
	}
	fi, err := w.root.Stat(rel)
	if err != nil {
		return "", fsError(p, err)
	}
	if fi.IsDir() {
		return "", fmt.Errorf("%s is a directory", p)
	}
	if fi.Size() > editMaxFileBytes {
		return "", fmt.Errorf("%s is larger than %d bytes: use bash to edit it", p, editMaxFileBytes)
	}
	data, err := w.root.ReadFile(rel)
	if err != nil {
		return "", fsError(p, err)
	}
	content := string(data)
	switch n := strings.Count(content, oldText); n {
	case 0:
		return "", fmt.Errorf("oldText was not found in %s. It must match the file exactly, whitespace and line breaks included: read the file and copy the text", p)
	case 1:
	default:
		return "", fmt.Errorf("oldText occurs %d times in %s: include more surrounding lines so that it occurs exactly once", n, p)
	}
	updated := strings.Replace(content, oldText, newText, 1)
	if err := w.root.WriteFile(rel, []byte(updated), fi.Mode().Perm()); err != nil {
		return "", fsError(p, err)
	}
	return fmt.Sprintf("Edited %s: replaced %d line(s) with %d line(s)", p,
		strings.Count(oldText, "\n")+1, strings.Count(newText, "\n")+1), nil
}

func lsTool(w *Workspace) Tool {
	return Tool{
		Name:        "ls",
		Description: "List a directory of the workspace (directories end with /, symlinks with @).",
		Schema: schema(`{"type":"object","properties":{` +
			`"path":{"type":"string","description":"Directory, relative to the workspace (default: the workspace)"}}}`),
		Call: func(_ context.Context, raw json.RawMessage) (string, error) {
			var a struct {
				Path string `json:"path"`
			}
			if err := decodeArgs(raw, &a); err != nil {
				return "", err
			}
			return w.ls(a.Path)
		},
	}
}

func (w *Workspace) ls(p string) (string, error) {
	rel, err := w.rel(p)
	if err != nil {
		return "", err
	}
	entries, err := fs.ReadDir(w.fsys, rel)
	if err != nil {
		if fi, serr := w.root.Stat(rel); serr == nil && !fi.IsDir() {
			return "", fmt.Errorf("%s is a file, not a directory", p)
		}
		return "", fsError(displayPath(p), err)
	}
	if len(entries) == 0 {
		return "(empty directory)", nil
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		name := e.Name()
		switch {
		case e.IsDir():
			name += "/"
		case e.Type()&fs.ModeSymlink != 0:
			name += "@"
		}
		names = append(names, name)
	}
	slices.Sort(names)
	more := ""
	if len(names) > lsMaxEntries {
		more = fmt.Sprintf("\n[%d more entries not shown]", len(names)-lsMaxEntries)
		names = names[:lsMaxEntries]
	}
	return strings.Join(names, "\n") + more, nil
}

func displayPath(p string) string {
	if p == "" {
		return "."
	}
	return p
}
