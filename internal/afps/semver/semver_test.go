package semver

import (
	"errors"
	"testing"
)

// Expected values below are node-semver 7.x results (its documented semantics and its own fixtures:
// test/fixtures/{valid-versions,comparisons,range-parse,range-include,range-exclude}.js).

func TestValidAndNormalize(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" = invalid
	}{
		{"1.2.3", "1.2.3"},
		{" 1.2.3 ", "1.2.3"},
		{"v1.2.3", "1.2.3"},
		{"1.2.3-beta.1", "1.2.3-beta.1"},
		{"1.2.3-0", "1.2.3-0"},
		{"1.2.3+build.5", "1.2.3"},
		{"1.2.3-alpha+001", "1.2.3-alpha"},
		{"1.2.3-x-y-z.--", "1.2.3-x-y-z.--"},
		{"0.0.0", "0.0.0"},
		{"1.2.3-01a", "1.2.3-01a"},
		{"9007199254740991.0.0", "9007199254740991.0.0"},
		{"9007199254740992.0.0", ""},
		{"=1.2.3", ""},
		{"vv1.2.3", ""},
		{"1.2", ""},
		{"1", ""},
		{"01.2.3", ""},
		{"1.02.3", ""},
		{"1.2.03", ""},
		{"1.2.3-01", ""},
		{"1.2.3-", ""},
		{"1.2.3+", ""},
		{"1.2.3-a..b", ""},
		{"1.2.3.4", ""},
		{"a.b.c", ""},
		{"", ""},
		{"1.2.3 foo", ""},
		{"^1.2.3", ""},
	}
	for _, tt := range tests {
		if got := Normalize(tt.in); got != tt.want {
			t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := Valid(tt.in); got != (tt.want != "") {
			t.Errorf("Valid(%q) = %v", tt.in, got)
		}
	}
	long := "1.2.3-" + string(make([]byte, 0))
	for len(long) <= MaxLength {
		long += "a"
	}
	if Valid(long) {
		t.Errorf("a %d-character version must be invalid", len(long))
	}
}

func TestCompare(t *testing.T) {
	// Each pair: a > b.
	greater := [][2]string{
		{"0.0.0", "0.0.0-foo"},
		{"0.0.1", "0.0.0"},
		{"1.0.0", "0.9.9"},
		{"0.10.0", "0.9.0"},
		{"0.99.0", "0.10.0"},
		{"2.0.0", "1.2.3"},
		{"v0.0.0", "0.0.0-foo"},
		{"1.2.3", "1.2.3-asdf"},
		{"1.2.3", "1.2.3-4"},
		{"1.2.3", "1.2.3-4-foo"},
		{"1.2.3-5-foo", "1.2.3-5"},
		{"1.2.3-5", "1.2.3-4"},
		{"1.2.3-5-foo", "1.2.3-5-Foo"},
		{"3.0.0", "2.7.2+asdf"},
		{"1.2.3-a.10", "1.2.3-a.5"},
		{"1.2.3-a.b", "1.2.3-a.5"},
		{"1.2.3-a.b", "1.2.3-a"},
		{"1.2.3-a.b.c.10.d.5", "1.2.3-a.b.c.5.d.100"},
		{"1.2.3-r2", "1.2.3-r100"},
		{"1.2.3-r100", "1.2.3-R2"},
		{"1.0.0-rc.1", "1.0.0-beta.11"},
		{"1.0.0-beta.11", "1.0.0-beta.2"},
		{"1.0.0-beta.2", "1.0.0-beta"},
		{"1.0.0-beta", "1.0.0-alpha.beta"},
		{"1.0.0-alpha.beta", "1.0.0-alpha.1"},
		{"1.0.0-alpha.1", "1.0.0-alpha"},
		{"1.0.0-10000000000000000000001", "1.0.0-9999999999999999999999"},
	}
	for _, p := range greater {
		if c, ok := Compare(p[0], p[1]); !ok || c != 1 {
			t.Errorf("Compare(%q, %q) = %d, %v; want 1", p[0], p[1], c, ok)
		}
		if c, ok := Compare(p[1], p[0]); !ok || c != -1 {
			t.Errorf("Compare(%q, %q) = %d, %v; want -1", p[1], p[0], c, ok)
		}
	}
	equal := [][2]string{
		{"1.2.3", "v1.2.3"},
		{"1.2.3", " 1.2.3 "},
		{"1.2.3-beta", "v1.2.3-beta"},
		{"1.2.3+build", "1.2.3+other"},
		{"1.2.3-beta+build", "1.2.3-beta+other"},
	}
	for _, p := range equal {
		if c, ok := Compare(p[0], p[1]); !ok || c != 0 {
			t.Errorf("Compare(%q, %q) = %d, %v; want 0", p[0], p[1], c, ok)
		}
	}
	if _, ok := Compare("1.2.3", "nope"); ok {
		t.Error("Compare with an invalid version must not be ok")
	}
}

func TestValidRange(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" = invalid
	}{
		{"1.0.0 - 2.0.0", ">=1.0.0 <=2.0.0"},
		{"1.0.0 - 2.0.0-beta", ">=1.0.0 <=2.0.0-beta"},
		{"1 - 2", ">=1.0.0 <3.0.0-0"},
		{"1.0 - 2.0", ">=1.0.0 <2.1.0-0"},
		{"1.2.3 - *", ">=1.2.3"},
		{"* - 1.2.3", "<=1.2.3"},
		{"1.0.0", "1.0.0"},
		{"=1.0.0", "1.0.0"},
		{"v1.0.0", "1.0.0"},
		{">=*", "*"},
		{"", "*"},
		{"*", "*"},
		{"x", "*"},
		{"X.x.*", "*"},
		{">=1.0.0", ">=1.0.0"},
		{">1.0.0", ">1.0.0"},
		{"<=2.0.0", "<=2.0.0"},
		{"<2.0.0", "<2.0.0"},
		{">= 1.0.0", ">=1.0.0"},
		{">=  1.0.0", ">=1.0.0"},
		{"> 1.0.0", ">1.0.0"},
		{"<\t2.0.0", "<2.0.0"},
		{"0.1.20 || 1.2.4", "0.1.20||1.2.4"},
		{">=0.2.3 || <0.0.1", ">=0.2.3||<0.0.1"},
		{"||", "*"},
		{"2.x.x", ">=2.0.0 <3.0.0-0"},
		{"1.2.x", ">=1.2.0 <1.3.0-0"},
		{"1.2.x || 2.x", ">=1.2.0 <1.3.0-0||>=2.0.0 <3.0.0-0"},
		{"2", ">=2.0.0 <3.0.0-0"},
		{"2.3", ">=2.3.0 <2.4.0-0"},
		{"~2.4", ">=2.4.0 <2.5.0-0"},
		{"~>3.2.1", ">=3.2.1 <3.3.0-0"},
		{"~1", ">=1.0.0 <2.0.0-0"},
		{"~>1", ">=1.0.0 <2.0.0-0"},
		{"~> 1", ">=1.0.0 <2.0.0-0"},
		{"~1.0", ">=1.0.0 <1.1.0-0"},
		{"~ 1.0", ">=1.0.0 <1.1.0-0"},
		{"~1.2.3-beta.2", ">=1.2.3-beta.2 <1.3.0-0"},
		{"^0", "<1.0.0-0"},
		{"^ 1", ">=1.0.0 <2.0.0-0"},
		{"^0.1", ">=0.1.0 <0.2.0-0"},
		{"^1.0", ">=1.0.0 <2.0.0-0"},
		{"^1.2", ">=1.2.0 <2.0.0-0"},
		{"^0.0.1", ">=0.0.1 <0.0.2-0"},
		{"^0.0.1-beta", ">=0.0.1-beta <0.0.2-0"},
		{"^0.1.2", ">=0.1.2 <0.2.0-0"},
		{"^1.2.3", ">=1.2.3 <2.0.0-0"},
		{"^1.2.3-beta.4", ">=1.2.3-beta.4 <2.0.0-0"},
		{"^0.1.2-beta", ">=0.1.2-beta <0.2.0-0"},
		{"^*", "*"},
		{"<1", "<1.0.0-0"},
		{"< 1", "<1.0.0-0"},
		{">=1", ">=1.0.0"},
		{">= 1", ">=1.0.0"},
		{"<1.2", "<1.2.0-0"},
		{"< 1.2", "<1.2.0-0"},
		{">1", ">=2.0.0"},
		{">1.2", ">=1.3.0"},
		{"<=1.2", "<1.3.0-0"},
		{"<=1", "<2.0.0-0"},
		{">*", "<0.0.0-0"},
		{"<*", "<0.0.0-0"},
		{">=0.0.0", "*"},
		{">=1.0.0 <2", ">=1.0.0 <2.0.0-0"},
		{">=3.0.0 <4", ">=3.0.0 <4.0.0-0"},
		{"1.2.3 >=1.2.3", "1.2.3 >=1.2.3"},
		{">1 >1", ">=2.0.0"},
		{"^1.2.3+build", ">=1.2.3 <2.0.0-0"},
		{"1.2.3+build", "1.2.3"},
		{"<0.0.0-0 || 1.0.0", "1.0.0"},
		{"<0.0.0-0 || <0.0.0-0", "<0.0.0-0"},
		{"1.x || *", "*"},
		{"blerg", ""},
		{"git+https://user:password0123@github.com/foo", ""},
		{">=>1.0.0", ""},
		{"1.2.3.4", ""},
		{"^1.2.3 garbage", ""},
		{"a || 1.0.0", ""},
		{"~1.2.3 - 2", ""},
		{">01.0.0", ""},
	}
	for _, tt := range tests {
		got, ok := ValidRange(tt.in)
		if tt.want == "" {
			if ok {
				t.Errorf("ValidRange(%q) = %q, want invalid", tt.in, got)
			}
			continue
		}
		if !ok || got != tt.want {
			t.Errorf("ValidRange(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
}

func TestSatisfies(t *testing.T) {
	include := [][2]string{
		{"1.0.0 - 2.0.0", "1.2.3"},
		{"^1.2.3+build", "1.2.3"},
		{"^1.2.3+build", "1.3.0"},
		{"1.2.3-pre+asdf - 2.4.3-pre+asdf", "1.2.3"},
		{"1.2.3-pre+asdf - 2.4.3-pre+asdf", "1.2.3-pre.2"},
		{"1.2.3-pre+asdf - 2.4.3-pre+asdf", "2.4.3-alpha"},
		{"1.2.3+asdf - 2.4.3+asdf", "1.2.3"},
		{"1.0.0", "1.0.0"},
		{">=*", "0.2.4"},
		{"", "1.0.0"},
		{"*", "1.2.3"},
		{">=1.0.0", "1.0.0"},
		{">=1.0.0", "1.0.1"},
		{">=1.0.0", "1.1.0"},
		{">1.0.0", "1.0.1"},
		{"<=2.0.0", "2.0.0"},
		{"<=2.0.0", "1.9999.9999"},
		{"<=2.0.0", "0.2.9"},
		{"<2.0.0", "1.9999.9999"},
		{">= 1.0.0", "1.0.0"},
		{"< 2.0.0", "0.2.9"},
		{"0.1.20 || 1.2.4", "1.2.4"},
		{">=0.2.3 || <0.0.1", "0.0.0"},
		{">=0.2.3 || <0.0.1", "0.2.3"},
		{">=0.2.3 || <0.0.1", "0.2.4"},
		{"||", "1.3.4"},
		{"2.x.x", "2.1.3"},
		{"1.2.x", "1.2.3"},
		{"1.2.x || 2.x", "2.1.3"},
		{"1.2.x || 2.x", "1.2.3"},
		{"x", "1.2.3"},
		{"2.*.*", "2.1.3"},
		{"2", "2.1.2"},
		{"2.3", "2.3.1"},
		{"~0.0.1", "0.0.1"},
		{"~0.0.1", "0.0.2"},
		{"~x", "0.0.9"},
		{"~2", "2.0.9"},
		{"~2.4", "2.4.0"},
		{"~2.4", "2.4.5"},
		{"~>3.2.1", "3.2.2"},
		{"~1", "1.2.3"},
		{"~>1", "1.2.3"},
		{"~> 1", "1.2.3"},
		{"~1.0", "1.0.2"},
		{"~ 1.0", "1.0.2"},
		{"~ 1.0.3", "1.0.12"},
		{">=1", "1.0.0"},
		{">= 1", "1.0.0"},
		{"<1.2", "1.1.1"},
		{"< 1.2", "1.1.1"},
		{"~v0.5.4-pre", "0.5.5"},
		{"~v0.5.4-pre", "0.5.4"},
		{"=0.7.x", "0.7.2"},
		{"<=0.7.x", "0.7.2"},
		{">=0.7.x", "0.7.2"},
		{"<=0.7.x", "0.6.2"},
		{"~1.2.1 >=1.2.3", "1.2.3"},
		{"~1.2.1 =1.2.3", "1.2.3"},
		{"~1.2.1 1.2.3", "1.2.3"},
		{"~1.2.1 >=1.2.3 1.2.3", "1.2.3"},
		{"~1.2.1 1.2.3 >=1.2.3", "1.2.3"},
		{">=1.2.1 1.2.3", "1.2.3"},
		{"1.2.3 >=1.2.1", "1.2.3"},
		{">=1.2.3 >=1.2.1", "1.2.3"},
		{">=1.2.1 >=1.2.3", "1.2.3"},
		{">=1.2", "1.2.8"},
		{"^1.2.3", "1.8.1"},
		{"^0.1.2", "0.1.2"},
		{"^0.1", "0.1.2"},
		{"^0.0.1", "0.0.1"},
		{"^1.2", "1.4.2"},
		{"^1.2 ^1", "1.4.2"},
		{"^1.2.3-alpha", "1.2.3-pre"},
		{"^1.2.0-alpha", "1.2.0-pre"},
		{"^0.0.1-alpha", "0.0.1-beta"},
		{"^0.0.1-alpha", "0.0.1"},
		{"^0.1.1-alpha", "0.1.1-beta"},
		{"^x", "1.2.3"},
		{"x - 1.0.0", "0.9.7"},
		{"x - 1.x", "0.9.7"},
		{"1.0.0 - x", "1.9.7"},
		{"1.x - x", "1.9.7"},
		{"<=7.x", "7.9.9"},
		{"2.x", "2.0.0"},
		{"2.x", "2.9.9"},
		{">=3.0.0 <4", "3.9.0"},
		{"1.2.3-beta.1 || >=2.0.0", "1.2.3-beta.1"},
	}
	for _, p := range include {
		if !Satisfies(p[1], p[0]) {
			t.Errorf("Satisfies(%q, %q) = false, want true", p[1], p[0])
		}
	}
	exclude := [][2]string{
		{"1.0.0 - 2.0.0", "2.2.3"},
		{"1.2.3+asdf - 2.4.3+asdf", "1.2.3-pre.2"},
		{"1.2.3+asdf - 2.4.3+asdf", "2.4.3-alpha"},
		{"^1.2.3+build", "2.0.0"},
		{"^1.2.3+build", "1.2.0"},
		{"^1.2.3", "1.2.3-pre"},
		{"^1.2", "1.2.0-pre"},
		{">1.2", "1.3.0-beta"},
		{"<=1.2.3", "1.2.3-beta"},
		{"^1.2.3", "1.2.3-beta"},
		{"=0.7.x", "0.7.0-asdf"},
		{">=0.7.x", "0.7.0-asdf"},
		{"<=0.7.x", "0.7.0-asdf"},
		{"1", "1.0.0beta"},
		{"<1", "1.0.0beta"},
		{"< 1", "1.0.0beta"},
		{"1.0.0", "1.0.1"},
		{">=1.0.0", "0.0.0"},
		{">=1.0.0", "0.0.1"},
		{">=1.0.0", "0.1.0"},
		{">1.0.0", "0.0.1"},
		{">1.0.0", "0.1.0"},
		{"<=2.0.0", "3.0.0"},
		{"<=2.0.0", "2.9999.9999"},
		{"<=2.0.0", "2.2.9"},
		{"<2.0.0", "2.9999.9999"},
		{"<2.0.0", "2.2.9"},
		{">=0.1.97", "v0.1.93"},
		{">=0.1.97", "0.1.93"},
		{"0.1.20 || 1.2.4", "1.2.3"},
		{">=0.2.3 || <0.0.1", "0.0.3"},
		{">=0.2.3 || <0.0.1", "0.2.2"},
		{"2.x.x", "1.1.3"},
		{"2.x.x", "3.1.3"},
		{"1.2.x", "1.3.3"},
		{"1.2.x || 2.x", "3.1.3"},
		{"1.2.x || 2.x", "1.1.3"},
		{"2.*.*", "1.1.3"},
		{"2.*.*", "3.1.3"},
		{"1.2.*", "1.3.3"},
		{"2", "1.1.2"},
		{"2.3", "2.4.1"},
		{"~0.0.1", "0.1.0-alpha"},
		{"~0.0.1", "0.1.0"},
		{"~2.4", "2.5.0"},
		{"~2.4", "2.3.9"},
		{"~>3.2.1", "3.3.2"},
		{"~>3.2.1", "3.2.0"},
		{"~1", "0.2.3"},
		{"~>1", "2.2.3"},
		{"~1.0", "1.1.0"},
		{"<1", "1.0.0"},
		{">=1.2", "1.1.1"},
		{"~v0.5.4-beta", "0.5.4-alpha"},
		{"=0.7.x", "0.8.2"},
		{">=0.7.x", "0.6.2"},
		{"<0.7.x", "0.7.2"},
		{"<1.2.3", "1.2.3-beta"},
		{"=1.2.3", "1.2.3-beta"},
		{">1.2", "1.2.8"},
		{"^0.0.1", "0.0.2-alpha"},
		{"^0.0.1", "0.0.2"},
		{"^1.2.3", "2.0.0-alpha"},
		{"^1.2.3", "1.2.2"},
		{"^1.2", "1.1.9"},
		{"*", "v1.2.3-foo"},
		{"*", "1.0.0-beta"},
		{"", "1.0.0-rc.1"},
		{"x", "1.0.0-rc.1"},
		{"^1.0.0", "1.1.0-beta.1"},
		{"~1.2.3-beta.2", "1.2.4-beta.3"},
		{">=1.0.0-beta <2", "1.5.0-beta"},
		{"^0.1.1-alpha", "0.1.2-beta"},
		{"blerg", "1.2.3"},
		{"^1.2.3", "not-a-version"},
		{">*", "0.0.0"},
		{"<0.0.0-0", "0.0.0-0"},
		{">=3.0.0 <4", "4.0.0-0"},
	}
	for _, p := range exclude {
		if Satisfies(p[1], p[0]) {
			t.Errorf("Satisfies(%q, %q) = true, want false", p[1], p[0])
		}
	}
}

func TestMaxSatisfying(t *testing.T) {
	tests := []struct {
		versions []string
		rng      string
		want     string
	}{
		{[]string{"1.2.3", "1.2.4"}, "1.2", "1.2.4"},
		{[]string{"1.2.4", "1.2.3"}, "1.2", "1.2.4"},
		{[]string{"1.2.3", "1.2.4", "1.2.5", "1.2.6"}, "~1.2.3", "1.2.6"},
		{[]string{"1.1.0", "1.2.0", "1.2.1", "1.3.0", "2.0.0b1", "2.0.0b2", "2.0.0b3", "2.0.0", "2.1.0"}, "~2.0.0", "2.0.0"},
		{[]string{"1.0.0", "1.1.0-beta.1", "1.0.5"}, "^1.0.0", "1.0.5"},
		{[]string{"1.0.0-beta.1", "1.0.0-beta.2"}, "^1.0.0-beta.1", "1.0.0-beta.2"},
		{[]string{"1.0.0-beta.1", "1.0.0-beta.2", "1.0.0"}, "^1.0.0-beta.1", "1.0.0"},
		{[]string{"v1.0.0", "1.0.1"}, "*", "1.0.1"},
		{[]string{"1.0.0", "2.0.0"}, "^3", ""},
		{[]string{"1.0.0"}, "not a range", ""},
	}
	for _, tt := range tests {
		got, ok := MaxSatisfying(tt.versions, tt.rng)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("MaxSatisfying(%v, %q) = %q, %v; want %q", tt.versions, tt.rng, got, ok, tt.want)
		}
	}
}

func TestPlanCreateVersion(t *testing.T) {
	tests := []struct {
		name      string
		existing  []string
		candidate string
		want      Outcome
	}{
		{"first version", nil, "1.0.0", OutcomeInsert},
		{"higher patch", []string{"1.0.0"}, "1.0.1", OutcomeInsert},
		{"exact duplicate is idempotent", []string{"1.0.0", "1.1.0"}, "1.0.0", OutcomeExists},
		{"lower than highest", []string{"1.0.0", "2.0.0"}, "1.5.0", OutcomeVersionNotHigher},
		{"prerelease of the highest is lower", []string{"1.0.0"}, "1.0.0-beta.1", OutcomeVersionNotHigher},
		{"prerelease above the highest", []string{"1.0.0"}, "1.0.1-beta.1", OutcomeInsert},
		{"release after its prerelease", []string{"1.0.1-beta.1"}, "1.0.1", OutcomeInsert},
		{"same precedence, other build", []string{"1.0.0+a"}, "1.0.0+b", OutcomeVersionNotHigher},
		{"invalid candidate", []string{"1.0.0"}, "1.0", OutcomeVersionInvalid},
		{"invalid existing ignored", []string{"garbage", "0.9.0"}, "1.0.0", OutcomeInsert},
		{"numeric order, not string order", []string{"1.9.0"}, "1.10.0", OutcomeInsert},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PlanCreateVersion(tt.existing, tt.candidate)
			if got != tt.want {
				t.Fatalf("outcome = %q, want %q (err %v)", got, tt.want, err)
			}
			var pe *PolicyError
			wantErr := tt.want == OutcomeVersionInvalid || tt.want == OutcomeVersionNotHigher
			if wantErr != errors.As(err, &pe) || (wantErr && pe.Code != tt.want) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestShouldMoveLatest(t *testing.T) {
	tests := []struct {
		current, candidate string
		want               bool
	}{
		{"", "1.0.0", true},
		{"", "1.0.0-beta", false},
		{"1.0.0", "1.0.1", true},
		{"1.0.0", "1.0.0", true},
		{"2.0.0", "1.5.0", false},
		{"1.0.0", "2.0.0-rc.1", false},
		{"1.0.0", "not-valid", false},
	}
	for _, tt := range tests {
		if got := ShouldMoveLatest(tt.current, tt.candidate); got != tt.want {
			t.Errorf("ShouldMoveLatest(%q, %q) = %v", tt.current, tt.candidate, got)
		}
	}
}

func TestDistTags(t *testing.T) {
	for _, ok := range []string{"latest", "beta", "next", "v2", "rc.1", "canary_build-x"} {
		if !ValidDistTag(ok) {
			t.Errorf("ValidDistTag(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", "Beta", "1beta", "-x", "be ta", "tag/x", "été"} {
		if ValidDistTag(bad) {
			t.Errorf("ValidDistTag(%q) = true", bad)
		}
	}
	if !IsProtectedTag("latest") || IsProtectedTag("beta") {
		t.Error("only latest is protected")
	}
}

func TestResolveQuery(t *testing.T) {
	versions := []VersionInfo{
		{Version: "1.0.0"}, {Version: "1.1.0"}, {Version: "1.2.0", Yanked: true},
		{Version: "2.0.0-beta.1"}, {Version: "2.0.0"}, {Version: "3.0.0", Yanked: true},
	}
	tags := map[string]string{"latest": "2.0.0", "old": "1.2.0", "next": "2.0.0-beta.1", "ghost": "9.9.9"}
	tests := []struct {
		query, want string
	}{
		{"1.2.0", "1.2.0"},         // exact, yanked included
		{"3.0.0", "3.0.0"},         // exact, yanked included
		{"latest", "2.0.0"},        // tag
		{"next", "2.0.0-beta.1"},   // tag to a prerelease
		{"old", ""},                // tag to a yanked version: no fallback
		{"ghost", ""},              // tag to a missing version
		{"^1.0.0", "1.1.0"},        // range skips the yanked 1.2.0
		{"*", "2.0.0"},             // range skips yanked 3.0.0 and prereleases
		{">=3", ""},                // only a yanked match
		{"^2.0.0-beta.0", "2.0.0"}, // prerelease comparator on the same tuple
		{"9.9.9", ""},              // exact but absent
		{"no such tag", ""},
	}
	for _, tt := range tests {
		got, ok := ResolveQuery(tt.query, versions, tags)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("ResolveQuery(%q) = %q, %v; want %q", tt.query, got, ok, tt.want)
		}
	}
}

func TestRepointTags(t *testing.T) {
	tags := map[string]string{"latest": "2.0.0", "stable": "2.0.0", "beta": "3.0.0-beta.1"}
	remaining := []VersionInfo{{Version: "1.0.0"}, {Version: "1.5.0", Yanked: true}, {Version: "1.1.0"}, {Version: "3.0.0-beta.1"}}
	got := RepointTags(tags, "2.0.0", remaining)
	if len(got) != 2 || got["latest"] != "1.1.0" || got["stable"] != "1.1.0" {
		t.Fatalf("RepointTags = %v", got)
	}
	got = RepointTags(map[string]string{"latest": "1.0.0"}, "1.0.0", []VersionInfo{{Version: "2.0.0-rc.1"}})
	if v, ok := got["latest"]; !ok || v != "" {
		t.Fatalf("a tag with no candidate must be removed: %v", got)
	}
}

func TestBumpPatchAndCaret(t *testing.T) {
	tests := map[string]string{"1.2.3": "1.2.4", "1.2.3-beta.1": "1.2.3", "0.0.0": "0.0.1", "v1.0.9+b": "1.0.10"}
	for in, want := range tests {
		if got, err := BumpPatch(in); err != nil || got != want {
			t.Errorf("BumpPatch(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := BumpPatch("x"); err == nil {
		t.Error("BumpPatch of an invalid version must fail")
	}
	if CaretRange("1.2.3") != "^1.2.3" {
		t.Error("CaretRange")
	}
}
