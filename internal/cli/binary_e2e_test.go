package cli

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/oidc/oidctest"
	"github.com/appstrate/appstrate-go/internal/store/storetest"
)

// TestRealBinaryWalk builds cmd/appstrate and drives it as a user would: `login` runs in the background with
// the real clock (the server's 2 s interval), the displayed code is approved over HTTP by a signed-in
// browser, then whoami, token, org list, app current, api, openapi list twice and logout. No D-Bus here:
// the tokens go to credentials.json with the one-line warning.
func TestRealBinaryWalk(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	if runtime.GOOS == "windows" {
		t.Skip("the file fallback is not used on Windows")
	}
	bin := filepath.Join(t.TempDir(), "appstrate")
	build := exec.Command("go", "build", "-o", bin, "github.com/appstrate/appstrate-go/cmd/appstrate")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	c := newCLIEnv(t, storetest.SQLite(t))
	userID := c.signIn("ada@example.com")
	orgID, appID := c.e.SeedOrg(userID, "acme")
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + c.home, "XDG_CONFIG_HOME=" + c.env["XDG_CONFIG_HOME"],
		"XDG_CACHE_HOME=" + c.env["XDG_CACHE_HOME"], "APPSTRATE_CLI_NO_OPEN=1"}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	login := exec.CommandContext(ctx, bin, "login", "--instance", c.url)
	login.Env = env
	stdout, err := login.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	login.Stderr = &stderr
	if err := login.Start(); err != nil {
		t.Fatal(err)
	}
	var shown bytes.Buffer
	codeLine := regexp.MustCompile(`^  Code:  ([A-Z]{4}-[A-Z]{4})$`)
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		shown.WriteString(sc.Text() + "\n")
		if m := codeLine.FindStringSubmatch(sc.Text()); m != nil {
			c.browser.IP = oidctest.FreshIP()
			if res := c.browser.Answer(m[1], true); res.Status != http.StatusOK {
				t.Fatalf("approve %s: %d %s", m[1], res.Status, res.Body)
			}
			break
		}
	}
	for sc.Scan() {
		shown.WriteString(sc.Text() + "\n")
	}
	if err := login.Wait(); err != nil {
		t.Fatalf("login: %v\nstdout: %s\nstderr: %s", err, shown.String(), stderr.String())
	}
	if !strings.Contains(shown.String(), `Logged in as ada@example.com to "acme" (`+orgID+`) / app "Default" (`+appID+")") ||
		strings.Count(stderr.String(), "[appstrate] OS keyring") != 1 {
		t.Fatalf("stdout: %s\nstderr: %s", shown.String(), stderr.String())
	}

	run := func(want int, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = env
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != want {
			t.Fatalf("appstrate %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, out.String(), errOut.String())
		}
		return out.String()
	}
	if out := run(0, "whoami"); !strings.Contains(out, "User:     ada@example.com\n") {
		t.Fatal(out)
	}
	if out := run(0, "token"); !strings.Contains(out, "  azp:              appstrate-cli\n") {
		t.Fatal(out)
	}
	if out := run(0, "org", "list"); !strings.HasPrefix(out, "* acme") {
		t.Fatal(out)
	}
	if out := run(0, "app", "current"); out != appID+"\n" {
		t.Fatal(out)
	}
	if out := run(0, "api", "GET", "/api/agents", "-w", `\n%{http_code}`); !strings.HasSuffix(out, "\n200") {
		t.Fatal(out)
	}
	first := run(0, "openapi", "list", "--tag", "Organizations")
	if second := run(0, "openapi", "list", "--tag", "Organizations"); first != second || !strings.Contains(first, "/api/orgs") {
		t.Fatalf("%q\n%q", first, second)
	}
	if out := run(0, "logout"); out != "Signed out of \"default\".\n" {
		t.Fatal(out)
	}
	run(1, "whoami")
}
