package cli

import (
	"encoding/json"
	"net/url"
	"testing"
)

func TestParseParams(t *testing.T) {
	tests := []struct {
		name, contentType, body string
		want                    map[string]string
		ok                      bool
	}{
		{"form", "application/x-www-form-urlencoded", "grant_type=refresh_token&refresh_token=a%2Bb", map[string]string{"grant_type": "refresh_token", "refresh_token": "a+b"}, true},
		{"form with charset", "application/x-www-form-urlencoded; charset=utf-8", "client_id=appstrate-cli", map[string]string{"client_id": "appstrate-cli"}, true},
		{"JSON", "application/json", `{"client_id":"appstrate-cli","scope":null}`, map[string]string{"client_id": "appstrate-cli"}, true},
		{"JSON sniffed", "", ` {"client_id":"x"}`, map[string]string{"client_id": "x"}, true},
		{"form sniffed", "text/plain", "client_id=x", map[string]string{"client_id": "x"}, true},
		{"empty JSON body", "application/json", "", map[string]string{}, true},
		{"empty form", "", "", map[string]string{}, true},
		{"repeated form parameter", "", "a=1&a=2", nil, false},
		{"bad escape", "application/x-www-form-urlencoded", "a=%zz", nil, false},
		{"JSON array", "application/json", `["x"]`, nil, false},
		{"JSON null", "application/json", `null`, nil, false},
		{"JSON number member", "application/json", `{"client_id":1}`, nil, false},
		{"JSON object member", "application/json", `{"client_id":{}}`, nil, false},
		{"trailing garbage", "application/json", `{"a":"b"} x`, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseParams(tt.contentType, []byte(tt.body))
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if !tt.ok {
				return
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
}

// FuzzParseParams: any body either fails with an invalid_request message or yields string parameters that
// round-trip through the other encoding.
func FuzzParseParams(f *testing.F) {
	seeds := []struct{ ct, body string }{
		{"application/x-www-form-urlencoded", "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=abc&client_id=appstrate-cli"},
		{"application/x-www-form-urlencoded", "grant_type=refresh_token&refresh_token=x&client_id=appstrate-cli"},
		{"application/json", `{"grant_type":"refresh_token","refresh_token":"x","client_id":"appstrate-cli"}`},
		{"application/json; charset=utf-8", `{"token":"t","client_id":null}`},
		{"", `{"a":"\u0000"}`},
		{"text/plain", "a=1&a=2"},
		{"application/x-www-form-urlencoded", "%"},
		{"application/vnd.api+json", `{"a":1}`},
		{"multipart/form-data; boundary=x", "--x--"},
	}
	for _, s := range seeds {
		f.Add(s.ct, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		params, err := parseParams(contentType, body)
		if err != nil {
			if params != nil {
				t.Fatal("params returned with an error")
			}
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		// Whatever was accepted survives a form round trip and a JSON round trip unchanged.
		form := url.Values{}
		for k, v := range params {
			form.Set(k, v)
		}
		back, err := parseParams("application/x-www-form-urlencoded", []byte(form.Encode()))
		if err != nil || len(back) != len(params) {
			t.Fatalf("form round trip of %q: %v %v", params, back, err)
		}
		raw, _ := json.Marshal(params)
		again, err := parseParams("application/json", raw)
		if err != nil || len(again) != len(params) {
			t.Fatalf("JSON round trip of %q: %v %v", params, again, err)
		}
		for k, v := range params {
			if back[k] != v || again[k] != v {
				t.Fatalf("parameter %q changed: %q / %q / %q", k, v, back[k], again[k])
			}
		}
	})
}
