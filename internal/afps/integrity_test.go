package afps

import (
	"encoding/json"
	"testing"
)

func TestSRI(t *testing.T) {
	// sha256("") and sha256("abc"), base64 with padding.
	if got := SRI(nil); got != "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" {
		t.Fatalf("SRI(empty) = %s", got)
	}
	abc := SRI([]byte("abc"))
	if abc != "sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=" {
		t.Fatalf("SRI(abc) = %s", abc)
	}
	if !VerifySRI([]byte("abc"), abc) || VerifySRI([]byte("abd"), abc) {
		t.Fatal("VerifySRI")
	}
	for _, bad := range []string{"", "sha512-" + abc[7:], "sha256-", "sha256-!!!!", "sha256-" + abc[7:len(abc)-1], "sha256-YWJj"} {
		if _, err := ParseSRI(bad); err == nil {
			t.Errorf("ParseSRI(%q) must fail", bad)
		}
		if VerifySRI([]byte("abc"), bad) {
			t.Errorf("VerifySRI with %q must fail", bad)
		}
	}
	if !EqualSRI(abc, abc) || EqualSRI(abc, SRI(nil)) || EqualSRI(abc, abc+"x") {
		t.Fatal("EqualSRI")
	}
}

func TestCanonicalJSON(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"b":1,"a":[true,null,"x"]}`, `{"a":[true,null,"x"],"b":1}`},
		{`{"html":"<a href='x'>&</a>"}`, `{"html":"<a href='x'>&</a>"}`},
		{`"\u2028\u2029"`, "\"\u2028\u2029\""},
		{`"\u0001\b\f\n\r\t\"\\/"`, `"\u0001\b\f\n\r\t\"\\/"`},
		{`[1.0, 1e21, 1e20, 0.000001, 1e-7, -0, 1.5e300, 123456789012345680000, 0.1]`, `[1,1e+21,100000000000000000000,0.000001,1e-7,0,1.5e+300,123456789012345680000,0.1]`},
		{`{"\ud83d\ude00":1,"\uffff":2,"a":3}`, "{\"a\":3,\"\U0001F600\":1,\"\uffff\":2}"},
		{` { "nested" : { "z" : 1 , "y" : [ { "b" : 2 , "a" : 1 } ] } } `, `{"nested":{"y":[{"a":1,"b":2}],"z":1}}`},
	}
	for _, tt := range tests {
		got, err := CanonicalizeJSON([]byte(tt.in))
		if err != nil || string(got) != tt.want {
			t.Errorf("CanonicalizeJSON(%s) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
	if _, err := CanonicalJSON(map[string]any{"x": json.Number("NaN")}); err == nil {
		t.Error("NaN must be refused")
	}
	type s struct {
		B string `json:"b"`
		A int    `json:"a"`
	}
	if got, _ := CanonicalJSON(s{B: "x", A: 1}); string(got) != `{"a":1,"b":"x"}` {
		t.Errorf("struct: %s", got)
	}
}
