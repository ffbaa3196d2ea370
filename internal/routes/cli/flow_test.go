package cli_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/oidc/oidctest"
)

var userCodePattern = regexp.MustCompile(`^[BCDFGHJKLMNPQRSTVWXZ]{8}$`)

// signUp creates a user with a password through the real sign-up route and returns its id.
func signUp(t *testing.T, c *oidctest.Client, email, password string) string {
	t.Helper()
	res := c.Do("POST", "/api/auth/sign-up/email", map[string]string{"email": email, "password": password, "name": "Ada"})
	if res.Status != http.StatusOK {
		t.Fatalf("sign up: %d %s", res.Status, res.Body)
	}
	var out struct{ User struct{ ID string } }
	res.JSON(t, &out)
	return out.User.ID
}

// TestDeviceFlowEndToEnd is the acceptance walk of API.md §2.3 over HTTP: device code → browser sign-in on
// /auth/login → approve on /activate with its CSRF token → token → JWT on the API with X-Org-Id → refresh
// rotation → replay of the old refresh token revokes the family → the family's access token is refused.
func TestDeviceFlowEndToEnd(t *testing.T) {
	apptest.Run(t, oidctest.Env(), func(t *testing.T, e *apptest.Env) {
		cli, browser := oidctest.NewClient(e), oidctest.NewClient(e)
		const password = "correct horse battery staple"
		userID := signUp(t, browser, "ada@example.com", password)
		orgID, appID := e.SeedOrg(userID, "acme")

		// 1. The CLI asks for a code.
		dc := cli.RequestCode()
		if !userCodePattern.MatchString(dc.UserCode) || dc.DeviceCode == "" || dc.ExpiresIn != 600 || dc.Interval != 2 ||
			dc.VerificationURI != e.Config.AppURL+"/activate" ||
			dc.VerificationURIComplete != e.Config.AppURL+"/activate?user_code="+dc.UserCode {
			t.Fatalf("device code = %+v", dc)
		}

		// 2. Not approved yet; polling again at once is too fast.
		tok := cli.Poll(dc)
		if tok.Status != 400 || tok.Error != "authorization_pending" {
			t.Fatalf("first poll: %+v", tok)
		}
		tok = cli.Token(oidctest.Form("grant_type", "urn:ietf:params:oauth:grant-type:device_code", "device_code", dc.DeviceCode, "client_id", "appstrate-cli"))
		if tok.Status != 400 || tok.Error != "slow_down" {
			t.Fatalf("fast poll: %+v", tok)
		}

		// 3. The browser opens the verification URI without a session: sent to the sign-in form, then back.
		typed := strings.ToLower(dc.UserCode[:4] + "-" + dc.UserCode[4:])
		browser.Cookie = ""
		res := browser.OpenActivate(typed)
		wantLogin := "/auth/login?returnTo=" + url.QueryEscape("/activate?user_code="+url.QueryEscape(typed))
		if res.Status != http.StatusFound || res.Header.Get("Location") != wantLogin {
			t.Fatalf("activate without session: %d Location=%q, want %q", res.Status, res.Header.Get("Location"), wantLogin)
		}
		res = browser.Do("GET", wantLogin, nil)
		if res.Status != 200 {
			t.Fatalf("login form: %d %s", res.Status, res.Body)
		}
		csrfCookie := cookiePair(t, res, "appstrate.login_csrf")
		res = browser.Do("POST", "/auth/login", oidctest.Form("email", "ada@example.com", "password", password,
			"returnTo", "/activate?user_code="+typed, "_csrf", oidctest.CSRF(t, res.Body)), "Cookie", csrfCookie)
		if res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/activate?user_code="+typed {
			t.Fatalf("login: %d Location=%q %s", res.Status, res.Header.Get("Location"), res.Body)
		}
		browser.Cookie = cookiePair(t, res, "better-auth.session_token")

		// 4. The confirmation page shows the code; approving needs its CSRF token.
		page := browser.OpenActivate(typed)
		if page.Status != 200 || !strings.Contains(string(page.Body), dc.UserCode[:4]+"-"+dc.UserCode[4:]) ||
			!strings.Contains(string(page.Body), "Autoriser") {
			t.Fatalf("confirmation page: %d %s", page.Status, page.Body)
		}
		res = browser.Do("POST", "/activate/approve", oidctest.Form("user_code", typed, "_csrf", "forged"))
		if res.Status != http.StatusForbidden {
			t.Fatalf("approve with a forged CSRF token: %d", res.Status)
		}
		res = browser.Do("POST", "/activate/approve", oidctest.Form("user_code", typed, "_csrf", oidctest.CSRF(t, page.Body)))
		if res.Status != 200 || !strings.Contains(string(res.Body), "Appareil autorisé") {
			t.Fatalf("approve: %d %s", res.Status, res.Body)
		}

		// 5. The next poll gets the tokens, once.
		tok = cli.Poll(dc, "X-Appstrate-Device-Name", "ada-laptop", "User-Agent", "appstrate-cli/1.2.3")
		if tok.Status != 200 || tok.TokenType != "Bearer" || tok.ExpiresIn != 900 || tok.RefreshExpiresIn != 2592000 ||
			tok.Scope != "openid profile email offline_access" || tok.RefreshToken == "" {
			t.Fatalf("token: %+v", tok)
		}
		if again := cli.Poll(dc); again.Status != 400 || again.Error != "invalid_grant" {
			t.Fatalf("second exchange of the device code: %+v", again)
		}
		claims := oidctest.Claims(t, tok.AccessToken)
		issuer := e.Config.AppURL + "/api/auth"
		family, _ := claims["cli_family_id"].(string)
		jti, _ := claims["jti"].(string)
		if claims["iss"] != issuer || claims["aud"] != issuer || claims["sub"] != userID || claims["azp"] != "appstrate-cli" ||
			claims["actor_type"] != "user" || claims["email"] != "ada@example.com" || claims["name"] != "Ada" ||
			claims["scope"] != "openid profile email offline_access" || !strings.HasPrefix(family, "crf_") ||
			!regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(jti) || claims["exp"].(float64)-claims["iat"].(float64) != 900 {
			t.Fatalf("claims = %v", claims)
		}
		if _, ok := claims["email_verified"].(bool); !ok {
			t.Fatalf("email_verified missing: %v", claims)
		}

		// 6. The JWK set verifies the token independently.
		verifyWithJWKS(t, e, tok.AccessToken)

		// 7. The JWT works on the API like a session: X-Org-Id / X-Application-Id required where a session needs them.
		res = cli.Do("GET", "/api/orgs", nil, oidctest.Bearer(tok.AccessToken, orgID, "")...)
		if res.Status != 200 || !strings.Contains(string(res.Body), orgID) {
			t.Fatalf("GET /api/orgs with the JWT: %d %s", res.Status, res.Body)
		}
		res = cli.Do("GET", "/api/applications", nil, oidctest.Bearer(tok.AccessToken, "", "")...)
		if p := res.Problem(t); res.Status != 400 || p.Param != "X-Org-Id" {
			t.Fatalf("without X-Org-Id: %d %s", res.Status, res.Body)
		}
		res = cli.Do("GET", "/api/applications", nil, oidctest.Bearer(tok.AccessToken, orgID, "")...)
		if res.Status != 200 || !strings.Contains(string(res.Body), appID) {
			t.Fatalf("GET /api/applications: %d %s", res.Status, res.Body)
		}
		if res.Header.Get("Appstrate-Version") == "" {
			t.Fatal("no Appstrate-Version on an authenticated success")
		}

		// 8. The session records the device name, user agent and IP.
		sessions := browser.Do("GET", "/api/auth/cli/sessions", nil)
		var list struct {
			Object string
			Data   []map[string]any
		}
		sessions.JSON(t, &list)
		if sessions.Status != 200 || list.Object != "list" || len(list.Data) != 1 || list.Data[0]["familyId"] != family ||
			list.Data[0]["deviceName"] != "ada-laptop" || list.Data[0]["userAgent"] != "appstrate-cli/1.2.3" ||
			list.Data[0]["createdIp"] != cli.IP || list.Data[0]["current"] != false {
			t.Fatalf("sessions: %d %s", sessions.Status, sessions.Body)
		}

		// 9. Refresh rotates; the new access token works.
		rotated := cli.Refresh(tok.RefreshToken)
		if rotated.Status != 200 || rotated.RefreshToken == tok.RefreshToken || rotated.AccessToken == "" {
			t.Fatalf("refresh: %+v", rotated)
		}
		if oidctest.Claims(t, rotated.AccessToken)["cli_family_id"] != family {
			t.Fatal("the rotated token left its family")
		}
		if res := cli.Do("GET", "/api/orgs", nil, oidctest.Bearer(rotated.AccessToken, orgID, "")...); res.Status != 200 {
			t.Fatalf("rotated access token: %d %s", res.Status, res.Body)
		}

		// 10. Replaying the used refresh token revokes the family: every token of it stops working.
		replay := cli.Refresh(tok.RefreshToken)
		if replay.Status != 400 || replay.Error != "invalid_grant" || replay.ErrorDescription != "Refresh token has been revoked." {
			t.Fatalf("replay: %+v", replay)
		}
		if again := cli.Refresh(rotated.RefreshToken); again.Status != 400 || again.Error != "invalid_grant" {
			t.Fatalf("live token of a revoked family: %+v", again)
		}
		res = cli.Do("GET", "/api/orgs", nil, oidctest.Bearer(rotated.AccessToken, orgID, "")...)
		if res.Status != 401 || res.Problem(t).Code != "unauthorized" {
			t.Fatalf("access token of a revoked family: %d %s", res.Status, res.Body)
		}
		var notRevoked int
		_ = e.DB.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM cli_refresh_tokens WHERE family_id = ? AND
			(revoked_at IS NULL OR revoked_reason <> 'reuse')`, family).Scan(&notRevoked)
		if notRevoked != 0 {
			t.Fatalf("%d tokens of the family not revoked for reuse", notRevoked)
		}
		if strings.Contains(e.Logs.String(), tok.RefreshToken) || strings.Contains(e.Logs.String(), rotated.AccessToken) {
			t.Fatal("a token was logged")
		}
	})
}

// cookiePair returns "name=value" of a cookie set by res (name matched by suffix).
func cookiePair(t *testing.T, res *apptest.Response, suffix string) string {
	t.Helper()
	for _, c := range (&http.Response{Header: res.Header}).Cookies() {
		if strings.HasSuffix(c.Name, suffix) && c.Value != "" {
			return c.Name + "=" + c.Value
		}
	}
	t.Fatalf("no %s cookie in %v", suffix, res.Header.Values("Set-Cookie"))
	return ""
}

// verifyWithJWKS checks an ES256 JWT against GET /api/auth/jwks with crypto/ecdsa only.
func verifyWithJWKS(t *testing.T, e *apptest.Env, token string) {
	t.Helper()
	res := e.Do(apptest.Request{Method: "GET", Path: "/api/auth/jwks"})
	var set struct {
		Keys []struct{ Kty, Crv, X, Y, Kid, Alg string }
	}
	res.JSON(t, &set)
	if res.Status != 200 || len(set.Keys) == 0 {
		t.Fatalf("jwks: %d %s", res.Status, res.Body)
	}
	parts := strings.Split(token, ".")
	rawHeader, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var header struct{ Alg, Kid, Typ string }
	if err := json.Unmarshal(rawHeader, &header); err != nil || header.Alg != "ES256" || header.Kid == "" {
		t.Fatalf("JWT header %s: %v", rawHeader, err)
	}
	for _, k := range set.Keys {
		if k.Kid != header.Kid {
			continue
		}
		if k.Kty != "EC" || k.Crv != "P-256" || k.Alg != "ES256" {
			t.Fatalf("key %+v", k)
		}
		x, _ := base64.RawURLEncoding.DecodeString(k.X)
		y, _ := base64.RawURLEncoding.DecodeString(k.Y)
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			t.Fatalf("JWK point: %v", err)
		}
		sig, err := base64.RawURLEncoding.DecodeString(parts[2])
		if err != nil || len(sig) != 64 {
			t.Fatalf("ES256 signature of %d bytes: %v", len(sig), err)
		}
		digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
		if !ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
			t.Fatal("the JWK set does not verify the access token")
		}
		return
	}
	t.Fatalf("kid %s not in the JWK set %s", header.Kid, res.Body)
}
