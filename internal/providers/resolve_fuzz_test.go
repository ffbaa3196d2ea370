package providers

import (
	"sort"
	"testing"
)

// FuzzRequirementsOf: any manifest bytes yield sorted, unique provider ids with non-nil scopes, and
// pfDeclares agrees with the list.
func FuzzRequirementsOf(f *testing.F) {
	for _, s := range []string{
		`{"name":"@a/b","version":"1.0.0","type":"agent","dependencies":{"providers":{"@x/mail":"^1.0.0","@x/crm":"*"}},` +
			`"providersConfiguration":{"@x/mail":{"scopes":["a","b"]}}}`,
		`{"dependencies":{"providers":{"@x/mail":1}},"providersConfiguration":{"@x/mail":{"scopes":"a"}}}`,
		`{"dependencies":{"providers":[]}}`, `{"dependencies":null}`, `[]`, `null`, ``, `{`, `{"providersConfiguration":{"@x/y":null}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, manifest []byte) {
		reqs := RequirementsOf(manifest)
		if reqs == nil {
			t.Fatal("nil requirements")
		}
		if !sort.SliceIsSorted(reqs, func(i, j int) bool { return reqs[i].ProviderID < reqs[j].ProviderID }) {
			t.Fatalf("not sorted: %+v", reqs)
		}
		for i, r := range reqs {
			if r.Scopes == nil || (i > 0 && reqs[i-1].ProviderID == r.ProviderID) {
				t.Fatalf("bad requirement list %+v", reqs)
			}
			if !pfDeclares(manifest, r.ProviderID) {
				t.Fatalf("%s listed but not declared", r.ProviderID)
			}
		}
		_ = pfRequiredAdminFields(manifest) // must not panic
	})
}
