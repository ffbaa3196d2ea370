package profile

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func golden(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestConfigFreshLoginsMatchUpstreamBytes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "appstrate")
	login := func(name string, p Profile) {
		t.Helper()
		if err := UpdateConfig(dir, func(c *Config) error { c.SetProfile(name, p); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	alice := Profile{Instance: "http://127.0.0.1:4599", UserID: "usr_alice", Email: "alice@example.com"}
	login("prod", alice) // the first login makes prod the default
	dev := alice
	dev.OrgID = "org_1"
	login("dev", dev)
	got, err := os.ReadFile(ConfigPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	if want := golden(t, "config_two_logins.golden.toml"); string(got) != want {
		t.Fatalf("config.toml =\n%s\nwant\n%s", got, want)
	}
	fi, _ := os.Stat(ConfigPath(dir))
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	if di, _ := os.Stat(dir); di.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %v", di.Mode())
	}

	// Logging out of both leaves defaultProfile = "default" and an empty [profile] table.
	for _, name := range []string{"dev", "prod"} {
		if err := UpdateConfig(dir, func(c *Config) error { c.DeleteProfile(name); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	got, _ = os.ReadFile(ConfigPath(dir))
	if want := golden(t, "config_all_logged_out.golden.toml"); string(got) != want {
		t.Fatalf("after logouts =\n%q\nwant\n%q", got, want)
	}
	// And logging in again gives the upstream layout back.
	login("prod", alice)
	got, _ = os.ReadFile(ConfigPath(dir))
	want := "defaultProfile = \"prod\"\n\n[profile.prod]\ninstance = \"http://127.0.0.1:4599\"\nuserId = \"usr_alice\"\nemail = \"alice@example.com\"\n"
	if string(got) != want {
		t.Fatalf("after re-login =\n%q\nwant\n%q", got, want)
	}
}

func TestConfigRules(t *testing.T) {
	two := golden(t, "config_two_logins.golden.toml")
	tests := []struct {
		name  string
		src   string
		edit  func(c *Config)
		check func(t *testing.T, c *Config, out string)
	}{
		{"missing file is an empty config with the default profile", "", nil, func(t *testing.T, c *Config, _ string) {
			if c.DefaultProfile != "default" || len(c.Names()) != 0 {
				t.Fatalf("%+v %v", c.DefaultProfile, c.Names())
			}
		}},
		{"profile missing instance, userId or email is ignored", "[profile.a]\ninstance = \"x\"\nuserId = \"u\"\n", nil, func(t *testing.T, c *Config, _ string) {
			if _, ok := c.Profile("a"); ok {
				t.Fatal("incomplete profile is usable")
			}
		}},
		{"deleting the default falls back to the first remaining profile", two, func(c *Config) { c.DeleteProfile("prod") }, func(t *testing.T, c *Config, out string) {
			if c.DefaultProfile != "dev" || strings.Contains(out, "profile.prod") {
				t.Fatalf("default %q\n%s", c.DefaultProfile, out)
			}
			if !strings.HasPrefix(out, "defaultProfile = \"dev\"\n\n[profile.dev]\n") || strings.HasSuffix(out, "\n\n") {
				t.Fatalf("%q", out)
			}
		}},
		{"deleting the last table leaves no trailing blank line", two, func(c *Config) { c.DeleteProfile("dev") }, func(t *testing.T, c *Config, out string) {
			if c.DefaultProfile != "prod" || strings.HasSuffix(out, "\n\n") || strings.Contains(out, "dev") {
				t.Fatalf("%q", out)
			}
		}},
		{"setProfile keeps a default that exists", two, func(c *Config) {
			c.SetProfile("ci", Profile{Instance: "https://x", UserID: "u", Email: "e"})
		}, func(t *testing.T, c *Config, out string) {
			if c.DefaultProfile != "prod" || !strings.HasSuffix(out, "orgId = \"org_1\"\n\n[profile.ci]\ninstance = \"https://x\"\nuserId = \"u\"\nemail = \"e\"\n") {
				t.Fatalf("%q", out)
			}
		}},
		{"clearing a pin removes its key", two, func(c *Config) {
			p, _ := c.Profile("dev")
			p.OrgID = ""
			c.SetProfile("dev", p)
		}, func(t *testing.T, c *Config, out string) {
			if strings.Contains(out, "orgId") {
				t.Fatalf("%q", out)
			}
		}},
		{"names needing quotes are quoted", "", func(c *Config) {
			c.SetProfile("my prof", Profile{Instance: "i", UserID: "u", Email: "quote\"and\\slash"})
		}, func(t *testing.T, c *Config, out string) {
			if !strings.Contains(out, "[profile.\"my prof\"]\n") || !strings.Contains(out, `email = "quote\"and\\slash"`) {
				t.Fatalf("%q", out)
			}
			if c.DefaultProfile != "my prof" {
				t.Fatal(c.DefaultProfile)
			}
		}},
		{"CRLF files are kept", "defaultProfile = \"a\"\r\n\r\n[profile.a]\r\ninstance = \"i\"\r\nuserId = \"u\"\r\nemail = \"e\"\r\n", func(c *Config) {
			p, _ := c.Profile("a")
			p.OrgID = "o"
			c.SetProfile("a", p)
		}, func(t *testing.T, c *Config, out string) {
			if !strings.HasPrefix(out, "defaultProfile = \"a\"\r\n\r\n[profile.a]\r\ninstance = \"i\"\r\n") || !strings.Contains(out, "orgId = \"o\"") {
				t.Fatalf("%q", out)
			}
		}},
		{"a file without a final newline gets one before a new key", "[profile.a]\ninstance = \"i\"\nuserId = \"u\"\nemail = \"e\"", func(c *Config) {
			p, _ := c.Profile("a")
			p.ApplicationID = "app_1"
			c.SetProfile("a", p)
		}, func(t *testing.T, c *Config, out string) {
			if !strings.Contains(out, "email = \"e\"\napplicationId = \"app_1\"\n") {
				t.Fatalf("%q", out)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			if tt.edit != nil {
				tt.edit(c)
			}
			out := string(c.Bytes())
			tt.check(t, c, out)
			if _, err := ParseConfig([]byte(out)); err != nil {
				t.Fatalf("rewritten file does not parse: %v\n%s", err, out)
			}
		})
	}
}

func TestConfigPreservesUnknownKeysAndComments(t *testing.T) {
	src := golden(t, "config_hand_edited.toml")
	c, err := ParseConfig([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if c.DefaultProfile != "prod" {
		t.Fatal(c.DefaultProfile)
	}
	if got, _ := c.Profile("odd name"); got.Instance != "http://localhost:3000" {
		t.Fatalf("%+v", got)
	}
	// Unchanged: byte for byte.
	if out := string(c.Bytes()); out != src {
		t.Fatalf("no-op rewrite changed the file:\n%s", out)
	}
	p, _ := c.Profile("prod")
	p.OrgID, p.ApplicationID = "org_new", "app_new"
	c.SetProfile("prod", p)
	c.SetProfile("new", Profile{Instance: "https://n", UserID: "u3", Email: "c@example.com"})
	out := string(c.Bytes())
	for _, keep := range []string{"# my appstrate settings\n", "defaultProfile = \"prod\" # the one I use\n", "theme = \"dark\"\n",
		"orgId = \"org_new\"   # pinned by hand\n", "futureKey = [\n  \"a\", # comment\n  \"b\",\n]\n", "notes = \"\"\"\nmulti\nline\"\"\"\n",
		"[profile.prod.extra]\nx = 1\n", "[plugins]\nenabled = { a = true, b = 1979-05-27T07:32:00Z }\n"} {
		if !strings.Contains(out, keep) {
			t.Fatalf("lost %q:\n%s", keep, out)
		}
	}
	if !strings.Contains(out, "line\"\"\"\napplicationId = \"app_new\"\n") {
		t.Fatalf("new key not after the last key of the table:\n%s", out)
	}
	// The new profile goes after the last profile table, before [plugins].
	if i, j := strings.Index(out, "[profile.new]"), strings.Index(out, "[plugins]"); i < 0 || i > j {
		t.Fatalf("new table misplaced:\n%s", out)
	}
	c2, err := ParseConfig([]byte(out))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !reflect.DeepEqual(c2.Names(), []string{"prod", "odd name", "new"}) {
		t.Fatal(c2.Names())
	}
	// Deleting prod removes its sub-table too.
	c2.DeleteProfile("prod")
	out = string(c2.Bytes())
	if strings.Contains(out, "profile.prod") || strings.Contains(out, "x = 1") || !strings.Contains(out, "theme = \"dark\"") {
		t.Fatalf("%s", out)
	}
	if c2.DefaultProfile != "odd name" {
		t.Fatal(c2.DefaultProfile)
	}
}

func TestConfigRejects(t *testing.T) {
	for name, src := range map[string]string{
		"syntax error":                     "defaultProfile = \n",
		"non-string default":               "defaultProfile = 1\n",
		"duplicate default":                "defaultProfile = \"a\"\ndefaultProfile = \"b\"\n",
		"non-string known key":             "[profile.a]\norgId = 5\n",
		"duplicate table":                  "[profile.a]\n[profile.a]\n",
		"profile as dotted key":            "profile.a.instance = \"x\"\n",
		"profile as inline table":          "[profile]\na = { instance = \"x\" }\n",
		"unterminated string":              "[profile.a]\ninstance = \"x\n",
		"garbage after value":              "defaultProfile = \"a\" b\n",
		"invalid escape":                   "defaultProfile = \"\\q\"\n",
		"invalid utf-8":                    "defaultProfile = \"\xff\"\n",
		"bare word":                        "x = yes\n",
		"array of profile tables":          "[[profile]]\n",
		"unterminated multi-line string":   "x = \"\"\"abc\n",
		"control character in comment":     "# \x01\n",
		"unclosed array":                   "x = [1, 2\n",
		"missing equals in inline table":   "x = { a }\n",
		"table header without closing bra": "[profile.a\n",
	} {
		if _, err := ParseConfig([]byte(src)); err == nil {
			t.Errorf("%s: accepted %q", name, src)
		}
	}
}

func TestTOMLValues(t *testing.T) {
	for src, want := range map[string]string{
		`a = "tab\there \u00e9 \U0001F600"`: "tab\there é 😀",
		`a = 'C:\path'`:                     `C:\path`,
		"a = '''\nraw\\n'''":                `raw\n`,
		"a = \"\"\"\\\n   folded\"\"\"":     "folded",
		`a = """two""""`:                    `two"`,
	} {
		doc, err := parseTOML(src + "\n")
		if err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		if e := doc.root[0]; !e.isString || e.str != want {
			t.Errorf("%q = %q, want %q", src, e.str, want)
		}
	}
	for _, src := range []string{"a = 1_000", "a = -0.5e3", "a = inf", "a = 0xDEAD", "a = 1979-05-27 07:32:00",
		"a = 07:32:00", "a = [[1], [\"x\"], {b = 2}]", "a.b.\"c\" = true", "a = []", "a = {}"} {
		if _, err := parseTOML(src + "\n"); err != nil {
			t.Errorf("%q: %v", src, err)
		}
	}
}
