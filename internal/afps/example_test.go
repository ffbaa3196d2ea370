package afps_test

import (
	"context"
	"fmt"

	"github.com/appstrate/appstrate-go/internal/afps"
	"github.com/appstrate/appstrate-go/internal/afps/semver"
)

func ExamplePack() {
	files := map[string][]byte{
		"manifest.json": []byte(`{"name":"@acme/tone","version":"1.0.0","type":"skill"}`),
		"SKILL.md":      []byte("---\nname: tone\ndescription: Rewrite the tone of a text\n---\n# Tone\n"),
	}
	data, integrity, err := afps.Pack(files, afps.ValidateOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := afps.ReadPackage(data, afps.ValidateOptions{})
	fmt.Println(p.Manifest.Identity(), err, afps.VerifySRI(data, integrity))
	// Output: @acme/tone@1.0.0 <nil> true
}

func ExampleValidate() {
	m, _ := afps.ParseManifest([]byte(`{"name":"acme","version":"1.0","type":"skill","dependencies":{"tools":{"@acme/x":"^^1"}}}`))
	for _, detail := range afps.Validate(m, afps.ValidateOptions{}).(*afps.ValidationError).Details() {
		fmt.Println(detail)
	}
	// Output:
	// name: Must be a scoped package name @scope/name (lowercase letters, digits and inner hyphens)
	// version: Must be a valid semver version (e.g. 1.0.0)
	// dependencies.tools.@acme/x: Invalid semver range "^^1"
}

func ExampleBuildBundle() {
	load := func(files map[string][]byte) *afps.Package {
		p, _ := afps.LoadPackage(files, afps.ValidateOptions{})
		return p
	}
	root := load(map[string][]byte{
		"manifest.json": []byte(`{"name":"@acme/agent","version":"1.0.0","type":"agent","schemaVersion":"1.1","displayName":"Agent",
			"dependencies":{"skills":{"@acme/tone":"^1.0.0"}}}`),
		"prompt.md": []byte("Rewrite {{input.text}}"),
	})
	skill := func(v string) *afps.Package {
		return load(map[string][]byte{
			"manifest.json": []byte(`{"name":"@acme/tone","version":"` + v + `","type":"skill"}`),
			"SKILL.md":      []byte("---\nname: tone\n---\n"),
		})
	}
	b, _, err := afps.BuildBundle(context.Background(), root, afps.NewMemCatalog(skill("1.0.0"), skill("1.3.0"), skill("2.0.0")), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(b.Identities())
	// Output: [@acme/agent@1.0.0 @acme/tone@1.3.0]
}

func ExampleMaxSatisfying() {
	v, _ := semver.MaxSatisfying([]string{"1.0.0", "1.4.2", "1.5.0-beta.1", "2.0.0"}, "^1.0.0")
	r, _ := semver.ValidRange("~1.2 || 2.x")
	fmt.Println(v, r)
	// Output: 1.4.2 >=1.2.0 <1.3.0-0||>=2.0.0 <3.0.0-0
}
