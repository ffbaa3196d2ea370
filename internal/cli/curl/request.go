package curl

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Header is one request header in send order.
type Header struct{ Name, Value string }

// Files reads the files and stdin named on the command line; tests replace it.
type Files struct {
	Stdin    io.Reader
	ReadFile func(name string) ([]byte, error)
}

func (f Files) read(name string) ([]byte, error) {
	if name == "-" {
		if f.Stdin == nil {
			return nil, nil
		}
		return io.ReadAll(f.Stdin)
	}
	if f.ReadFile != nil {
		return f.ReadFile(name)
	}
	return os.ReadFile(name)
}

// Plan is the request an Options describes, before credentials.
type Plan struct {
	Method  string
	URL     *url.URL
	Headers []Header // shortcut and -H headers, applied over the defaults by Headers()

	Body        []byte    // replayable body (nil: none unless Stream)
	Stream      io.Reader // stdin body streamed as it comes (not replayable)
	ContentType string    // from a file extension or multipart; "" for literal bodies
}

// Replayable reports whether the body can be sent again (retries, 401 retries).
func (p *Plan) Replayable() bool { return p.Stream == nil }

// EncodeURIComponent percent-encodes everything but A-Z a-z 0-9 - _ . ! ~ * ' ( ), as JavaScript does.
func EncodeURIComponent(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-_.!~*'()", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// ForeignHostError is an absolute URL outside the profile's instance.
type ForeignHostError struct{ Expected, Got string }

func (e *ForeignHostError) Error() string {
	return fmt.Sprintf("refusing to send bearer to foreign host.\n  expected origin: %s\n  got origin:      %s\n  Use plain curl for other hosts.", e.Expected, e.Got)
}

func originOf(u *url.URL) string {
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[strings.ToLower(u.Scheme)]
	}
	return strings.ToLower(u.Scheme) + "://" + net.JoinHostPort(host, port)
}

// Origin is scheme://host:port with the default port explicit.
func Origin(u *url.URL) string { return originOf(u) }

// BuildPlan turns the options into a request on instance (the normalized instance URL).
func BuildPlan(o *Options, instance string, files Files) (*Plan, error) {
	inst, err := url.Parse(instance)
	if err != nil {
		return nil, fmt.Errorf("invalid instance URL %q: %w", instance, err)
	}
	p := &Plan{Method: o.EffectiveMethod()}
	if strings.Contains(o.Target, "://") {
		u, err := url.Parse(o.Target)
		if err != nil || u.Host == "" {
			return nil, &UsageError{Code: ExitUsage, Msg: fmt.Sprintf("invalid URL %q", o.Target)}
		}
		if originOf(u) != originOf(inst) {
			return nil, &UsageError{Code: ExitUsage, Msg: (&ForeignHostError{Expected: originOf(inst), Got: originOf(u)}).Error()}
		}
		p.URL = u
	} else {
		target := o.Target
		if !strings.HasPrefix(target, "/") {
			target = "/" + target
		}
		u, err := url.Parse(strings.TrimSuffix(instance, "/") + target)
		if err != nil {
			return nil, &UsageError{Code: ExitUsage, Msg: fmt.Sprintf("invalid path %q", o.Target)}
		}
		p.URL = u
	}
	var query []string
	for _, q := range o.Query {
		k, v, _ := strings.Cut(q, "=")
		query = append(query, url.QueryEscape(k)+"="+url.QueryEscape(v))
	}

	// Bodies.
	switch {
	case o.Upload != "":
		if o.Upload == "-" {
			p.Stream = files.Stdin
			if p.Stream == nil {
				p.Body = []byte{}
			}
		} else {
			b, err := files.read(o.Upload)
			if err != nil {
				return nil, &UsageError{Code: ExitFailure, Msg: fmt.Sprintf("cannot read %s: %v", o.Upload, err)}
			}
			p.Body, p.ContentType = b, mime.TypeByExtension(filepath.Ext(o.Upload))
		}
	case len(o.Forms) > 0:
		if err := p.multipart(o.Forms, files); err != nil {
			return nil, err
		}
	case len(o.Data) > 0:
		body, fromFile, stream, err := dataBody(o.Data, files, o.Get)
		if err != nil {
			return nil, err
		}
		if o.Get {
			if len(body) > 0 {
				query = append(query, strings.Split(string(body), "&")...)
			}
		} else {
			p.Body, p.Stream = body, stream
			if fromFile != "" {
				p.ContentType = mime.TypeByExtension(filepath.Ext(fromFile))
			}
		}
	}
	if len(query) > 0 {
		if p.URL.RawQuery != "" {
			p.URL.RawQuery += "&"
		}
		p.URL.RawQuery += strings.Join(query, "&")
	}

	// Shortcut headers, then -H.
	if o.Compressed {
		p.Headers = append(p.Headers, Header{"Accept-Encoding", "gzip, deflate"})
	}
	if o.Range != "" {
		p.Headers = append(p.Headers, Header{"Range", "bytes=" + o.Range})
	}
	if o.Referer != "" {
		p.Headers = append(p.Headers, Header{"Referer", o.Referer})
	}
	if o.Cookie != "" {
		p.Headers = append(p.Headers, Header{"Cookie", o.Cookie})
	}
	if p.ContentType != "" {
		p.Headers = append(p.Headers, Header{"Content-Type", p.ContentType})
	}
	for _, h := range o.Headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok {
			if n, isEmpty := strings.CutSuffix(strings.TrimSpace(h), ";"); isEmpty && validHeaderName(n) {
				p.Headers = append(p.Headers, Header{n, ""}) // `Name;` sends an empty header, as curl
			}
			continue // no colon: ignored
		}
		name = strings.TrimSpace(name)
		if !validHeaderName(name) {
			return nil, &UsageError{Code: ExitUsage, Msg: fmt.Sprintf("invalid header name in -H %q", h)}
		}
		value = strings.TrimSpace(value)
		if strings.ContainsAny(value, "\r\n\x00") {
			return nil, &UsageError{Code: ExitUsage, Msg: fmt.Sprintf("invalid header value in -H %q", h)}
		}
		if value == "" {
			p.Headers = append(p.Headers, Header{name, "\x00remove"}) // `Name:` removes the header, as curl
			continue
		}
		p.Headers = append(p.Headers, Header{name, value})
	}
	if o.HasUA {
		p.Headers = append([]Header{{"User-Agent", o.UserAgent}}, p.Headers...)
	}
	return p, nil
}

func validHeaderName(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}

// HeaderList merges the defaults (User-Agent, Authorization, X-Org-Id, X-Application-Id) with the plan's
// headers: a later header replaces an earlier one of the same name, in any case (the documented curl
// behaviour; upstream only replaced on an exact case match).
func (p *Plan) HeaderList(defaults []Header) []Header {
	out := append([]Header(nil), defaults...)
	for _, h := range p.Headers {
		idx := -1
		for i := range out {
			if strings.EqualFold(out[i].Name, h.Name) {
				idx = i
				break
			}
		}
		switch {
		case h.Value == "\x00remove" && idx >= 0:
			out = append(out[:idx], out[idx+1:]...)
		case h.Value == "\x00remove":
		case idx >= 0:
			out[idx] = h
		default:
			out = append(out, h)
		}
	}
	return out
}

// dataBody joins the -d/--data-raw/--data-binary values with "&", or the --data-urlencode pairs. A stdin
// value (`@-`) is streamed unless it must be read whole (several values, or -G).
func dataBody(parts []DataPart, files Files, whole bool) (body []byte, fromFile string, stream io.Reader, err error) {
	var chunks [][]byte
	for _, d := range parts {
		switch d.Kind {
		case "raw":
			chunks = append(chunks, []byte(d.Value))
		case "data", "binary":
			if name, ok := strings.CutPrefix(d.Value, "@"); ok {
				if name == "-" && len(parts) == 1 && !whole && files.Stdin != nil {
					return nil, "", files.Stdin, nil
				}
				b, err := files.read(name)
				if err != nil {
					return nil, "", nil, &UsageError{Code: ExitFailure, Msg: fmt.Sprintf("cannot read %s: %v", name, err)}
				}
				if name != "-" {
					fromFile = name
				}
				chunks = append(chunks, b)
				continue
			}
			v := d.Value
			if d.Kind == "data" {
				v = strings.TrimSuffix(v, "\n")
			}
			chunks = append(chunks, []byte(v))
		case "urlencode":
			s, err := urlencodePart(d.Value, files)
			if err != nil {
				return nil, "", nil, err
			}
			chunks = append(chunks, []byte(s))
		}
	}
	if len(chunks) > 1 {
		fromFile = ""
	}
	return bytes.Join(chunks, []byte("&")), fromFile, nil, nil
}

// urlencodePart reads one --data-urlencode value: content, =content, name=content, @file or name@file.
func urlencodePart(v string, files Files) (string, error) {
	eq := strings.IndexByte(v, '=')
	at := strings.IndexByte(v, '@')
	switch {
	case eq == 0:
		return EncodeURIComponent(v[1:]), nil
	case eq > 0 && (at < 0 || eq < at):
		return v[:eq] + "=" + EncodeURIComponent(v[eq+1:]), nil
	case at >= 0:
		b, err := files.read(v[at+1:])
		if err != nil {
			return "", &UsageError{Code: ExitFailure, Msg: fmt.Sprintf("cannot read %s: %v", v[at+1:], err)}
		}
		if at == 0 {
			return EncodeURIComponent(string(b)), nil
		}
		return v[:at] + "=" + EncodeURIComponent(string(b)), nil
	}
	return EncodeURIComponent(v), nil
}

// multipart builds a multipart/form-data body from -F values: k=v, k=@path[;type=mime].
func (p *Plan) multipart(forms []string, files Files) error {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, f := range forms {
		name, value, ok := strings.Cut(f, "=")
		if !ok || name == "" {
			return &UsageError{Code: ExitUsage, Msg: fmt.Sprintf("-F %q: expected name=value or name=@file", f)}
		}
		path, isFile := strings.CutPrefix(value, "@")
		if !isFile {
			if err := w.WriteField(name, value); err != nil {
				return err
			}
			continue
		}
		ctype := ""
		if i := strings.Index(path, ";type="); i >= 0 {
			path, ctype = path[:i], path[i+len(";type="):]
		}
		b, err := files.read(path)
		if err != nil {
			return &UsageError{Code: ExitFailure, Msg: fmt.Sprintf("cannot read %s: %v", path, err)}
		}
		if ctype == "" {
			ctype = mime.TypeByExtension(filepath.Ext(path))
		}
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="%s"; filename="%s"`, escapeQuotes(name), escapeQuotes(filepath.Base(path))))
		h.Set("Content-Type", ctype)
		part, err := w.CreatePart(h)
		if err != nil {
			return err
		}
		if _, err := part.Write(b); err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	p.Body, p.ContentType = buf.Bytes(), w.FormDataContentType()
	return nil
}

var quoteEscaper = strings.NewReplacer("\\", "\\\\", `"`, "\\\"", "\r", "%0D", "\n", "%0A")

func escapeQuotes(s string) string { return quoteEscaper.Replace(s) }
