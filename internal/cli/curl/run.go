package curl

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Env is what Run needs from the CLI.
type Env struct {
	Instance string // normalized instance URL
	Profile  string
	// Defaults returns the credential headers (User-Agent, Authorization, X-Org-Id, X-Application-Id) with a
	// fresh access token; its error (not logged in, revoked session...) ends the command with exit 1.
	Defaults  func(ctx context.Context) ([]Header, error)
	Files     Files
	Stdout    io.Writer
	Stderr    io.Writer
	Transport *http.Transport // cloned per run; nil: a clone of http.DefaultTransport
	Now       func() time.Time
	Sleep     func(ctx context.Context, d time.Duration) error
	// WriteFile writes -o output (os.WriteFile with 0644 when nil).
	WriteFile func(name string, data []byte) error
}

func (e *Env) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Env) sleep(ctx context.Context, d time.Duration) error {
	if e.Sleep != nil {
		return e.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// run is the state of one invocation.
type run struct {
	o     *Options
	env   *Env
	start time.Time
	vars  WriteOutVars
	msg   string // the error message for the caller (empty under -s without -S)
}

// errorf records the error message unless -s (without -S); the caller prints it.
func (r *run) errorf(format string, args ...any) {
	if (r.o.Silent && !r.o.ShowErr) || r.msg != "" {
		return
	}
	r.msg = fmt.Sprintf(format, args...)
}

// warnf prints a warning line on stderr unless -s.
func (r *run) warnf(format string, args ...any) {
	if r.o.Silent && !r.o.ShowErr {
		return
	}
	fmt.Fprintf(r.env.Stderr, format+"\n", args...)
}

func (r *run) verbosef(format string, args ...any) {
	if r.o.Verbose {
		fmt.Fprintf(r.env.Stderr, format+"\n", args...)
	}
}

// finish writes -w and returns the exit code.
func (r *run) finish(code int) int {
	if r.o.WriteOut != "" {
		r.vars.ExitCode = code
		r.vars.TimeTotal = r.env.now().Sub(r.start)
		fmt.Fprint(r.env.Stdout, WriteOut(r.o.WriteOut, r.vars))
	}
	return code
}

// retryable statuses (curl's transient errors).
var retryStatus = map[int]bool{408: true, 429: true, 500: true, 502: true, 503: true, 504: true}

// Run executes the parsed command. It returns the exit code and, for a failure, the error message to print
// on stderr (empty under -s); everything else (verbose lines, hints, warnings) goes to env.Stderr directly.
func Run(ctx context.Context, o *Options, env Env) (int, string) {
	r := &run{o: o, env: &env, start: env.now()}
	code := r.exec(ctx)
	return code, r.msg
}

func (r *run) exec(ctx context.Context) int {
	o, env := r.o, *r.env
	plan, err := BuildPlan(o, env.Instance, env.Files)
	if err != nil {
		code := ExitFailure
		var ue *UsageError
		if errors.As(err, &ue) {
			code = ue.Code
		}
		r.errorf("%v", err)
		return r.finish(code)
	}
	r.vars.URLEffective = plan.URL.String()
	if o.MaxTime > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(o.MaxTime*float64(time.Second)))
		defer cancel()
	}
	defaults, err := env.Defaults(ctx)
	if err != nil {
		r.errorf("%v", err)
		return r.finish(ExitFailure)
	}
	headers := plan.HeaderList(defaults)
	if len(plan.Body) > 0 {
		r.vars.SizeUpload = int64(len(plan.Body))
	}
	retries := o.Retry
	if retries > 0 && !plan.Replayable() {
		r.warnf("warning: --retry disabled: the request body comes from stdin and cannot be replayed")
		retries = 0
	}
	client := r.client(env.Instance)
	if u, err := url.Parse(env.Instance); err == nil {
		r.verbosef("* Profile: %q → %s", env.Profile, Origin(u))
	}
	r.verbosef("* Bearer injected from keyring, never exposed to caller")

	var res *http.Response
	for attempt := 1; ; attempt++ {
		res, err = r.attempt(ctx, client, plan, headers)
		delay, retry := r.retryDelay(attempt, retries, res, err)
		if !retry {
			break
		}
		what := "network error"
		if res != nil {
			what = fmt.Sprintf("status %d", res.StatusCode)
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
		r.verbosef("* retry after %dms (%s)", delay.Milliseconds(), what)
		if serr := env.sleep(ctx, delay); serr != nil {
			err, res = serr, nil
			break
		}
	}
	if err != nil {
		code, label := classifyNetErr(ctx, err)
		if code == ExitTimeout {
			r.errorf("Operation timed out")
		} else {
			r.errorf("%s: %v", label, unwrapURLErr(err))
		}
		return r.finish(code)
	}
	defer res.Body.Close()
	return r.output(ctx, res)
}

// retryDelay decides whether to retry and after how long.
func (r *run) retryDelay(attempt, retries int, res *http.Response, err error) (time.Duration, bool) {
	if attempt > retries {
		return 0, false
	}
	switch {
	case err != nil:
		var dns *net.DNSError
		switch {
		case errors.As(err, &dns), errors.Is(err, context.DeadlineExceeded) && r.o.MaxTime == 0, isTimeout(err):
		case r.o.RetryConnRefused && errors.Is(err, syscall.ECONNREFUSED):
		default:
			return 0, false
		}
	case !retryStatus[res.StatusCode]:
		return 0, false
	}
	base := r.o.RetryDelay
	if base <= 0 {
		base = 1
	}
	delay := time.Duration(base * float64(time.Second) * float64(int64(1)<<min(attempt-1, 30)))
	if res != nil {
		if ra, ok := retryAfter(res.Header.Get("Retry-After"), r.env.now()); ok {
			delay = ra
		}
	}
	if r.o.RetryMaxTime > 0 && r.env.now().Add(delay).Sub(r.start) > time.Duration(r.o.RetryMaxTime*float64(time.Second)) {
		return 0, false
	}
	return delay, true
}

// retryAfter reads Retry-After: seconds, or an HTTP date; values over one hour are ignored.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 || n > 3600 {
			return 0, false
		}
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		if d > time.Hour {
			return 0, false
		}
		return d, true
	}
	return 0, false
}

// client builds the HTTP client: -k, redirects only with -L (Authorization dropped on cross-origin hops).
func (r *run) client(instance string) *http.Client {
	var tr *http.Transport
	if r.env.Transport != nil {
		tr = r.env.Transport.Clone()
	} else {
		tr = http.DefaultTransport.(*http.Transport).Clone()
	}
	if r.o.Insecure {
		if tr.TLSClientConfig == nil {
			tr.TLSClientConfig = &tls.Config{}
		}
		tr.TLSClientConfig.InsecureSkipVerify = true //nolint:gosec // curl -k, on the user's request
	}
	if r.o.ConnectTimeout > 0 {
		d := time.Duration(r.o.ConnectTimeout * float64(time.Second))
		dialer := &net.Dialer{Timeout: d, KeepAlive: 30 * time.Second}
		tr.DialContext = dialer.DialContext
		tr.TLSHandshakeTimeout = d
	}
	// Like curl, ask for compression only with --compressed (and decode it then, in output).
	tr.DisableCompression = true
	inst, _ := url.Parse(instance)
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if !r.o.Location {
				return http.ErrUseLastResponse
			}
			if len(via) >= 50 {
				return errors.New("maximum (50) redirects followed")
			}
			if inst == nil || Origin(req.URL) != Origin(inst) {
				req.Header.Del("Authorization")
			}
			r.vars.NumRedirects = len(via)
			return nil
		},
	}
}

// attempt sends the request once. --connect-timeout bounds the time until the response headers arrive (per
// attempt, unlike upstream's single timer).
func (r *run) attempt(ctx context.Context, client *http.Client, plan *Plan, headers []Header) (*http.Response, error) {
	var body io.Reader
	switch {
	case plan.Stream != nil:
		body = plan.Stream
	case plan.Body != nil:
		body = bytes.NewReader(plan.Body)
	}
	attemptCtx, cancel := context.WithCancelCause(ctx)
	var timer *time.Timer
	if r.o.ConnectTimeout > 0 {
		timer = time.AfterFunc(time.Duration(r.o.ConnectTimeout*float64(time.Second)), func() {
			cancel(context.DeadlineExceeded)
		})
	}
	req, err := http.NewRequestWithContext(attemptCtx, plan.Method, plan.URL.String(), body)
	if err != nil {
		cancel(nil)
		return nil, err
	}
	if plan.Stream != nil {
		req.ContentLength = -1
	}
	for _, h := range headers {
		if strings.EqualFold(h.Name, "Host") {
			req.Host = h.Value
			continue
		}
		req.Header[http.CanonicalHeaderKey(h.Name)] = append(req.Header[http.CanonicalHeaderKey(h.Name)], h.Value)
	}
	r.verbosef("> %s %s HTTP/1.1", plan.Method, plan.URL.RequestURI())
	r.verbosef("> Host: %s", plan.URL.Host)
	for _, h := range headers {
		v := h.Value
		if strings.EqualFold(h.Name, "Authorization") {
			v = "Bearer [REDACTED]"
		}
		r.verbosef("> %s: %s", h.Name, v)
	}
	r.verbosef(">")
	res, err := client.Do(req)
	if timer != nil {
		timer.Stop()
	}
	if err != nil {
		if cause := context.Cause(attemptCtx); errors.Is(cause, context.DeadlineExceeded) && ctx.Err() == nil {
			err = fmt.Errorf("connect timeout: %w", context.DeadlineExceeded)
		}
		cancel(nil)
		return nil, err
	}
	r.vars.TimeStartTransfer = r.env.now().Sub(r.start)
	res.Body = &cancelOnClose{ReadCloser: res.Body, cancel: func() { cancel(nil) }}
	return res, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel func()
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// responseHead renders the status line and the headers with lower-case names.
func responseHead(res *http.Response, lower map[string]string) string {
	var b strings.Builder
	version := "1.1"
	if res.ProtoMajor == 2 {
		version = "2"
	}
	text := strings.TrimSpace(strings.TrimPrefix(res.Status, strconv.Itoa(res.StatusCode)))
	fmt.Fprintf(&b, "HTTP/%s %d %s\r\n", version, res.StatusCode, text)
	keys := make([]string, 0, len(lower))
	for k := range lower {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == "set-cookie" {
			for _, v := range res.Header.Values("Set-Cookie") {
				fmt.Fprintf(&b, "%s: %s\r\n", k, v)
			}
			continue
		}
		fmt.Fprintf(&b, "%s: %s\r\n", k, lower[k])
	}
	b.WriteString("\r\n")
	return b.String()
}

// output writes the response as curl does and returns the exit code.
func (r *run) output(ctx context.Context, res *http.Response) int {
	lower := map[string]string{}
	for k, vs := range res.Header {
		lower[strings.ToLower(k)] = strings.Join(vs, ", ")
	}
	r.vars.HTTPCode = res.StatusCode
	r.vars.HTTPVersion = fmt.Sprintf("%d.%d", res.ProtoMajor, res.ProtoMinor)
	if res.ProtoMajor == 2 {
		r.vars.HTTPVersion = "2"
	}
	r.vars.Headers = lower
	r.vars.URLEffective = res.Request.URL.String()
	if r.o.Verbose {
		for _, line := range strings.Split(strings.TrimSuffix(responseHead(res, lower), "\r\n\r\n"), "\r\n") {
			fmt.Fprintf(r.env.Stderr, "< %s\n", line)
		}
		fmt.Fprintln(r.env.Stderr, "<")
	}
	body, err := decodedBody(res)
	if err != nil {
		code, label := classifyNetErr(ctx, err)
		if code == ExitTimeout {
			r.errorf("Operation timed out")
		} else {
			r.errorf("%s: %v", label, err)
		}
		return r.finish(code)
	}
	r.vars.SizeDownload = int64(len(body))
	if res.StatusCode == http.StatusUnauthorized && !r.o.Silent {
		fmt.Fprintf(r.env.Stderr, "Session may be expired — run: appstrate login --profile %s\n", r.env.Profile)
	}
	failing := (r.o.Fail || r.o.FailBody) && res.StatusCode >= 400
	code := ExitOK
	if failing {
		code = ExitHTTP
		if res.StatusCode >= 500 {
			code = ExitHTTPServer
		}
	}
	head := ""
	if r.o.Include || r.o.Head {
		head = responseHead(res, lower)
	}
	if r.o.Head {
		fmt.Fprint(r.env.Stdout, head)
		return r.finish(ExitOK)
	}
	if failing && r.o.Fail && !r.o.FailBody {
		r.errorf("The requested URL returned error: %d", res.StatusCode)
		return r.finish(code)
	}
	if r.o.Output != "" && r.o.Output != "-" {
		fmt.Fprint(r.env.Stdout, head)
		write := r.env.WriteFile
		if write == nil {
			write = func(name string, data []byte) error { return os.WriteFile(name, data, 0o644) }
		}
		if err := write(r.o.Output, body); err != nil {
			r.errorf("cannot write %s: %v", r.o.Output, err)
			return r.finish(ExitFailure)
		}
	} else {
		fmt.Fprint(r.env.Stdout, head)
		_, _ = r.env.Stdout.Write(body)
	}
	if failing {
		r.errorf("The requested URL returned error: %d", res.StatusCode)
	}
	return r.finish(code)
}

// decodedBody reads the body, decoding gzip/deflate when --compressed asked for them.
func decodedBody(res *http.Response) ([]byte, error) {
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.Uncompressed {
		return raw, nil
	}
	return decodeContent(res.Header.Get("Content-Encoding"), raw)
}

// decodeContent undoes a gzip or deflate Content-Encoding; other encodings are passed through as they came.
func decodeContent(encoding string, raw []byte) ([]byte, error) {
	var rd io.ReadCloser
	var err error
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "gzip", "x-gzip":
		rd, err = gzip.NewReader(bytes.NewReader(raw))
	case "deflate":
		rd, err = zlib.NewReader(bytes.NewReader(raw))
		if err != nil {
			rd, err = flate.NewReader(bytes.NewReader(raw)), nil
		}
	default:
		return raw, nil
	}
	if err != nil {
		return nil, fmt.Errorf("decode %s body: %w", encoding, err)
	}
	defer rd.Close()
	out, err := io.ReadAll(io.LimitReader(rd, 1<<30))
	if err != nil {
		return nil, fmt.Errorf("decode %s body: %w", encoding, err)
	}
	return out, nil
}

// classifyNetErr maps a transport error to curl's exit code and a label.
func classifyNetErr(ctx context.Context, err error) (int, string) {
	var dns *net.DNSError
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var recordErr tls.RecordHeaderError
	var alert tls.AlertError
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) || isTimeout(err):
		return ExitTimeout, "Operation timed out"
	case errors.As(err, &dns):
		return ExitDNS, "Could not resolve host"
	case errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr), errors.As(err, &invalid),
		errors.As(err, &recordErr), errors.As(err, &alert), strings.Contains(err.Error(), "tls:"):
		return ExitTLS, "TLS error"
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH),
		errors.Is(err, syscall.ECONNRESET):
		return ExitConnect, "Failed to connect"
	case errors.Is(err, context.Canceled):
		return 130, "Interrupted"
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return ExitConnect, "Failed to connect"
	}
	return ExitFailure, "Request failed"
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func unwrapURLErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
