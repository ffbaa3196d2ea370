package packages

import (
	"errors"
	"strings"
	"testing"
)

func TestParseGitHubURL(t *testing.T) {
	cases := []struct {
		in   string
		want *GitHubSource
	}{
		{"https://github.com/acme/pkgs", &GitHubSource{Owner: "acme", Repo: "pkgs"}},
		{"github.com/acme/pkgs/", &GitHubSource{Owner: "acme", Repo: "pkgs"}},
		{"https://github.com/acme/pkgs.git", &GitHubSource{Owner: "acme", Repo: "pkgs"}},
		{"https://GitHub.com/acme/pkgs?tab=readme#x", &GitHubSource{Owner: "acme", Repo: "pkgs"}},
		{"https://github.com/acme/pkgs/tree/main", &GitHubSource{Owner: "acme", Repo: "pkgs", Ref: "main"}},
		{"https://github.com/acme/pkgs/tree/v1.2/skills/tone", &GitHubSource{Owner: "acme", Repo: "pkgs", Ref: "v1.2", Path: "skills/tone"}},
		{"https://github.com/acme/pkgs/blob/main/skills/tone/SKILL.md", &GitHubSource{Owner: "acme", Repo: "pkgs", Ref: "main", Path: "skills/tone"}},
		{"https://github.com/acme/pkgs/blob/main/manifest.json", &GitHubSource{Owner: "acme", Repo: "pkgs", Ref: "main"}},
		{"http://github.com/acme/pkgs", &GitHubSource{Owner: "acme", Repo: "pkgs"}},
		{"", nil},
		{"https://gitlab.com/acme/pkgs", nil},
		{"https://github.com.evil.com/acme/pkgs", nil},
		{"https://user@github.com/acme/pkgs", nil},
		{"https://github.com:8443/acme/pkgs", nil},
		{"ftp://github.com/acme/pkgs", nil},
		{"https://github.com/acme", nil},
		{"https://github.com/acme/pkgs/issues/1", nil},
		{"https://github.com/acme/pkgs/tree", nil},
		{"https://github.com/acme/pkgs/blob/main", nil},
		{"https://github.com/acme/pkgs/tree/main/../../etc", nil},
		{"https://github.com/acme/pkgs/tree/main//x", nil},
		{"https://github.com/ac me/pkgs", nil},
		{"https://github.com/acme/" + strings.Repeat("x", 3000), nil},
	}
	for _, tc := range cases {
		got, err := ParseGitHubURL(tc.in)
		if tc.want == nil {
			var re *RegistryError
			if err == nil || !errors.As(err, &re) || re.Code != "INVALID_URL" || re.Title != "Import Failed" {
				t.Errorf("%q: got %+v, %v; want INVALID_URL", tc.in, got, err)
			}
			continue
		}
		if err != nil || *got != *tc.want {
			t.Errorf("%q: got %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func FuzzParseGitHubURL(f *testing.F) {
	for _, s := range []string{"https://github.com/acme/pkgs", "github.com/a/b/tree/main/x/y", "https://github.com/a/b/blob/r/f.md",
		"https://github.com/%2e%2e/b", "https://github.com/a/b/tree/m/%00", "http://[::1]/a/b", "://", "https://github.com/a/b/tree/main/\\x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		src, err := ParseGitHubURL(s)
		if err != nil {
			var re *RegistryError
			if !errors.As(err, &re) || re.Code != "INVALID_URL" {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if !gitHubNameRe.MatchString(src.Owner) || !gitHubNameRe.MatchString(src.Repo) {
			t.Fatalf("bad owner/repo %+v", src)
		}
		for _, seg := range strings.Split(src.Path, "/") {
			if src.Path != "" && (seg == "" || seg == "." || seg == "..") {
				t.Fatalf("unsafe path %q", src.Path)
			}
		}
		if strings.ContainsAny(src.Ref+src.Path, "\x00\\") || strings.Contains(src.Ref, "/") {
			t.Fatalf("unsafe ref/path %+v", src)
		}
	})
}
