package packages

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/appstrate/appstrate-go/internal/afps"
)

// GitHub import limits (PACKAGES.md §2.4, §5).
const (
	GitHubMaxFiles     = 50
	GitHubMaxFileBytes = 1 << 20
	GitHubMaxTotal     = 5 << 20
	gitHubMaxAPIBody   = 8 << 20 // a recursive tree listing
)

// GitHubSource is a parsed GitHub URL: a repository, an optional ref and a folder inside it.
type GitHubSource struct {
	Owner, Repo string
	Ref         string // "" = the default branch
	Path        string // folder inside the repository, "" = the root
}

var gitHubNameRe = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// ParseGitHubURL accepts https://github.com/{owner}/{repo}, …/tree/{ref}[/{path}] and …/blob/{ref}/{path}
// (a blob names a file: its folder is imported). The host must be exactly github.com; the scheme may be
// omitted. Errors are *RegistryError INVALID_URL.
func ParseGitHubURL(raw string) (*GitHubSource, error) {
	invalid := func(why string) error { return gitHubError("INVALID_URL", "Invalid GitHub URL: "+why) }
	raw = strings.TrimSpace(raw)
	if raw == "" || len(raw) > 2048 {
		return nil, invalid("expected https://github.com/{owner}/{repo}[/tree/{ref}/{path}]")
	}
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, invalid("not a URL")
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.User != nil || u.Port() != "" || !strings.EqualFold(u.Hostname(), "github.com") {
		return nil, invalid("the host must be github.com")
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	for _, s := range segs {
		if s == "" || s == "." || s == ".." {
			return nil, invalid("malformed path")
		}
	}
	if len(segs) < 2 {
		return nil, invalid("expected https://github.com/{owner}/{repo}")
	}
	src := &GitHubSource{Owner: segs[0], Repo: strings.TrimSuffix(segs[1], ".git")}
	if !gitHubNameRe.MatchString(src.Owner) || !gitHubNameRe.MatchString(src.Repo) || src.Repo == "" {
		return nil, invalid("malformed owner or repository")
	}
	switch {
	case len(segs) == 2:
	case len(segs) >= 4 && segs[2] == "tree":
		src.Ref, src.Path = segs[3], strings.Join(segs[4:], "/")
	case len(segs) >= 5 && segs[2] == "blob":
		src.Ref, src.Path = segs[3], path.Dir(strings.Join(segs[4:], "/"))
		if src.Path == "." {
			src.Path = ""
		}
	default:
		return nil, invalid("expected /tree/{ref}/{path} or /blob/{ref}/{path} after the repository")
	}
	if strings.ContainsAny(src.Ref, "\x00\\") || strings.ContainsAny(src.Path, "\x00\\") {
		return nil, invalid("malformed ref or path")
	}
	return src, nil
}

// gitHubError is an import failure with upstream's upper-case code and "Import Failed" title.
func gitHubError(code, msg string) *RegistryError {
	kind := KindInvalid
	switch code {
	case "NOT_FOUND":
		kind = KindNotFound
	case "RATE_LIMITED":
		kind = KindRateLimited
	case "GITHUB_ERROR", "DOWNLOAD_FAILED":
		kind = KindUpstream
	}
	return &RegistryError{Kind: kind, Code: code, Message: msg, Title: "Import Failed"}
}

// ImportGitHub fetches a package folder from a public GitHub repository over HTTPS (repos API for the default
// branch, git/trees for the listing, raw files), checks the limits (50 files, 1 MiB per file, 5 MiB in total,
// 30 s per request, redirects only on the same host), zips it and runs the archive import (never forced).
func (r *Registry) ImportGitHub(ctx context.Context, c Caller, rawURL string) (*ImportResult, error) {
	src, err := ParseGitHubURL(rawURL)
	if err != nil {
		return nil, err
	}
	gh, err := newGitHubClient(r.GitHub)
	if err != nil {
		return nil, err
	}
	repo := url.PathEscape(src.Owner) + "/" + url.PathEscape(src.Repo)
	ref := src.Ref
	if ref == "" {
		var info struct {
			DefaultBranch string `json:"default_branch"`
		}
		if err := gh.getJSON(ctx, gh.api+"/repos/"+repo, &info); err != nil {
			return nil, err
		}
		if info.DefaultBranch == "" {
			return nil, gitHubError("GITHUB_ERROR", "GitHub did not report a default branch")
		}
		ref = info.DefaultBranch
	}
	var tree struct {
		Tree []struct {
			Path string `json:"path"`
			Type string `json:"type"`
			Size int64  `json:"size"`
		} `json:"tree"`
		Truncated bool `json:"truncated"`
	}
	if err := gh.getJSON(ctx, gh.api+"/repos/"+repo+"/git/trees/"+url.PathEscape(ref)+"?recursive=1", &tree); err != nil {
		return nil, err
	}
	if tree.Truncated {
		return nil, gitHubError("REPO_TOO_LARGE", "The repository is too large to list")
	}
	prefix := ""
	if src.Path != "" {
		prefix = src.Path + "/"
	}
	type entry struct {
		path string
		size int64
	}
	var entries []entry
	var total int64
	for _, t := range tree.Tree {
		if t.Type != "blob" || !strings.HasPrefix(t.Path, prefix) {
			continue
		}
		entries = append(entries, entry{t.Path, t.Size})
		total += t.Size
	}
	switch {
	case len(entries) == 0:
		return nil, gitHubError("EMPTY_PATH", "No files under "+displayPath(src.Path))
	case len(entries) > GitHubMaxFiles:
		return nil, gitHubError("TOO_MANY_FILES", fmt.Sprintf("%s holds %d files (at most %d)", displayPath(src.Path), len(entries), GitHubMaxFiles))
	case total > GitHubMaxTotal:
		return nil, gitHubError("TOO_LARGE", fmt.Sprintf("%s holds %d bytes (at most %d)", displayPath(src.Path), total, GitHubMaxTotal))
	}
	for _, e := range entries {
		if e.size > GitHubMaxFileBytes {
			return nil, gitHubError("FILE_TOO_LARGE", fmt.Sprintf("%s is %d bytes (at most %d)", e.path, e.size, GitHubMaxFileBytes))
		}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].path < entries[j].path })
	files := make(map[string][]byte, len(entries))
	total = 0
	for _, e := range entries {
		segs := strings.Split(e.path, "/")
		for i := range segs {
			segs[i] = url.PathEscape(segs[i])
		}
		data, err := gh.getRaw(ctx, gh.raw+"/"+repo+"/"+url.PathEscape(ref)+"/"+strings.Join(segs, "/"), e.path)
		if err != nil {
			return nil, err
		}
		if total += int64(len(data)); total > GitHubMaxTotal {
			return nil, gitHubError("TOO_LARGE", fmt.Sprintf("%s holds more than %d bytes", displayPath(src.Path), GitHubMaxTotal))
		}
		files[strings.TrimPrefix(e.path, prefix)] = data
	}
	archive, err := afps.WritePackage(files)
	if err != nil {
		return nil, gitHubError("DOWNLOAD_FAILED", "The fetched files cannot be archived: "+err.Error())
	}
	return r.Import(ctx, c, src.Repo+".zip", archive, false)
}

func displayPath(p string) string {
	if p == "" {
		return "the repository root"
	}
	return p
}

type gitHubClient struct {
	http     *http.Client
	api, raw string
	timeout  time.Duration
}

// newGitHubClient checks the configured bases (HTTPS only) and builds a client that follows redirects only
// on the same HTTPS host.
func newGitHubClient(cfg GitHubConfig) (*gitHubClient, error) {
	bases := [2]string{cfg.APIBase, cfg.RawBase}
	for i, b := range bases {
		u, err := url.Parse(b)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return nil, &RegistryError{Kind: KindInternal, Code: "internal_error", Message: "GitHub import is misconfigured",
				Err: fmt.Errorf("GitHub base %q must be an https URL", b)}
		}
		bases[i] = strings.TrimRight(b, "/")
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	client := &http.Client{Transport: cfg.Transport, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errors.New("too many redirects")
		}
		if req.URL.Scheme != "https" || req.URL.Host != via[0].URL.Host {
			return fmt.Errorf("redirect to %s://%s refused", req.URL.Scheme, req.URL.Host)
		}
		return nil
	}}
	return &gitHubClient{http: client, api: bases[0], raw: bases[1], timeout: timeout}, nil
}

// fetch GETs a URL with the per-request timeout and returns the body up to limit+1 bytes.
func (g *gitHubClient) fetch(ctx context.Context, u string, accept string, limit int64) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", "appstrate-package-import")
	resp, err := g.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return resp.StatusCode, nil, err
	}
	return resp.StatusCode, body, nil
}

// getJSON calls the GitHub API.
func (g *gitHubClient) getJSON(ctx context.Context, u string, v any) error {
	status, body, err := g.fetch(ctx, u, "application/vnd.github+json", gitHubMaxAPIBody)
	if err != nil {
		return &RegistryError{Kind: KindUpstream, Code: "GITHUB_ERROR", Message: "GitHub API request failed", Title: "Import Failed", Err: err}
	}
	switch {
	case status == http.StatusNotFound:
		return gitHubError("NOT_FOUND", "Repository, ref or path not found on GitHub")
	case status == http.StatusForbidden || status == http.StatusTooManyRequests:
		return gitHubError("RATE_LIMITED", "GitHub API rate limit reached; try again later")
	case status < 200 || status > 299:
		return gitHubError("GITHUB_ERROR", fmt.Sprintf("GitHub API answered %d", status))
	case int64(len(body)) > gitHubMaxAPIBody:
		return gitHubError("REPO_TOO_LARGE", "The repository listing is too large")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &RegistryError{Kind: KindUpstream, Code: "GITHUB_ERROR", Message: "GitHub API answered malformed JSON", Title: "Import Failed", Err: err}
	}
	return nil
}

// getRaw downloads one file.
func (g *gitHubClient) getRaw(ctx context.Context, u, name string) ([]byte, error) {
	status, body, err := g.fetch(ctx, u, "application/octet-stream", GitHubMaxFileBytes)
	switch {
	case err != nil:
		return nil, &RegistryError{Kind: KindUpstream, Code: "DOWNLOAD_FAILED", Message: "Download of " + name + " failed", Title: "Import Failed", Err: err}
	case status == http.StatusTooManyRequests || status == http.StatusForbidden:
		return nil, gitHubError("RATE_LIMITED", "GitHub rate limit reached; try again later")
	case status < 200 || status > 299:
		return nil, gitHubError("DOWNLOAD_FAILED", fmt.Sprintf("Download of %s failed (%d)", name, status))
	case int64(len(body)) > GitHubMaxFileBytes:
		return nil, gitHubError("FILE_TOO_LARGE", fmt.Sprintf("%s is larger than %d bytes", name, GitHubMaxFileBytes))
	}
	return body, nil
}
