package endusers

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestEndUserBodyPresence(t *testing.T) {
	tests := []struct {
		doc              string
		nameSet, nameNil bool
		metaSet, metaNil bool
	}{
		{`{}`, false, true, false, true},
		{`{"name":null}`, true, true, false, true},
		{`{"name":"x","metadata":null}`, true, false, true, true},
		{`{"metadata":{"a":1}}`, false, true, true, false},
	}
	for _, tc := range tests {
		var b EndUserBody
		if err := json.Unmarshal([]byte(tc.doc), &b); err != nil {
			t.Fatalf("%s: %v", tc.doc, err)
		}
		if b.Name.Set != tc.nameSet || (b.Name.Value == nil) != tc.nameNil || b.Metadata.Set != tc.metaSet || (b.Metadata.Value == nil) != tc.metaNil {
			t.Errorf("%s: %+v", tc.doc, b)
		}
	}
}

// FuzzEndUserBody decodes arbitrary bodies into the presence-tracking members: no panic, and a member that
// decodes is marked present with the value encoding/json would give.
func FuzzEndUserBody(f *testing.F) {
	for _, s := range []string{`{}`, `{"name":null}`, `{"name":"x","email":"a@b.io","externalId":"1","metadata":{"k":1}}`,
		`{"metadata":null}`, `{"metadata":[1]}`, `{"name":1}`, `{"name":"\u0000"}`, `null`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		var b EndUserBody
		if json.Unmarshal(doc, &b) != nil {
			return
		}
		var raw map[string]json.RawMessage
		if json.Unmarshal(doc, &raw) != nil {
			return
		}
		for k := range raw { // encoding/json matches members case-insensitively; huma's schema check does not
			for _, member := range []string{"name", "email", "externalId", "metadata", "applicationId"} {
				if k != member && strings.EqualFold(k, member) {
					return
				}
			}
		}
		if v, ok := raw["name"]; ok != b.Name.Set || (ok && (string(v) == "null") != (b.Name.Value == nil)) {
			t.Fatalf("%s: name %+v", doc, b.Name)
		}
		if v, ok := raw["metadata"]; ok != b.Metadata.Set || (ok && string(v) == "null" && b.Metadata.Value != nil) {
			t.Fatalf("%s: metadata %+v", doc, b.Metadata)
		}
	})
}
