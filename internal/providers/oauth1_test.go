package providers

import (
	"net/url"
	"strings"
	"testing"
)

// RFC 5849 §1.2: the signed photo request of the specification's example.
func TestOAuth1SignatureRFC5849Example(t *testing.T) {
	params := url.Values{
		"oauth_consumer_key":     {"dpf43f3p2l4k3l03"},
		"oauth_token":            {"nnch734d00sl2jdk"},
		"oauth_signature_method": {"HMAC-SHA1"},
		"oauth_timestamp":        {"137131202"},
		"oauth_nonce":            {"chapoH"},
	}
	base, err := OAuth1BaseString("get", "http://photos.example.net/photos?file=vacation.jpg&size=original", params)
	if err != nil {
		t.Fatal(err)
	}
	wantBase := "GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacation.jpg%26oauth_consumer_key%3Ddpf43f3p2l4k3l03" +
		"%26oauth_nonce%3DchapoH%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131202" +
		"%26oauth_token%3Dnnch734d00sl2jdk%26size%3Doriginal"
	if base != wantBase {
		t.Fatalf("base string\n got %s\nwant %s", base, wantBase)
	}
	if got := OAuth1Signature(base, "kd94hf93k423kf44", "pfkkdhi9sl3r4s00"); got != "MdpQcU8iPSUjWoN/UDMsK2sui9I=" {
		t.Fatalf("signature = %s", got)
	}
}

func TestOAuth1BaseStringNormalisation(t *testing.T) {
	tests := []struct {
		name, url, want string
	}{
		{"default https port dropped, host lower-cased", "HTTPS://API.Example.COM:443/a", "https%3A%2F%2Fapi.example.com%2Fa"},
		{"explicit port kept", "http://example.com:8080/r", "http%3A%2F%2Fexample.com%3A8080%2Fr"},
		{"empty path is /", "https://example.com", "https%3A%2F%2Fexample.com%2F"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, err := OAuth1BaseString("POST", tt.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Split(base, "&")[1]; got != tt.want {
				t.Fatalf("base URI = %s, want %s", got, tt.want)
			}
		})
	}
	// Parameters sort by encoded name, then value; duplicates are all kept.
	base, _ := OAuth1BaseString("POST", "https://x.test/p?b=2&a=3&a=1", url.Values{"c": {"hi there"}})
	if want := "POST&https%3A%2F%2Fx.test%2Fp&a%3D1%26a%3D3%26b%3D2%26c%3Dhi%2520there"; base != want {
		t.Fatalf("base = %s, want %s", base, want)
	}
}

func TestPercentEncode(t *testing.T) {
	for in, want := range map[string]string{
		"abcXYZ019-._~": "abcXYZ019-._~",
		"a b":           "a%20b",
		"!*'()":         "%21%2A%27%28%29",
		"é":             "%C3%A9",
		"=&+/":          "%3D%26%2B%2F",
	} {
		if got := PercentEncode(in); got != want {
			t.Errorf("PercentEncode(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOAuth1HeaderRoundTrip(t *testing.T) {
	h, err := oauth1Header("POST", "https://trello.example/1/OAuthGetRequestToken", "key", "secret", "",
		map[string]string{"oauth_callback": "http://localhost:3000/api/connections/callback"}, "nonce1", "1700000000")
	if err != nil {
		t.Fatal(err)
	}
	p := ParseOAuth1Header(h)
	if p.Get("oauth_callback") != "http://localhost:3000/api/connections/callback" || p.Get("oauth_consumer_key") != "key" ||
		p.Get("oauth_version") != "1.0" || p.Get("oauth_signature_method") != "HMAC-SHA1" {
		t.Fatalf("parsed %v", p)
	}
	sig := p.Get("oauth_signature")
	p.Del("oauth_signature")
	base, _ := OAuth1BaseString("POST", "https://trello.example/1/OAuthGetRequestToken", p)
	if OAuth1Signature(base, "secret", "") != sig {
		t.Fatal("signature does not verify")
	}
}

func FuzzParseOAuth1Header(f *testing.F) {
	f.Add(`OAuth oauth_consumer_key="k", oauth_signature="a%2Bb%3D"`)
	f.Add(`OAuth realm="x",oauth_token=""`)
	f.Add(`Bearer abc`)
	f.Add(`OAuth =,=,"",%zz="%zz"`)
	f.Fuzz(func(t *testing.T, h string) {
		p := ParseOAuth1Header(h)
		for k := range p {
			if k == "" && !strings.Contains(h, "=") {
				t.Fatalf("empty key from %q", h)
			}
		}
	})
}
