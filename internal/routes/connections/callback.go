package connections

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"html/template"
	"net/url"

	"github.com/danielgtaylor/huma/v2"

	prov "github.com/appstrate/appstrate-go/internal/providers"
)

type callbackInput struct {
	Code          string `query:"code" doc:"OAuth 2 authorization code"`
	State         string `query:"state" doc:"OAuth 2 state"`
	Error         string `query:"error" doc:"OAuth 2 error (the user refused)"`
	OAuthToken    string `query:"oauth_token" doc:"OAuth 1.0a request token"`
	OAuthVerifier string `query:"oauth_verifier" doc:"OAuth 1.0a verifier"`
}

type callbackOutput struct {
	ContentType    string `header:"Content-Type"`
	CacheControl   string `header:"Cache-Control"`
	CSP            string `header:"Content-Security-Policy"`
	ReferrerPolicy string `header:"Referrer-Policy"`
	Body           []byte
}

// callbackResponses documents the HTML answer.
var callbackResponses = map[string]*huma.Response{
	"200": {Description: "A page that reports the outcome to its opener and closes itself",
		Content: map[string]*huma.MediaType{"text/html": {Schema: &huma.Schema{Type: huma.TypeString}}}},
}

func (h handlers) callback(ctx context.Context, in *callbackInput) (*callbackOutput, error) {
	q := url.Values{}
	for k, v := range map[string]string{"code": in.Code, "state": in.State, "error": in.Error,
		"oauth_token": in.OAuthToken, "oauth_verifier": in.OAuthVerifier} {
		if v != "" {
			q.Set(k, v)
		}
	}
	res := h.Connections.Callback(ctx, q)
	nonce := newNonce()
	page, err := renderCallback(res, h.origins(), nonce)
	if err != nil {
		return nil, err
	}
	return &callbackOutput{ContentType: "text/html; charset=utf-8", CacheControl: "no-store",
		CSP:            "default-src 'none'; script-src 'nonce-" + nonce + "'; style-src 'nonce-" + nonce + "'; base-uri 'none'; form-action 'none'",
		ReferrerPolicy: "no-referrer", Body: page}, nil
}

// origins are the origins the page may post to: APP_URL's and the trusted origins (postMessage drops a
// message whose target origin is not the opener's).
func (h handlers) origins() []string {
	seen := map[string]bool{}
	var out []string
	for _, raw := range append([]string{h.AppURL}, h.TrustedOrigins...) {
		u, err := url.Parse(raw)
		if err != nil || u.Scheme == "" || u.Host == "" {
			continue
		}
		o := u.Scheme + "://" + u.Host
		if !seen[o] {
			seen[o] = true
			out = append(out, o)
		}
	}
	return out
}

func newNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawStdEncoding.EncodeToString(b)
}

// callbackMessage is what the page posts to its opener.
type callbackMessage struct {
	Type       string `json:"type"`
	OK         bool   `json:"ok"`
	ProviderID string `json:"providerId,omitempty"`
	Message    string `json:"message,omitempty"`
}

var callbackPage = template.Must(template.New("callback").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<title>{{if .OK}}Connected{{else}}Connection failed{{end}}</title>
<style nonce="{{.Nonce}}">body{font-family:system-ui,sans-serif;margin:4rem auto;max-width:32rem;text-align:center;color:#1f2328}
.err{color:#b42318}</style></head>
<body><h1>{{if .OK}}Connected{{else}}Connection failed{{end}}</h1>
<p{{if not .OK}} class="err"{{end}}>{{.Text}}</p>
<p>This window closes by itself.</p>
<script nonce="{{.Nonce}}">(function () {
  var msg = {{.Message}};
  var origins = {{.Origins}};
  try {
    if (window.opener) {
      for (var i = 0; i < origins.length; i++) { window.opener.postMessage(msg, origins[i]); }
    }
  } catch (e) {}
  setTimeout(function () { window.close(); }, {{.Delay}});
})();</script>
</body></html>
`))

// renderCallback renders the popup page; html/template escapes the text and the script data.
func renderCallback(res prov.CallbackResult, origins []string, nonce string) ([]byte, error) {
	text := res.Message
	if text == "" && res.OK {
		text = "Your account is connected. You can close this window."
	}
	delay := 5000
	if res.OK {
		delay = 1000
	}
	if origins == nil {
		origins = []string{}
	}
	var buf bytes.Buffer
	err := callbackPage.Execute(&buf, map[string]any{
		"OK": res.OK, "Text": text, "Nonce": nonce, "Delay": delay, "Origins": origins,
		"Message": callbackMessage{Type: "appstrate:oauth-callback", OK: res.OK, ProviderID: res.ProviderID, Message: text},
	})
	return buf.Bytes(), err
}
