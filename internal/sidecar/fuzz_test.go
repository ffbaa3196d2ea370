package sidecar

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func addSeeds(f *testing.F, glob string) {
	f.Helper()
	paths, _ := filepath.Glob(glob)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzDecodeCallArgs: provider_call arguments come from the model. Decoding never panics, every refusal is an
// *argError, and accepted arguments respect the limits.
func FuzzDecodeCallArgs(f *testing.F) {
	addSeeds(f, "testdata/callargs/*.json")
	const limit = 4096
	f.Fuzz(func(t *testing.T, raw []byte) {
		args, err := decodeCallArgs(json.RawMessage(raw), limit)
		if err != nil {
			var ae *argError
			if !errors.As(err, &ae) || ae.msg == "" {
				t.Fatalf("refusal is not an argError: %v", err)
			}
			return
		}
		if !providerIDRE.MatchString(args.ProviderID) || args.Target == "" || !callMethods[args.Method] {
			t.Fatalf("accepted invalid args %+v", args)
		}
		if args.Body != nil {
			if args.Body.size() > limit {
				t.Fatalf("accepted a body of %d bytes", args.Body.size())
			}
			if args.Method == "GET" || args.Method == "HEAD" {
				t.Fatal("accepted a body on GET/HEAD")
			}
			if len(args.Body.Multipart) > maxMultipartParts {
				t.Fatal("too many parts accepted")
			}
			if _, _, err := args.encodeBody(map[string]string{"a": "b"}); err != nil && !args.SubstituteBody {
				t.Fatalf("accepted body does not encode: %v", err)
			}
		}
		for name, vs := range args.Headers {
			if reservedCallHeaders[name] || !validHeaderName(name) || !validHeaderValue(vs[0]) {
				t.Fatalf("accepted header %q: %q", name, vs)
			}
		}
	})
}

// FuzzModelFromJSONHead: the model sniffer reads arbitrary request heads without panicking, and finds the
// model after any other member in a well-formed body.
func FuzzModelFromJSONHead(f *testing.F) {
	f.Add(`claude`, `{"messages":[]}`, []byte(`{"model":"claude","messages":[]}`))
	f.Add(`gpt`, `[1,{"x":"}"}]`, []byte(`{"messages":[{"role":"user","content":"trunc`))
	f.Add(``, `null`, []byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, model, other string, head []byte) {
		_ = modelFromJSONHead(head)
		var first json.RawMessage
		if json.Unmarshal([]byte(other), &first) != nil {
			first, _ = json.Marshal(other)
		}
		name, _ := json.Marshal(model)
		body := []byte(`{"a":` + string(first) + `,"model":` + string(name) + `,"z":1}`)
		var want string
		_ = json.Unmarshal(name, &want)
		if got := modelFromJSONHead(body); got != want {
			t.Fatalf("model of %s = %q, want %q", body, got, want)
		}
	})
}
