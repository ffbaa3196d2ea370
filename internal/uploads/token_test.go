package uploads

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/ids"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

func testClaims() Claims {
	id := ids.New(ids.Upload)
	return Claims{StorageKey: "org/app_x/" + id, Expires: 1_900_000_000_000, Size: 1234, MIME: "application/pdf",
		UploadID: id, OrgID: "org", AppID: "app_x"}
}

func TestTokenRoundTrip(t *testing.T) {
	c := testClaims()
	tok, err := SignToken(testSecret, c)
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(tok, "+/=") || strings.Count(tok, ".") != 1 {
		t.Fatalf("token %q is not two base64url parts", tok)
	}
	got, err := ParseToken(testSecret, tok)
	if err != nil || got != c {
		t.Fatalf("ParseToken = %+v, %v; want %+v", got, err, c)
	}
}

func TestTokenRefused(t *testing.T) {
	c := testClaims()
	tok, _ := SignToken(testSecret, c)
	payload, sig, _ := strings.Cut(tok, ".")
	forged := func(mut func(*Claims)) string {
		c2 := c
		mut(&c2)
		t2, _ := SignToken(testSecret, c2)
		p2, _, _ := strings.Cut(t2, ".")
		return p2 + "." + sig // new claims, old signature
	}
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	otherSecret, _ := SignToken([]byte("another-secret-of-32-bytes-long!"), c)
	bad := map[string]struct {
		secret []byte
		token  string
	}{
		"empty":                  {testSecret, ""},
		"no separator":           {testSecret, payload + sig},
		"three parts":            {testSecret, tok + ".x"},
		"empty payload":          {testSecret, "." + sig},
		"signature flipped":      {testSecret, payload + "." + flip(sig, 3)},
		"payload flipped":        {testSecret, flip(payload, 5) + "." + sig},
		"size raised":            {testSecret, forged(func(c *Claims) { c.Size = 1 << 40 })},
		"expiry extended":        {testSecret, forged(func(c *Claims) { c.Expires += 3_600_000 })},
		"mime changed":           {testSecret, forged(func(c *Claims) { c.MIME = "image/png" })},
		"other upload":           {testSecret, forged(func(c *Claims) { c.UploadID = ids.New(ids.Upload) })},
		"other secret":           {testSecret, otherSecret},
		"no secret":              {nil, tok},
		"padded signature":       {testSecret, payload + "." + base64.URLEncoding.EncodeToString(mustDecode(t, sig))},
		"std base64 signature":   {testSecret, payload + "." + strings.NewReplacer("-", "+", "_", "/").Replace(sig) + "+"},
		"too long":               {testSecret, tok + strings.Repeat("A", maxTokenLen)},
		"signed garbage payload": {testSecret, signRaw(`not json`)},
		"signed bad id":          {testSecret, signRaw(`{"k":"a","e":1,"s":1,"m":"text/plain","u":"upl_x","o":"o","a":"a"}`)},
		"signed unnormalised":    {testSecret, signRaw(`{"k":"a","e":1,"s":1,"m":"Text/Plain","u":"` + c.UploadID + `","o":"o","a":"a"}`)},
		"signed negative size":   {testSecret, signRaw(`{"k":"a","e":1,"s":-1,"m":"text/plain","u":"` + c.UploadID + `","o":"o","a":"a"}`)},
	}
	for name, tc := range bad {
		if _, err := ParseToken(tc.secret, tc.token); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: ParseToken = %v, want ErrInvalidToken", name, err)
		}
	}
}

func mustDecode(t *testing.T, s string) []byte {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signRaw signs an arbitrary payload, as someone holding the secret would.
func signRaw(raw string) string {
	p := base64.RawURLEncoding.EncodeToString([]byte(raw))
	return p + "." + base64.RawURLEncoding.EncodeToString(mac(testSecret, p))
}

func FuzzParseToken(f *testing.F) {
	good, _ := SignToken(testSecret, testClaims())
	f.Add(good)
	f.Add("")
	f.Add(".")
	f.Add("a.b")
	f.Add(signRaw(`{}`))
	f.Add(signRaw(`{"k":"a","e":1,"s":1,"m":"text/plain","u":"upl_00000000-0000-4000-8000-000000000000","o":"o","a":"a"}`))
	f.Add(good + "=")
	f.Fuzz(func(t *testing.T, token string) {
		c, err := ParseToken(testSecret, token)
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("error %v is not ErrInvalidToken", err)
			}
			return
		}
		// Accepted: the token carries a valid signature over claims that satisfy the invariants, and they
		// survive a round trip.
		if !ids.Valid(c.UploadID, ids.Upload) || c.Size < 0 || NormalizeMIME(c.MIME) != c.MIME {
			t.Fatalf("accepted invalid claims %+v", c)
		}
		again, err := SignToken(testSecret, c)
		if err != nil {
			t.Fatal(err)
		}
		if c2, err := ParseToken(testSecret, again); err != nil || c2 != c {
			t.Fatalf("round trip: %+v %v", c2, err)
		}
	})
}
