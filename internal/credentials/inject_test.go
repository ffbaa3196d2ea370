package credentials

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
)

// loadSystemProviders reads a few entries of the design's system-providers.json (testdata copy).
func loadSystemProviders(t testing.TB) map[string]ProviderRules {
	t.Helper()
	data, err := os.ReadFile("testdata/system-providers.json")
	if err != nil {
		t.Fatal(err)
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	out := map[string]ProviderRules{}
	for _, r := range raw {
		rules, err := RulesFromManifest(r)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimPrefix(rules.ID, "@appstrate/")] = rules
	}
	return out
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestInjectSystemProviders(t *testing.T) {
	providers := loadSystemProviders(t)
	tests := []struct {
		name, provider string
		creds          map[string]string
		target         string
		header         http.Header
		wantURL        string
		wantHeaders    map[string]string // "" = must be absent
		wantErr        error
	}{
		{
			name: "gmail oauth2 bearer", provider: "gmail",
			creds:       map[string]string{"access_token": "ya29.tok", "refresh_token": "1//refresh"},
			target:      "https://gmail.googleapis.com/gmail/v1/users/me/messages?maxResults=5",
			wantURL:     "https://gmail.googleapis.com/gmail/v1/users/me/messages?maxResults=5",
			wantHeaders: map[string]string{"Authorization": "Bearer ya29.tok"},
		},
		{
			name: "gmail second host", provider: "gmail",
			creds:       map[string]string{"access_token": "ya29.tok"},
			target:      "https://www.googleapis.com/gmail/v1/users/me/profile",
			wantURL:     "https://www.googleapis.com/gmail/v1/users/me/profile",
			wantHeaders: map[string]string{"Authorization": "Bearer ya29.tok"},
		},
		{
			name: "gmail refuses another Google API", provider: "gmail",
			creds: map[string]string{"access_token": "ya29.tok"}, target: "https://www.googleapis.com/drive/v3/files",
			wantErr: ErrNotAuthorized,
		},
		{
			name: "gmail refuses dot-dot escape", provider: "gmail",
			creds: map[string]string{"access_token": "ya29.tok"}, target: "https://www.googleapis.com/gmail/%2e%2e/drive/v3/files",
			wantErr: ErrNotAuthorized,
		},
		{
			name: "gmail refresh token is not a placeholder", provider: "gmail",
			creds:  map[string]string{"access_token": "ya29.tok", "refresh_token": "1//refresh"},
			target: "https://gmail.googleapis.com/gmail/v1/x?rt={{refresh_token}}", wantErr: ErrUnresolvedPlaceholder,
		},
		{
			name: "caller Authorization wins", provider: "gmail",
			creds: map[string]string{"access_token": "ya29.tok"}, target: "https://gmail.googleapis.com/gmail/v1/x",
			header:      http.Header{"Authorization": {"Bearer mine"}},
			wantURL:     "https://gmail.googleapis.com/gmail/v1/x",
			wantHeaders: map[string]string{"Authorization": "Bearer mine"},
		},
		{
			name: "glued Bearer placeholder fixed", provider: "gmail",
			creds: map[string]string{"access_token": "ya29.tok"}, target: "https://gmail.googleapis.com/gmail/v1/x",
			header:      http.Header{"Authorization": {"Bearer{{access_token}}"}},
			wantURL:     "https://gmail.googleapis.com/gmail/v1/x",
			wantHeaders: map[string]string{"Authorization": "Bearer ya29.tok"},
		},
		{
			name: "stripe api key", provider: "stripe",
			creds: map[string]string{"api_key": "sk_test_1"}, target: "https://api.stripe.com/v1/charges",
			header:      http.Header{"Stripe-Version": {"2024-06-20"}},
			wantURL:     "https://api.stripe.com/v1/charges",
			wantHeaders: map[string]string{"Authorization": "Bearer sk_test_1", "Stripe-Version": "2024-06-20"},
		},
		{
			name: "stripe refuses http", provider: "stripe",
			creds: map[string]string{"api_key": "sk_test_1"}, target: "http://api.stripe.com/v1/charges", wantErr: ErrNotAuthorized,
		},
		{
			name: "freshdesk transform and subdomain", provider: "freshdesk",
			creds:       map[string]string{"api_key": "fdkey", "subdomain": "acme"},
			target:      "https://{{subdomain}}.freshdesk.com/api/v2/tickets",
			wantURL:     "https://acme.freshdesk.com/api/v2/tickets",
			wantHeaders: map[string]string{"Authorization": "Basic " + b64("fdkey:X")},
		},
		{
			name: "freshdesk subdomain cannot leave the domain", provider: "freshdesk",
			creds:  map[string]string{"api_key": "fdkey", "subdomain": "evil.com/x?"},
			target: "https://{{subdomain}}.freshdesk.com/api/v2/tickets", wantErr: ErrInvalidURL,
		},
		{
			name: "freshdesk subdomain to another host", provider: "freshdesk",
			creds:  map[string]string{"api_key": "fdkey", "subdomain": "evil.com"},
			target: "https://{{subdomain}}/api/v2/tickets", wantErr: ErrNotAuthorized,
		},
		{
			name: "zendesk transform with email", provider: "zendesk",
			creds:       map[string]string{"api_key": "zdkey", "email": "a@b.co", "subdomain": "acme"},
			target:      "https://{{subdomain}}.zendesk.com/api/v2/users/me.json",
			wantURL:     "https://acme.zendesk.com/api/v2/users/me.json",
			wantHeaders: map[string]string{"Authorization": "Basic " + b64("a@b.co/token:zdkey")},
		},
		{
			name: "zendesk transform falls through when a field is missing", provider: "zendesk",
			creds:       map[string]string{"api_key": "zdkey", "subdomain": "acme"},
			target:      "https://acme.zendesk.com/api/v2/users/me.json",
			wantURL:     "https://acme.zendesk.com/api/v2/users/me.json",
			wantHeaders: map[string]string{"Authorization": "Basic zdkey"},
		},
		{
			name: "twilio transform into auth_token", provider: "twilio",
			creds:       map[string]string{"account_sid": "AC1", "auth_token": "tw"},
			target:      "https://api.twilio.com/2010-04-01/Accounts/{{account_sid}}/Messages.json",
			wantURL:     "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json",
			wantHeaders: map[string]string{"Authorization": "Basic " + b64("AC1:tw")},
		},
		{
			name: "telegram token in the URL path, no header", provider: "telegram",
			creds:       map[string]string{"bot_token": "123456:ABC-def"},
			target:      "https://api.telegram.org/bot{{bot_token}}/getMe",
			wantURL:     "https://api.telegram.org/bot123456:ABC-def/getMe",
			wantHeaders: map[string]string{"Authorization": ""},
		},
		{
			name: "telegram token cannot add path segments", provider: "telegram",
			creds:  map[string]string{"bot_token": "1/../../x"},
			target: "https://api.telegram.org/bot{{bot_token}}/getMe", wantErr: ErrInvalidURL,
		},
		{
			name: "telegram unknown placeholder refused", provider: "telegram",
			creds:  map[string]string{"bot_token": "1:a"},
			target: "https://api.telegram.org/bot{{ token }}/getMe", wantErr: ErrUnresolvedPlaceholder,
		},
		{
			name: "trello oauth1 key and token as query parameters", provider: "trello",
			creds:       map[string]string{"consumer_key": "ck", "access_token": "at&x=1", "access_token_secret": "ats"},
			target:      "https://api.trello.com/1/members/me/boards?key={{consumer_key}}&token={{ access_token }}",
			wantURL:     "https://api.trello.com/1/members/me/boards?key=ck&token=at%26x%3D1",
			wantHeaders: map[string]string{"Authorization": ""},
		},
		{
			name: "zoho custom prefix", provider: "zoho-crm",
			creds: map[string]string{"access_token": "1000.z"}, target: "https://www.zohoapis.eu/crm/v6/Leads",
			wantURL:     "https://www.zohoapis.eu/crm/v6/Leads",
			wantHeaders: map[string]string{"Authorization": "Zoho-oauthtoken 1000.z"},
		},
		{
			name: "freshsales Token token= prefix without inserted space", provider: "freshsales",
			creds: map[string]string{"api_key": "fs", "subdomain": "acme"}, target: "https://{{subdomain}}.myfreshworks.com/crm/sales/api/contacts",
			wantURL:     "https://acme.myfreshworks.com/crm/sales/api/contacts",
			wantHeaders: map[string]string{"Authorization": "Token token=fs"},
		},
		{
			name: "shopify host placeholder and custom header", provider: "shopify",
			creds: map[string]string{"shop_domain": "acme.myshopify.com", "access_token": "shpat"}, target: "https://{{shop_domain}}/admin/api/2024-01/shop.json",
			wantURL:     "https://acme.myshopify.com/admin/api/2024-01/shop.json",
			wantHeaders: map[string]string{"X-Shopify-Access-Token": "shpat", "Authorization": ""},
		},
		{
			name: "activecampaign allowAllUris, raw header", provider: "activecampaign",
			creds: map[string]string{"account_name": "acme", "api_key": "ac"}, target: "https://{{account_name}}.api-us1.com/api/3/contacts",
			wantURL:     "https://acme.api-us1.com/api/3/contacts",
			wantHeaders: map[string]string{"Api-Token": "ac"},
		},
		{
			name: "wordpress base URL placeholder", provider: "wordpress",
			creds:       map[string]string{"site_url": "https://blog.example.org/", "username": "u", "application_password": "p"},
			target:      "{{site_url}}/wp-json/wp/v2/posts",
			header:      http.Header{"X-User": {"{{username}}"}},
			wantURL:     "https://blog.example.org/wp-json/wp/v2/posts",
			wantHeaders: map[string]string{"X-User": "u", "Authorization": ""},
		},
		{
			name: "wordpress base must be an http URL", provider: "wordpress",
			creds:  map[string]string{"site_url": "javascript:alert(1)//", "username": "u", "application_password": "p"},
			target: "{{site_url}}/wp-json/wp/v2/posts", wantErr: ErrInvalidURL,
		},
		{
			name: "header placeholder unresolved", provider: "stripe",
			creds: map[string]string{"api_key": "sk"}, target: "https://api.stripe.com/v1/x",
			header: http.Header{"X-Other": {"{{nope}}"}}, wantErr: ErrUnresolvedPlaceholder,
		},
		{
			name: "header value with newline refused", provider: "telegram",
			creds: map[string]string{"bot_token": "a\r\nX-Injected: 1"}, target: "https://api.telegram.org/x",
			header: http.Header{"X-Token": {"{{bot_token}}"}}, wantErr: ErrInvalidHeader,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules, ok := providers[tt.provider]
			if !ok {
				t.Fatalf("no fixture %s", tt.provider)
			}
			req, err := NewRequest(context.Background(), http.MethodGet, tt.target, tt.header, nil, rules, tt.creds, Options{})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				for k, v := range tt.creds {
					secret := strings.Contains(k, "key") || strings.Contains(k, "token") || strings.Contains(k, "password")
					if secret && len(v) > 3 && strings.Contains(err.Error(), v) {
						t.Fatalf("error %q quotes a credential", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if req.URL.String() != tt.wantURL || req.Host != req.URL.Host {
				t.Fatalf("URL = %s (host %s), want %s", req.URL, req.Host, tt.wantURL)
			}
			for k, want := range tt.wantHeaders {
				if got := req.Header.Get(k); got != want {
					t.Fatalf("header %s = %q, want %q", k, got, want)
				}
			}

			// The sidecar path gives the same result: server materialises, JSON crosses, sidecar injects.
			data, err := json.Marshal(Materialize(rules, tt.creds))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(data), "refresh") {
				t.Fatalf("payload carries the refresh token: %s", data)
			}
			var pl Payload
			if err := json.Unmarshal(data, &pl); err != nil {
				t.Fatal(err)
			}
			side, err := NewRequest(context.Background(), http.MethodGet, tt.target, tt.header, nil, pl.Rules(rules.ID), pl.Credentials, Options{})
			if err != nil {
				t.Fatalf("sidecar path: %v", err)
			}
			if side.URL.String() != req.URL.String() {
				t.Fatalf("sidecar URL %s != %s", side.URL, req.URL)
			}
			for k := range tt.wantHeaders {
				if side.Header.Get(k) != req.Header.Get(k) {
					t.Fatalf("sidecar header %s = %q, platform %q", k, side.Header.Get(k), req.Header.Get(k))
				}
			}
		})
	}
}

func TestInjectOnExistingRequest(t *testing.T) {
	providers := loadSystemProviders(t)
	req, err := http.NewRequest(http.MethodGet, "https://api.telegram.org/bot{{bot_token}}/getMe?x={{ bot_token }}", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := Inject(req, providers["telegram"], map[string]string{"bot_token": "1:a b"}); err != nil {
		t.Fatal(err)
	}
	if got := req.URL.String(); got != "https://api.telegram.org/bot1:a%20b/getMe?x=1%3Aa+b" {
		t.Fatalf("URL = %s", got)
	}

	// On error the request is left as it was.
	req, _ = http.NewRequest(http.MethodPost, "https://evil.example/x", strings.NewReader("body {{api_key}}"))
	req.Header.Set("X-K", "{{api_key}}")
	before := req.URL.String()
	err = InjectWith(req, providers["stripe"], map[string]string{"api_key": "sk"}, Options{SubstituteBody: true})
	if !errors.Is(err, ErrNotAuthorized) || req.URL.String() != before || req.Header.Get("X-K") != "{{api_key}}" || req.Header.Get("Authorization") != "" {
		t.Fatalf("err %v; request modified: %s %v", err, req.URL, req.Header)
	}
	if b, _ := io.ReadAll(req.Body); string(b) != "body {{api_key}}" {
		t.Fatalf("body consumed: %q", b)
	}
}

func TestInjectBody(t *testing.T) {
	providers := loadSystemProviders(t)
	stripe := providers["stripe"]
	creds := map[string]string{"api_key": `sk"\x&y=1`}
	tests := []struct {
		name, contentType, body string
		substitute              bool
		want                    string
		wantErr                 error
	}{
		{"json escaped", "application/json; charset=utf-8", `{"k":"{{api_key}}"}`, true, `{"k":"sk\"\\x&y=1"}`, nil},
		{"form escaped", "application/x-www-form-urlencoded", `k={{ api_key }}&z=1`, true, `k=sk%22%5Cx%26y%3D1&z=1`, nil},
		{"text raw", "text/plain", `key: {{api_key}}`, true, `key: sk"\x&y=1`, nil},
		{"off by default", "application/json", `{"k":"{{api_key}}"}`, false, `{"k":"{{api_key}}"}`, nil},
		{"unresolved", "text/plain", `{{other}}`, true, "", ErrUnresolvedPlaceholder},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Content-Type": {tt.contentType}}
			req, err := NewRequest(context.Background(), http.MethodPost, "https://api.stripe.com/v1/x", h,
				strings.NewReader(tt.body), stripe, creds, Options{SubstituteBody: tt.substitute})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(req.Body)
			if string(got) != tt.want {
				t.Fatalf("body = %s, want %s", got, tt.want)
			}
			if tt.substitute && req.ContentLength != int64(len(got)) {
				t.Fatalf("ContentLength %d for %d bytes", req.ContentLength, len(got))
			}
			if strings.HasPrefix(tt.contentType, "application/json") {
				var v map[string]string
				if err := json.Unmarshal(got, &v); err != nil {
					t.Fatalf("substituted JSON invalid: %v", err)
				}
			}
			if req.GetBody != nil {
				again, _ := req.GetBody()
				b, _ := io.ReadAll(again)
				if !bytes.Equal(b, got) {
					t.Fatal("GetBody differs")
				}
			}
		})
	}
	req, _ := http.NewRequest(http.MethodPost, "https://api.stripe.com/v1/x", strings.NewReader(strings.Repeat("a", 100)))
	if err := InjectWith(req, stripe, creds, Options{SubstituteBody: true, MaxBodyBytes: 10}); !errors.Is(err, ErrBodyTooLarge) {
		t.Fatalf("large body: %v", err)
	}
}

func TestQueryParamsExtensionAndBasicMode(t *testing.T) {
	trello, err := RulesFromManifest(json.RawMessage(`{"name":"@acme/trello","version":"1.0.0","type":"provider",
		"definition":{"authMode":"oauth1","oauth1":{"requestTokenUrl":"https://trello.com/1/OAuthGetRequestToken","accessTokenUrl":"https://trello.com/1/OAuthGetAccessToken"},
		"authorizedUris":["https://api.trello.com/**"],"credentialQueryParams":{"key":"{{consumer_key}}","token":"{{access_token}}","missing":"{{nope}}"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	creds := map[string]string{"consumer_key": "ck", "access_token": "at", "access_token_secret": "s"}
	req, err := NewRequest(context.Background(), http.MethodGet, "https://api.trello.com/1/members/me?fields=id", nil, nil, trello, creds, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := req.URL.RawQuery; got != "fields=id&key=ck&token=at" {
		t.Fatalf("query = %s", got)
	}
	req, _ = NewRequest(context.Background(), http.MethodGet, "https://api.trello.com/1/x?key=mine", nil, nil, trello, creds, Options{})
	if got := req.URL.Query().Get("key"); got != "mine" {
		t.Fatalf("caller key overridden: %s", got)
	}
	// The sidecar path keeps the extension.
	pl := Materialize(trello, creds)
	req, _ = NewRequest(context.Background(), http.MethodGet, "https://api.trello.com/1/x", nil, nil, pl.Rules(trello.ID), pl.Credentials, Options{})
	if req.URL.Query().Get("token") != "at" {
		t.Fatalf("sidecar query = %s", req.URL.RawQuery)
	}

	basic, err := RulesFromManifest(json.RawMessage(`{"authMode":"basic","credentials":{"schema":{"type":"object"}},"authorizedUris":["https://api.example.com/**"]}`))
	if err != nil {
		t.Fatal(err)
	}
	creds = map[string]string{"username": "u", "password": "p:w"}
	req, err = NewRequest(context.Background(), http.MethodGet, "https://api.example.com/me", nil, nil, basic, creds, Options{})
	if err != nil || req.Header.Get("Authorization") != "Basic "+b64("u:p:w") {
		t.Fatalf("basic: %v %v", err, req.Header)
	}
	pl = Materialize(basic, creds)
	req, _ = NewRequest(context.Background(), http.MethodGet, "https://api.example.com/me", nil, nil, pl.Rules(""), pl.Credentials, Options{})
	if req.Header.Get("Authorization") != "Basic "+b64("u:p:w") {
		t.Fatalf("basic via payload: %v", req.Header)
	}
}

func TestMaterialize(t *testing.T) {
	providers := loadSystemProviders(t)
	// fieldName declared but stored under api_key (the /api-key route of older data): aliased, others kept.
	pl := Materialize(providers["shopify"], map[string]string{"api_key": "k", "shop_domain": "s.myshopify.com"})
	if pl.Credentials["access_token"] != "k" || pl.Credentials["shop_domain"] != "s.myshopify.com" || pl.CredentialFieldName != "access_token" {
		t.Fatalf("payload %+v", pl)
	}
	pl = Materialize(providers["gmail"], map[string]string{"access_token": "a", "refresh_token": "r"})
	if _, ok := pl.Credentials["refresh_token"]; ok || pl.CredentialHeaderName != "Authorization" || pl.CredentialHeaderPrefix != "Bearer" {
		t.Fatalf("gmail payload %+v", pl)
	}
	data, _ := json.Marshal(Materialize(providers["wordpress"], map[string]string{"site_url": "https://x.org"}))
	if !strings.Contains(string(data), `"authorizedUris":null`) || !strings.Contains(string(data), `"allowAllUris":true`) {
		t.Fatalf("wordpress payload %s", data)
	}
	stored := map[string]string{"api_key": "k", "email": "e", "subdomain": "s"}
	Materialize(providers["zendesk"], stored)
	if stored["api_key"] != "k" {
		t.Fatal("Materialize modified the stored map")
	}
}

func TestHeaderValue(t *testing.T) {
	for _, tt := range []struct{ prefix, value, want string }{
		{"Bearer", "t", "Bearer t"}, {" Bearer ", "t", "Bearer t"}, {"", "t", "t"}, {"Token token=", "t", "Token token=t"},
		{"Zoho-oauthtoken", "t", "Zoho-oauthtoken t"},
	} {
		if got := HeaderValue(tt.prefix, tt.value); got != tt.want {
			t.Errorf("HeaderValue(%q, %q) = %q, want %q", tt.prefix, tt.value, got, tt.want)
		}
	}
}

func TestSubstitute(t *testing.T) {
	got, missing := Substitute("a {{x}} {{ y }} {{x}} {{z}} {{ w}} {{x", map[string]string{"x": "{{y}}", "y": "2"})
	if got != "a {{y}} 2 {{y}} {{z}} {{ w}} {{x" || strings.Join(missing, ",") != "w,z" {
		t.Fatalf("Substitute = %q %v", got, missing)
	}
	if !HasPlaceholders("x{{a_1}}") || HasPlaceholders("{{a-b}}") {
		t.Fatal("HasPlaceholders")
	}
}
