package llm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
)

// sseEvent is one dispatched server-sent event.
type sseEvent struct {
	Event string // the "event:" field; empty when the server sent none
	Data  string // the "data:" lines joined with "\n"
	ID    string
}

// maxSSELine bounds one line of an event stream (a whole JSON event of a provider fits in one data line; the
// final event of a Responses stream repeats the whole output, hence the room).
const maxSSELine = 32 << 20

// sseParser is an incremental parser of the text/event-stream format (WHATWG HTML §9.2.6): bytes are pushed in
// chunks of any size, split anywhere, and complete events are handed to a callback. Lines may end with CRLF, LF
// or CR; a leading byte order mark is skipped; comment lines are ignored; a line longer than the limit is
// dropped whole and counted in dropped. Unlike a browser it also dispatches a last event that was not followed
// by a blank line when the stream closes.
type sseParser struct {
	maxLine int

	line      []byte
	skipLF    bool // the previous chunk ended with CR: a leading LF belongs to it
	firstLine bool // no line completed yet (BOM check pending)
	overflow  bool // the current line exceeded maxLine and is being discarded
	dropped   int

	event   string
	data    []byte
	hasData bool
	id      string
}

func newSSEParser() *sseParser { return &sseParser{maxLine: maxSSELine, firstLine: true} }

// feed parses b and calls emit for each complete event; it stops at and returns emit's first error.
func (p *sseParser) feed(b []byte, emit func(sseEvent) error) error {
	if p.skipLF && len(b) > 0 {
		if b[0] == '\n' {
			b = b[1:]
		}
		p.skipLF = false
	}
	for len(b) > 0 {
		i := bytes.IndexAny(b, "\r\n")
		if i < 0 {
			p.appendLine(b)
			return nil
		}
		p.appendLine(b[:i])
		if b[i] == '\r' {
			if i+1 < len(b) {
				if b[i+1] == '\n' {
					i++
				}
			} else {
				p.skipLF = true
			}
		}
		b = b[i+1:]
		if err := p.endLine(emit); err != nil {
			return err
		}
	}
	return nil
}

// close ends the stream: a pending line and a pending event are processed.
func (p *sseParser) close(emit func(sseEvent) error) error {
	if len(p.line) > 0 || p.overflow {
		if err := p.endLine(emit); err != nil {
			return err
		}
	}
	return p.dispatch(emit)
}

func (p *sseParser) appendLine(b []byte) {
	if p.overflow {
		return
	}
	if len(p.line)+len(b) > p.maxLine {
		p.overflow = true
		p.line = p.line[:0]
		return
	}
	p.line = append(p.line, b...)
}

func (p *sseParser) endLine(emit func(sseEvent) error) error {
	line := p.line
	p.line = p.line[:0]
	if p.firstLine {
		p.firstLine = false
		line = bytes.TrimPrefix(line, []byte("\xEF\xBB\xBF"))
	}
	if p.overflow {
		p.overflow = false
		p.dropped++
		return nil
	}
	if len(line) == 0 {
		return p.dispatch(emit)
	}
	if line[0] == ':' {
		return nil
	}
	field, value := line, []byte(nil)
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		field, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(field) {
	case "event":
		p.event = string(value)
	case "data":
		if len(p.data)+len(value) > p.maxLine {
			// An event made of many data lines is bounded like one line.
			p.data, p.hasData, p.event = p.data[:0], false, ""
			p.dropped++
			return nil
		}
		p.data = append(p.data, value...)
		p.data = append(p.data, '\n')
		p.hasData = true
	case "id":
		if bytes.IndexByte(value, 0) < 0 {
			p.id = string(value)
		}
	}
	return nil
}

func (p *sseParser) dispatch(emit func(sseEvent) error) error {
	if !p.hasData {
		p.event = ""
		return nil
	}
	ev := sseEvent{Event: p.event, Data: string(p.data[:len(p.data)-1]), ID: p.id}
	p.event, p.data, p.hasData = "", p.data[:0], false
	return emit(ev)
}

// errSSEDropped reports an event stream line longer than the parser accepts.
var errSSEDropped = fmt.Errorf("%w: event stream line too long", ErrBadResponse)

// readSSE parses an event stream from r until EOF, calling emit for each event. A read error is returned
// wrapped (as a network error, or as ctx's error when ctx ended); emit's error is returned as is.
func readSSE(ctx context.Context, r io.Reader, emit func(sseEvent) error) error {
	p := newSSEParser()
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if ferr := p.feed(buf[:n], emit); ferr != nil {
				return ferr
			}
			if p.dropped > 0 {
				return errSSEDropped
			}
		}
		if errors.Is(err, io.EOF) {
			return p.close(emit)
		}
		if err != nil {
			return readError(ctx, err)
		}
	}
}

// readError wraps a failure to read a response body.
func readError(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("llm: reading response: %w", ctxErr)
	}
	return &networkError{err: fmt.Errorf("reading response: %w", err)}
}
