package profile

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzProfileTOML feeds arbitrary text to the profile loader: it never panics, a file it accepts is written
// back byte for byte when nothing changed, and a rewrite after edits parses again with the edits applied and
// the other profiles unchanged.
func FuzzProfileTOML(f *testing.F) {
	for _, name := range []string{"config_two_logins.golden.toml", "config_all_logged_out.golden.toml", "config_hand_edited.toml"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	for _, s := range []string{"", "\n", "defaultProfile = 'x'", "[profile.\"a.b\"]\ninstance=\"i\"\nuserId=\"u\"\nemail=\"e\"",
		"a = [\n# c\n]\n", "x = \"\"\"\n\"\"\"", "[a]\r\n[b.c]\r\n", "a = {b = [1, {c = 'd'}]}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		c, err := ParseConfig([]byte(src))
		if err != nil {
			return
		}
		before := map[string]Profile{}
		for _, n := range c.Names() {
			before[n], _ = c.Profile(n)
		}
		hadDefault := c.hasDefault
		out := string(c.Bytes())
		if hadDefault && len(c.Names()) > 0 && out != src {
			// With a defaultProfile key and profiles, a no-op rewrite must not change a byte.
			t.Fatalf("no-op rewrite changed the file:\n%q\n%q", src, out)
		}
		c2, err := ParseConfig([]byte(out))
		if err != nil {
			t.Fatalf("rewrite does not parse: %v\n%q\n%q", err, src, out)
		}
		c2.SetProfile("fuzz", Profile{Instance: "http://127.0.0.1:1", UserID: "u", Email: "e", OrgID: "o"})
		var first string
		for _, n := range c2.Names() {
			if n != "fuzz" {
				first = n
				break
			}
		}
		if first != "" {
			p, _ := c2.Profile(first)
			p.ApplicationID = "app_fuzz"
			c2.SetProfile(first, p)
			before[first] = p
		}
		out2 := c2.Bytes()
		c3, err := ParseConfig(out2)
		if err != nil {
			t.Fatalf("edited rewrite does not parse: %v\n%q\n%q", err, src, out2)
		}
		if p, ok := c3.Profile("fuzz"); !ok || p.OrgID != "o" {
			t.Fatalf("new profile lost: %+v\n%q", p, out2)
		}
		for n, want := range before {
			if n == "fuzz" {
				continue
			}
			if got, _ := c3.Profile(n); !reflect.DeepEqual(got, want) {
				t.Fatalf("profile %q changed: %+v != %+v\n%q", n, got, want, out2)
			}
		}
		c3.DeleteProfile("fuzz")
		if _, err := ParseConfig(c3.Bytes()); err != nil {
			t.Fatalf("after delete: %v", err)
		}
	})
}
