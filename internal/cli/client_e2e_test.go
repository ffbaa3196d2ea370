package cli

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/cli/profile"
	"github.com/appstrate/appstrate-go/internal/oidc/oidctest"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/store/storetest"
)

// TestCLIWalkAgainstTheRealServer is the acceptance walk of issue 9 against the real platform (device flow,
// JWT strategy, refresh rotation with reuse detection) on both dialects: login with the file fallback of a
// headless machine, whoami, token, org/app, api, openapi, then a replayed refresh token revokes the family
// and the next command asks to log in again; logout wipes everything.
func TestCLIWalkAgainstTheRealServer(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		c := newCLIEnv(t, db)
		userID := c.signIn("ada@example.com")
		orgID, appID := c.e.SeedOrg(userID, "acme")

		// login: device code shown, approved in the browser on the second poll, org and app pinned.
		out, errOut := c.mustRun(0, "login", "--instance", c.url+"/", "--device-name", "ada-laptop")
		for _, want := range []string{"  Visit: " + c.url + "/activate\n", "  Code:  ",
			`Logged in as ada@example.com to "acme" (` + orgID + `) / app "Default" (` + appID + ")\n"} {
			if !strings.Contains(out, want) {
				t.Fatalf("login stdout lacks %q:\n%s", want, out)
			}
		}
		if n := strings.Count(errOut, "[appstrate] OS keyring"); n != 1 || !strings.Contains(errOut, "credentials.json (0600)") {
			t.Fatalf("want one keyring fallback warning, stderr:\n%s", errOut)
		}
		if sleeps := c.clock.sleeps; len(sleeps) != 2 || sleeps[0] != 2*time.Second {
			t.Fatalf("polls slept %v; want the server's 2 s interval before each of two polls", sleeps)
		}
		polls := c.seen.find("POST", "/api/auth/cli/token")
		if len(polls) != 2 || polls[1].Header.Get("X-Appstrate-Device-Name") != "ada-laptop" ||
			!strings.HasPrefix(polls[1].Header.Get("User-Agent"), "appstrate-cli/") {
			t.Fatalf("token polls: %d, headers %v", len(polls), polls[len(polls)-1].Header)
		}

		// The files, as an upstream install writes them.
		wantConfig := "defaultProfile = \"default\"\n\n[profile.default]\ninstance = \"" + c.url + "\"\nuserId = \"" + userID +
			"\"\nemail = \"ada@example.com\"\norgId = \"" + orgID + "\"\napplicationId = \"" + appID + "\"\n"
		if got := c.readFile("config.toml"); got != wantConfig {
			t.Fatalf("config.toml =\n%s\nwant\n%s", got, wantConfig)
		}
		for name, mode := range map[string]os.FileMode{"": 0o700, "config.toml": 0o600, "credentials.json": 0o600} {
			fi, err := os.Stat(filepath.Join(c.configDir(), name))
			if err != nil || fi.Mode().Perm() != mode {
				t.Fatalf("%s: mode %v, want %v (%v)", name, fi.Mode().Perm(), mode, err)
			}
		}
		var creds map[string]map[string]any
		if err := json.Unmarshal([]byte(c.readFile("credentials.json")), &creds); err != nil || len(creds["default"]) != 4 {
			t.Fatalf("credentials.json: %v %v", creds, err)
		}
		first := c.storedTokens("default")

		// whoami asks the server.
		out, _ = c.mustRun(0, "whoami")
		want := "Profile:  default\nInstance: " + c.url + "\nUser:     ada@example.com\nName:     ada@example.com\nOrg:      acme (" + orgID + ")\n"
		if out != want {
			t.Fatalf("whoami =\n%s\nwant\n%s", out, want)
		}
		if r := c.seen.find("GET", "/api/profile"); len(r) != 1 || r[0].Header.Get("Authorization") != "Bearer "+first.AccessToken ||
			r[0].Header.Get("X-Org-Id") != orgID || r[0].Header.Get("X-Application-Id") != appID {
			t.Fatalf("whoami request headers: %v", r[0].Header)
		}

		// token: local, never prints a token.
		out, _ = c.mustRun(0, "token")
		for _, want := range []string{"Profile:            default\n", "  Status:           fresh\n", "  Status:           valid\n",
			"  azp:              appstrate-cli\n", "  sub:              " + userID + "\n", "  actor_type:       user\n"} {
			if !strings.Contains(out, want) {
				t.Fatalf("token lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, first.AccessToken) || strings.Contains(out, first.RefreshToken) {
			t.Fatal("token printed a token")
		}

		// org and app.
		out, _ = c.mustRun(0, "org", "list")
		if want := "* " + padRight("acme", 24) + "  " + orgID + "  acme\n"; out != want {
			t.Fatalf("org list = %q, want %q", out, want)
		}
		if out, _ = c.mustRun(0, "org", "current"); out != orgID+"\n" {
			t.Fatalf("org current = %q", out)
		}
		if out, _ = c.mustRun(0, "app", "current"); out != appID+"\n" {
			t.Fatalf("app current = %q", out)
		}
		out, _ = c.mustRun(0, "app", "list")
		if want := "* " + padRight("Default", 24) + "  " + appID + " [default]\n"; out != want {
			t.Fatalf("app list = %q, want %q", out, want)
		}

		// api: the pinned headers, curl output and exit codes.
		out, _ = c.mustRun(0, "api", "GET", "/api/agents")
		var list struct {
			Object string `json:"object"`
		}
		if err := json.Unmarshal([]byte(out), &list); err != nil || list.Object != "list" {
			t.Fatalf("api GET /api/agents = %q (%v)", out, err)
		}
		out, _ = c.mustRun(0, "api", "-s", "-o", filepath.Join(c.home, "agents.json"), "-w", `%{http_code}\n`, "/api/agents")
		if out != "200\n" {
			t.Fatalf("-w = %q", out)
		}
		_, errOut = c.mustRun(22, "api", "-f", "/api/no-such-route")
		if !strings.Contains(errOut, "The requested URL returned error: 404") {
			t.Fatalf("api -f stderr = %q", errOut)
		}
		if _, errOut = c.mustRun(2, "api", "https://evil.example/api/agents"); !strings.Contains(errOut, "refusing to send bearer to foreign host") {
			t.Fatalf("foreign host stderr = %q", errOut)
		}

		// openapi: fetched once per call; with an ETag the second call is revalidated with If-None-Match.
		out1, _ := c.mustRun(0, "openapi", "list", "--path", "/api/orgs")
		out2, _ := c.mustRun(0, "openapi", "list", "--path", "/api/orgs")
		if out1 != out2 || !strings.Contains(out1, "GET    /api/orgs") {
			t.Fatalf("openapi list:\n%s\n%s", out1, out2)
		}
		fetches := c.seen.find("GET", "/api/openapi.json")
		if len(fetches) != 2 {
			t.Fatalf("openapi fetches: %d", len(fetches))
		}
		cacheDoc := filepath.Join(c.home, "cache", "appstrate", "openapi-default.json")
		if fi, err := os.Stat(cacheDoc); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("openapi cache: %v", err)
		}
		// The server sends a strong ETag, so the second call revalidates (and is answered 304 from the cache).
		if _, err := os.Stat(filepath.Join(c.home, "cache", "appstrate", "openapi-default.etag")); err != nil ||
			fetches[1].Header.Get("If-None-Match") == "" {
			t.Fatalf("the ETag was not cached or not sent back: %v", err)
		}

		// Other commands against routes that exist or not: clean errors either way.
		c.mustRun(0, "connections", "profile", "list")
		if code, _, errOut := c.run("", "models", "list"); code != 0 && !strings.Contains(errOut, "API error (") {
			t.Fatalf("models list: exit %d, stderr %q", code, errOut)
		}

		// Force a proactive refresh: the stored access token is about to expire.
		expiring := *first
		expiring.ExpiresAt = time.Now().Add(10 * time.Second).UnixMilli()
		if err := (&profile.Store{Dir: c.configDir()}).Save("default", expiring); err != nil {
			t.Fatal(err)
		}
		c.mustRun(0, "whoami")
		second := c.storedTokens("default")
		if second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken {
			t.Fatal("whoami did not rotate an expiring token")
		}

		// Replaying the first refresh token revokes the family; the next command asks to log in again.
		cli := oidctest.NewClient(c.e)
		if tok := cli.Refresh(first.RefreshToken); tok.Error != "invalid_grant" {
			t.Fatalf("replay: %+v", tok)
		}
		_, errOut = c.mustRun(1, "whoami")
		if !strings.Contains(errOut, `Session for profile "default" is no longer valid (invalid_grant). Run: appstrate login --profile default`) {
			t.Fatalf("whoami after reuse: %q", errOut)
		}
		if c.storedTokens("default") != nil {
			t.Fatal("tokens kept after invalid_grant")
		}
		if got := c.readFile("config.toml"); got != wantConfig {
			t.Fatalf("profile lost after invalid_grant:\n%s", got)
		}
		c.mustRun(1, "token")

		// Log in again (same user: pins kept), then log out: revoked server-side, nothing left locally.
		c.mustRun(0, "login", "--instance", c.url)
		third := c.storedTokens("default")
		out, errOut = c.mustRun(0, "logout", "--all")
		if out != "Signed out of \"default\".\n" {
			t.Fatalf("logout = %q", out)
		}
		// revoke-all serves dashboard sessions only: a warning, not a failure, and no refresh is spent on it.
		if errOut != "" && !strings.Contains(errOut, "warning: could not revoke every CLI session server-side") {
			t.Fatalf("logout --all stderr: %q", errOut)
		}
		if tok := cli.Refresh(third.RefreshToken); tok.Error != "invalid_grant" {
			t.Fatalf("refresh after logout: %+v", tok)
		}
		if got := c.readFile("config.toml"); got != "defaultProfile = \"default\"\n\n[profile]\n" {
			t.Fatalf("config after logout = %q", got)
		}
		if _, err := os.Stat(filepath.Join(c.configDir(), "credentials.json")); !os.IsNotExist(err) {
			t.Fatalf("credentials.json left behind: %v", err)
		}
		if out, _ = c.mustRun(0, "logout"); out != "Already signed out.\n" {
			t.Fatalf("second logout = %q", out)
		}
		_, errOut = c.mustRun(1, "whoami")
		if !strings.Contains(errOut, `Profile "default" not configured. Run: appstrate login --profile default`) {
			t.Fatalf("whoami when signed out: %q", errOut)
		}
	})
}

func padRight(s string, n int) string { return s + strings.Repeat(" ", max(0, n-len(s))) }

// TestLoginPinningCascade covers the org and app choices of CLI.md A4 steps 7–8 against the real routes.
func TestLoginPinningCascade(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		c := newCLIEnv(t, db)
		userID := c.signIn("bob@example.com")
		acme, acmeApp := c.e.SeedOrg(userID, "acme")
		beta, _ := c.e.SeedOrg(userID, "beta")
		other := c.e.SeedApp(acme, "Other")

		// Two orgs and no TTY: a hint, nothing pinned; login still succeeds.
		out, errOut := c.mustRun(0, "login", "--instance", c.url, "-p", "work")
		if !strings.Contains(errOut, "Multiple organizations — pass --org") || !strings.Contains(out, "No organization pinned") {
			t.Fatalf("stdout %q stderr %q", out, errOut)
		}
		cfg, _ := profile.LoadConfig(c.configDir())
		if p, _ := cfg.Profile("work"); p.OrgID != "" || cfg.DefaultProfile != "work" {
			t.Fatalf("%+v default %q", p, cfg.DefaultProfile)
		}

		// --org by slug, then the default app of two.
		out, _ = c.mustRun(0, "login", "--instance", c.url, "--profile", "work", "--org", "acme")
		if !strings.Contains(out, `to "acme" (`+acme+`) / app "Default" (`+acmeApp+`)`) {
			t.Fatalf("%q", out)
		}
		// --app picks another one; an unknown --org fails and lists the choices.
		out, _ = c.mustRun(0, "login", "--instance", c.url, "--org", acme, "--app", other)
		if !strings.Contains(out, `/ app "Other" (`+other+`)`) {
			t.Fatalf("%q", out)
		}
		if _, errOut = c.mustRun(1, "login", "--instance", c.url, "--org", "nope"); !strings.Contains(errOut, "acme ("+acme+")") ||
			!strings.Contains(errOut, "beta ("+beta+")") {
			t.Fatalf("%q", errOut)
		}
		// --create-org creates and pins it with its default app; --no-app leaves the app unpinned.
		out, _ = c.mustRun(0, "login", "--instance", c.url, "--create-org", "Gamma Corp", "--no-app")
		if !strings.Contains(out, `to "Gamma Corp"`) || strings.Contains(out, "/ app") {
			t.Fatalf("%q", out)
		}
		if code, _, _ := c.run("", "app", "current"); code != 1 {
			t.Fatal("app pinned with --no-app")
		}
		// org switch re-pins the default app; --no-org clears both pins.
		out, _ = c.mustRun(0, "org", "switch", "beta")
		if !strings.Contains(out, `Pinned "beta" (`+beta+`) / app "Default"`) {
			t.Fatalf("%q", out)
		}
		// --no-org skips the cascade: the pins of the same user stay.
		out, _ = c.mustRun(0, "login", "--instance", c.url, "--no-org")
		if !strings.Contains(out, "No organization pinned") {
			t.Fatalf("%q", out)
		}
		if out, _ := c.mustRun(0, "org", "current"); out != beta+"\n" {
			t.Fatalf("org current after --no-org: %q", out)
		}
		// Two profiles side by side; -p selects, before or after the subcommand.
		c.mustRun(0, "login", "--instance", c.url, "-p", "second", "--org", "beta")
		if out, _ := c.mustRun(0, "-p", "second", "org", "current"); out != beta+"\n" {
			t.Fatalf("%q", out)
		}
		c.env["APPSTRATE_PROFILE"] = "second"
		if out, _ := c.mustRun(0, "org", "current"); out != beta+"\n" {
			t.Fatalf("APPSTRATE_PROFILE: %q", out)
		}
		// A new user on the profile drops the pins of the previous one.
		c.signIn("carol@example.com")
		c.mustRun(0, "login", "--instance", c.url, "--no-org", "-p", "work")
		if code, _, errOut := c.run("", "org", "current", "-p", "work"); code != 1 || !strings.Contains(errOut, "No organization pinned") {
			t.Fatalf("org current after another user's login: %d %q", code, errOut)
		}
	})
}

// TestLoginDeniedAndLogoutOffline: a denied code is a clean error; logout wipes local state even when the
// instance is down.
func TestLoginDeniedAndLogoutOffline(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		c := newCLIEnv(t, db)
		c.signIn("eve@example.com")
		c.approve = false
		_, errOut := c.mustRun(1, "login", "--instance", c.url)
		if !strings.Contains(errOut, "(access_denied)") {
			t.Fatalf("%q", errOut)
		}
		if _, err := os.Stat(filepath.Join(c.configDir(), "credentials.json")); !os.IsNotExist(err) {
			t.Fatal("tokens stored after a denial")
		}
		c.approve = true
		c.mustRun(0, "login", "--instance", c.url, "--no-org")
		c.srv.Close()
		out, errOut := c.mustRun(0, "logout", "--all")
		if out != "Signed out of \"default\".\n" || !strings.Contains(errOut, "warning: could not revoke refresh token server-side") {
			t.Fatalf("stdout %q stderr %q", out, errOut)
		}
		if got := c.readFile("config.toml"); got != "defaultProfile = \"default\"\n\n[profile]\n" {
			t.Fatalf("%q", got)
		}
	})
}

// TestLoginInstancePolicy: http:// only for loopback unless --insecure; a verification URI on another
// origin is refused with the reason.
func TestLoginInstancePolicy(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		c := newCLIEnv(t, db)
		if _, errOut := c.mustRun(1, "login", "--instance", "http://example.com"); !strings.Contains(errOut, "Refusing to send credentials to a non-HTTPS, non-loopback instance") {
			t.Fatalf("%q", errOut)
		}
		if _, errOut := c.mustRun(1, "login", "--instance", "ftp://x"); !strings.Contains(errOut, "Unsupported instance URL protocol: ftp:") {
			t.Fatalf("%q", errOut)
		}
		if _, errOut := c.mustRun(1, "login"); !strings.Contains(errOut, `Cannot prompt "Instance URL": stdin is not a TTY`) {
			t.Fatalf("%q", errOut)
		}
		u, _ := url.Parse(c.url)
		other := "http://localhost:" + u.Port() // the server answers with 127.0.0.1
		_, errOut := c.mustRun(1, "login", "--instance", other)
		if !strings.Contains(errOut, "(invalid_request)") || !strings.Contains(errOut, "--instance "+c.url) {
			t.Fatalf("%q", errOut)
		}
		if r := c.seen.find("POST", "/api/auth/cli/token"); len(r) != 0 {
			t.Fatal("polled after a mismatched verification URI")
		}
		_ = http.StatusOK
	})
}
