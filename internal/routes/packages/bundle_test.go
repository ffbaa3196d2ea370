package packages_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/appstrate/appstrate-go/internal/afps"
	"github.com/appstrate/appstrate-go/internal/apptest"
)

type bundleBody struct {
	Imported []struct {
		Identity  string `json:"identity"`
		Status    string `json:"status"`
		VersionID int64  `json:"versionId"`
	} `json:"imported"`
	RootInstalled bool   `json:"rootInstalled"`
	RootPackageID string `json:"rootPackageId"`
	RootVersion   string `json:"rootVersion"`
}

func loadPkg(t *testing.T, files map[string]string) *afps.Package {
	t.Helper()
	m := map[string][]byte{}
	for k, v := range files {
		m[k] = []byte(v)
	}
	p, err := afps.LoadPackage(m, afps.ValidateOptions{})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return p
}

func skillPkg(t *testing.T, id, version, marker string) *afps.Package {
	return loadPkg(t, map[string]string{
		"manifest.json": fmt.Sprintf(`{"name":%q,"version":%q,"type":"skill"}`, id, version),
		"SKILL.md":      skillText + marker,
	})
}

func agentPkg(t *testing.T, id, version string, skills map[string]string) *afps.Package {
	deps := ""
	for dep, rng := range skills {
		if deps != "" {
			deps += ","
		}
		deps += fmt.Sprintf("%q:%q", dep, rng)
	}
	return loadPkg(t, map[string]string{
		"manifest.json": fmt.Sprintf(`{"name":%q,"version":%q,"type":"agent","schemaVersion":"1.1","displayName":"Flow","dependencies":{"skills":{%s}}}`,
			id, version, deps),
		"prompt.md": promptText,
	})
}

func bundleBytes(t *testing.T, root *afps.Package, deps ...*afps.Package) []byte {
	t.Helper()
	b, err := afps.NewBundle(root, deps, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, err := b.Write()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestImportBundle(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		acme := newTenant(t, e, "acme")
		other := newTenant(t, e, "other")
		other.createPackage(t, "skill", "theirs", "1.0.0")

		helper := skillPkg(t, "@acme/helper", "1.0.0", "helper")
		util := skillPkg(t, "@vendor/util", "2.1.0", "util")
		root := agentPkg(t, "@acme/flow", "1.0.0", map[string]string{"@acme/helper": "^1.0.0", "@vendor/util": "^2.0.0"})
		data := bundleBytes(t, root, helper, util)

		r := acme.upload("/api/packages/import-bundle", "file", "flow.afps-bundle", data)
		expect(t, r, 201, "")
		first := decode[bundleBody](t, r)
		if len(first.Imported) != 3 || !first.RootInstalled || first.RootPackageID != "@acme/flow" || first.RootVersion != "1.0.0" {
			t.Fatalf("import: %s", r.Body)
		}
		for _, it := range first.Imported {
			if it.Status != "inserted" || it.VersionID == 0 {
				t.Fatalf("entry: %+v", it)
			}
		}
		// The root is listed in the application; the stored archive is the bundle's content.
		list := decode[listBody](t, acme.do(http.MethodGet, "/api/packages/agents", nil))
		if len(list.Data) != 1 || list.Data[0].ID != "@acme/flow" {
			t.Fatalf("agents: %+v", list)
		}
		if d := decode[versionDetailBody](t, acme.do(http.MethodGet, "/api/packages/skills/@vendor/util/versions/2.1.0", nil)); d.Content != skillText+"util" {
			t.Fatalf("util: %+v", d)
		}

		// Same bundle again (other field name): everything reused with the same version ids.
		r = acme.upload("/api/packages/import-bundle", "bundle", "flow.afps-bundle", data)
		expect(t, r, 201, "")
		again := decode[bundleBody](t, r)
		for i, it := range again.Imported {
			if it.Status != "reused" || it.VersionID != first.Imported[i].VersionID {
				t.Fatalf("re-import: %s", r.Body)
			}
		}

		// Conflicts: same version with other content, another organization's package. Nothing is written.
		conflicting := bundleBytes(t, agentPkg(t, "@acme/flow2", "1.0.0", map[string]string{"@acme/helper": "1.0.0", "@other/theirs": "^1.0.0"}),
			skillPkg(t, "@acme/helper", "1.0.0", "tampered"), skillPkg(t, "@other/theirs", "1.0.0", "x"))
		r = acme.upload("/api/packages/import-bundle", "file", "x.afps-bundle", conflicting)
		expect(t, r, 409, "bundle_conflict")
		codes := map[string]string{}
		for _, fe := range r.Problem(t).Errors {
			codes[fe.Field] = fe.Code
		}
		if codes["@acme/helper@1.0.0"] != "integrity_mismatch" || codes["@other/theirs@1.0.0"] != "foreign_org_owner" || len(codes) != 2 {
			t.Fatalf("conflicts: %s", r.Body)
		}
		var n int
		if err := e.DB.QueryRowContext(t.Context(), `SELECT count(*) FROM packages WHERE id = '@acme/flow2'`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("conflicting bundle left rows: %d %v", n, err)
		}

		// A lower version of an existing package is a conflict too.
		r = acme.upload("/api/packages/import-bundle", "file", "x.afps-bundle",
			bundleBytes(t, agentPkg(t, "@acme/flow3", "1.0.0", map[string]string{"@acme/helper": "0.5.0"}), skillPkg(t, "@acme/helper", "0.5.0", "old")))
		expect(t, r, 409, "bundle_conflict")

		// A single .afps: dependencies come from the organization's published versions.
		single := agentPkg(t, "@acme/solo", "1.0.0", map[string]string{"@acme/helper": "^1.0.0"})
		archive, err := afps.WritePackage(single.Files)
		if err != nil {
			t.Fatal(err)
		}
		r = acme.upload("/api/packages/import-bundle", "file", "solo.afps", archive)
		expect(t, r, 201, "")
		solo := decode[bundleBody](t, r)
		status := map[string]string{}
		for _, it := range solo.Imported {
			status[it.Identity] = it.Status
		}
		if status["@acme/solo@1.0.0"] != "inserted" || status["@acme/helper@1.0.0"] != "reused" || len(status) != 2 {
			t.Fatalf("single: %s", r.Body)
		}
		// Unresolvable dependency.
		missing, _ := afps.WritePackage(agentPkg(t, "@acme/lost", "1.0.0", map[string]string{"@acme/nowhere": "^1.0.0"}).Files)
		expect(t, acme.upload("/api/packages/import-bundle", "file", "lost.afps", missing), 400, "dependency_unresolved")

		// Reader errors are 400 with the lower-cased code.
		broken, _ := afps.WriteStoredPackage(map[string][]byte{"bundle.json": []byte("{")})
		expect(t, acme.upload("/api/packages/import-bundle", "file", "b.afps-bundle", broken), 400, "bundle_json_invalid")
		expect(t, acme.upload("/api/packages/import-bundle", "file", "b.txt", broken), 400, "invalid_request")
	})
}
