package runcmd

import (
	"fmt"
	"regexp"
	"strings"
)

// Target is what `run` executes: a registry agent (@scope/name[@spec]) or a file.
type Target struct {
	Path              string // a file path ("" for a registry agent)
	Scope, Name, Spec string // a registry agent (Scope without "@")
}

// IsPath reports whether the target is a file.
func (t Target) IsPath() bool { return t.Path != "" }

// PackageID is "@scope/name".
func (t Target) PackageID() string { return "@" + t.Scope + "/" + t.Name }

// Label is how the target is shown.
func (t Target) Label() string {
	if t.IsPath() {
		return t.Path
	}
	if t.Spec != "" {
		return t.PackageID() + "@" + t.Spec
	}
	return t.PackageID()
}

var idPattern = regexp.MustCompile(`^@([a-z0-9][a-z0-9-]*)/([a-z0-9][a-z0-9-]*)(?:@(.+))?$`)

// TargetError is an argument that is neither a package id nor a path.
type TargetError struct{ Arg string }

func (e *TargetError) Error() string {
	return fmt.Sprintf("%q is not a valid package id — Expected @scope/name[@<version|tag|range>] (lowercase letters, digits and dashes), or a path to a .afps-bundle or .afps file", e.Arg)
}

// ParseTarget reads the argument of `run`: one starting with ./, ../, /, ~/ or a drive letter is a path, one
// starting with @ must be @scope/name[@spec], anything else is a path.
func ParseTarget(arg string) (Target, error) {
	switch {
	case arg == "":
		return Target{}, &TargetError{Arg: arg}
	case looksLikePath(arg):
		return Target{Path: arg}, nil
	case strings.HasPrefix(arg, "@"):
		m := idPattern.FindStringSubmatch(arg)
		if m == nil || strings.ContainsAny(m[3], "\t\r\n/") {
			return Target{}, &TargetError{Arg: arg}
		}
		return Target{Scope: m[1], Name: m[2], Spec: m[3]}, nil
	}
	return Target{Path: arg}, nil
}

func looksLikePath(s string) bool {
	for _, p := range []string{"./", "../", "/", "~/", ".\\", "..\\"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return len(s) >= 3 && s[1] == ':' && (s[2] == '\\' || s[2] == '/') &&
		(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z')
}
