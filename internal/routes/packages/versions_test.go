package packages_test

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"testing"

	"github.com/appstrate/appstrate-go/internal/apptest"
)

type versionsBody struct {
	Versions []struct {
		ID           int64    `json:"id"`
		Version      string   `json:"version"`
		Integrity    string   `json:"integrity"`
		ArtifactSize int64    `json:"artifactSize"`
		Yanked       bool     `json:"yanked"`
		YankedReason *string  `json:"yankedReason"`
		DistTags     []string `json:"distTags"`
	} `json:"versions"`
}

type versionDetailBody struct {
	ID           int64    `json:"id"`
	Version      string   `json:"version"`
	Content      string   `json:"content"`
	SourceCode   *string  `json:"sourceCode"`
	Yanked       bool     `json:"yanked"`
	YankedReason *string  `json:"yankedReason"`
	Integrity    string   `json:"integrity"`
	DistTags     []string `json:"distTags"`
}

// publish sets the draft version and publishes it.
func (tn *tenant) publish(t *testing.T, typ, id, version string) *apptest.Response {
	t.Helper()
	return tn.do(http.MethodPost, "/api/packages/"+typ+"s/"+id+"/versions", map[string]any{"version": version})
}

func TestVersionsForwardOnly(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		acme := newTenant(t, e, "acme")
		id := acme.createPackage(t, "skill", "tone", "1.0.0")
		item := "/api/packages/skills/" + id
		// The draft is exactly version 1.0.0: no changes.
		expect(t, acme.do(http.MethodPost, item+"/versions", nil), 409, "no_changes")
		// Same version, other content: refused (not higher).
		expect(t, acme.do(http.MethodPut, item, map[string]any{"content": skillText + "more", "lockVersion": 1}), 200, "")
		expect(t, acme.do(http.MethodPost, item+"/versions", nil), 409, "version_not_higher")
		// Lower: refused; invalid: refused.
		expect(t, acme.publish(t, "skill", id, "0.9.0"), 409, "version_not_higher")
		expect(t, acme.publish(t, "skill", id, "banana"), 400, "version_invalid")
		// Higher: created; it also rewrote the draft's version.
		r := acme.publish(t, "skill", id, "1.1.0")
		expect(t, r, 201, "")
		created := decode[struct {
			ID      int64  `json:"id"`
			Version string `json:"version"`
			Message string `json:"message"`
		}](t, r)
		if created.Version != "1.1.0" || created.ID == 0 || created.Message == "" {
			t.Fatalf("created: %+v", created)
		}
		info := decode[struct {
			Latest *string `json:"latestPublishedVersion"`
			Active *string `json:"activeVersion"`
		}](t, acme.do(http.MethodGet, item+"/versions/info", nil))
		if info.Latest == nil || *info.Latest != "1.1.0" || info.Active == nil || *info.Active != "1.1.0" {
			t.Fatalf("info: %+v", info)
		}
		// A prerelease never becomes latest.
		expect(t, acme.publish(t, "skill", id, "2.0.0-beta.1"), 201, "")
		list := decode[versionsBody](t, acme.do(http.MethodGet, item+"/versions", nil))
		if len(list.Versions) != 3 || list.Versions[0].Version != "2.0.0-beta.1" || list.Versions[1].Version != "1.1.0" ||
			len(list.Versions[1].DistTags) != 1 || list.Versions[1].DistTags[0] != "latest" || len(list.Versions[0].DistTags) != 0 {
			t.Fatalf("versions: %+v", list)
		}
		// Version detail: exact, tag, range; the range skips the prerelease.
		for query, want := range map[string]string{"1.0.0": "1.0.0", "latest": "1.1.0", "^1.0.0": "1.1.0", "2.0.0-beta.1": "2.0.0-beta.1", "~1.0.0": "1.0.0"} {
			d := decode[versionDetailBody](t, acme.do(http.MethodGet, item+"/versions/"+url.PathEscape(query), nil))
			if d.Version != want {
				t.Fatalf("%s resolved to %s, want %s", query, d.Version, want)
			}
		}
		d := decode[versionDetailBody](t, acme.do(http.MethodGet, item+"/versions/1.1.0", nil))
		if d.Content != skillText+"more" || d.Yanked || d.Integrity == "" || len(d.DistTags) != 1 {
			t.Fatalf("detail: %+v", d)
		}
		expect(t, acme.do(http.MethodGet, item+"/versions/^9.0.0", nil), 404, "not_found")

		// Restore 1.0.0 into the draft.
		r = acme.do(http.MethodPost, item+"/versions/1.0.0/restore", nil)
		expect(t, r, 200, "")
		restored := decode[struct {
			Restored    string `json:"restoredVersion"`
			LockVersion int    `json:"lockVersion"`
		}](t, r)
		if restored.Restored != "1.0.0" || restored.LockVersion < 2 {
			t.Fatalf("restore: %+v", restored)
		}
		det := decode[detailBody](t, acme.do(http.MethodGet, item, nil))
		if det.DraftContent != skillText || det.LockVersion != restored.LockVersion {
			t.Fatalf("draft after restore: %+v", det)
		}

		// Delete the latest version: latest moves to the highest remaining release.
		expect(t, acme.do(http.MethodDelete, item+"/versions/1.1.0", nil), 204, "")
		expect(t, acme.do(http.MethodDelete, item+"/versions/1.1.0", nil), 404, "not_found")
		tags := decode[struct {
			DistTags map[string]string `json:"distTags"`
		}](t, acme.do(http.MethodGet, item+"/dist-tags", nil))
		if tags.DistTags["latest"] != "1.0.0" {
			t.Fatalf("tags after delete: %+v", tags)
		}
		// Forward-only counts every existing version: 1.1.0 is free again but 2.0.0-beta.1 is higher.
		expect(t, acme.publish(t, "skill", id, "1.1.0"), 409, "version_not_higher")
	})
}

func TestConcurrentVersionCreation(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		acme := newTenant(t, e, "acme")
		id := acme.createPackage(t, "agent", "bot", "1.0.0")
		item := "/api/packages/agents/" + id

		// 8 goroutines publish the same new version: exactly one creates it, the others see it exists.
		run := func(version func(i int) string) []int {
			var wg sync.WaitGroup
			statuses := make([]int, 8)
			for i := range statuses {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := e.Do(apptest.Request{Method: http.MethodPost, Path: item + "/versions", Headers: acme.headers(),
						Body: map[string]any{"version": version(i)}})
					statuses[i] = r.Status
				}()
			}
			wg.Wait()
			return statuses
		}
		statuses := run(func(int) string { return "2.0.0" })
		created := 0
		for _, s := range statuses {
			switch s {
			case 201:
				created++
			case 409:
			default:
				t.Fatalf("statuses %v", statuses)
			}
		}
		if created != 1 {
			t.Fatalf("statuses %v", statuses)
		}
		// 8 goroutines publish 8 different versions: each is created at most once, in increasing order.
		statuses = run(func(i int) string { return fmt.Sprintf("3.0.%d", i) })
		created = 0
		for _, s := range statuses {
			if s == 201 {
				created++
			} else if s != 409 {
				t.Fatalf("statuses %v", statuses)
			}
		}
		rows, err := e.DB.QueryContext(t.Context(), `SELECT version FROM package_versions WHERE package_id = ? ORDER BY id`, id)
		if err != nil {
			t.Fatal(err)
		}
		var versions []string
		for rows.Next() {
			var v string
			rows.Scan(&v)
			versions = append(versions, v)
		}
		rows.Close()
		seen := map[string]bool{}
		for _, v := range versions {
			if seen[v] {
				t.Fatalf("version %s stored twice: %v", v, versions)
			}
			seen[v] = true
		}
		if !sort.SliceIsSorted(versions[2:], func(i, j int) bool { return versions[2+i] < versions[2+j] }) {
			t.Fatalf("not forward-only: %v", versions)
		}
		if len(versions) != 2+created || created < 1 {
			t.Fatalf("versions %v, %d created", versions, created)
		}
	})
}

func TestDistTagsAndYank(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		acme := newTenant(t, e, "acme")
		id := acme.createPackage(t, "tool", "echo", "1.0.0")
		item := "/api/packages/tools/" + id
		expect(t, acme.publish(t, "tool", id, "1.1.0"), 201, "")
		expect(t, acme.publish(t, "tool", id, "1.2.0-rc.1"), 201, "")
		tagsOf := func() map[string]string {
			t.Helper()
			return decode[struct {
				DistTags map[string]string `json:"distTags"`
			}](t, acme.do(http.MethodGet, item+"/dist-tags", nil)).DistTags
		}
		if tags := tagsOf(); len(tags) != 1 || tags["latest"] != "1.1.0" {
			t.Fatalf("tags: %v", tags)
		}
		cases := []struct {
			name, method, tag string
			body              any
			status            int
			code              string
		}{
			{"set next", http.MethodPut, "next", map[string]string{"version": "1.2.0-rc.1"}, 200, ""},
			{"set stable", http.MethodPut, "stable", map[string]string{"version": "1.0.0"}, 200, ""},
			{"latest protected", http.MethodPut, "latest", map[string]string{"version": "1.0.0"}, 400, "invalid_request"},
			{"latest not removable", http.MethodDelete, "latest", nil, 400, "invalid_request"},
			{"bad name", http.MethodPut, "Next", map[string]string{"version": "1.0.0"}, 400, "invalid_request"},
			{"version-like name", http.MethodPut, "v1.0.0", map[string]string{"version": "1.0.0"}, 400, "invalid_request"},
			{"unknown version", http.MethodPut, "old", map[string]string{"version": "0.1.0"}, 404, "not_found"},
			{"range is not a version", http.MethodPut, "old", map[string]string{"version": "^1.0.0"}, 404, "not_found"},
			{"remove missing", http.MethodDelete, "nope", nil, 404, "not_found"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				expect(t, acme.do(tc.method, item+"/dist-tags/"+tc.tag, tc.body), tc.status, tc.code)
			})
		}
		if tags := tagsOf(); tags["next"] != "1.2.0-rc.1" || tags["stable"] != "1.0.0" || tags["latest"] != "1.1.0" {
			t.Fatalf("tags: %v", tags)
		}
		// A dist-tag resolves in version detail and download.
		if d := decode[versionDetailBody](t, acme.do(http.MethodGet, item+"/versions/next", nil)); d.Version != "1.2.0-rc.1" ||
			d.SourceCode == nil || *d.SourceCode != toolSource {
			t.Fatalf("next: %+v", d)
		}

		// Yank 1.1.0: latest moves back to 1.0.0, ranges skip it, the exact version stays readable.
		r := acme.do(http.MethodPost, item+"/versions/1.1.0/yank", map[string]string{"reason": "broken"})
		expect(t, r, 200, "")
		if v := decode[versionDetailBody](t, r); !v.Yanked || v.YankedReason == nil || *v.YankedReason != "broken" {
			t.Fatalf("yank: %s", r.Body)
		}
		if tags := tagsOf(); tags["latest"] != "1.0.0" {
			t.Fatalf("latest after yank: %v", tags)
		}
		if d := decode[versionDetailBody](t, acme.do(http.MethodGet, item+"/versions/"+url.PathEscape("^1.0.0"), nil)); d.Version != "1.0.0" {
			t.Fatalf("range after yank: %s", d.Version)
		}
		if d := decode[versionDetailBody](t, acme.do(http.MethodGet, item+"/versions/1.1.0", nil)); !d.Yanked {
			t.Fatalf("exact after yank: %+v", d)
		}
		expect(t, acme.do(http.MethodPut, item+"/dist-tags/broken", map[string]string{"version": "1.1.0"}), 400, "version_yanked")
		dl := acme.do(http.MethodGet, "/api/packages/"+id+"/1.1.0/download", nil)
		expect(t, dl, 200, "")
		if dl.Header.Get("X-Yanked") != "true" {
			t.Fatalf("X-Yanked missing: %v", dl.Header)
		}
		if dl := acme.do(http.MethodGet, "/api/packages/"+id+"/1.0.0/download", nil); dl.Header.Get("X-Yanked") != "" {
			t.Fatalf("X-Yanked on a live version: %v", dl.Header)
		}
		// A tag whose target is yanked resolves to nothing (no range fallback).
		expect(t, acme.do(http.MethodPut, item+"/dist-tags/pinned", map[string]string{"version": "1.0.0"}), 200, "")
		expect(t, acme.do(http.MethodPost, item+"/versions/1.0.0/yank", nil), 200, "")
		expect(t, acme.do(http.MethodGet, item+"/versions/pinned", nil), 404, "not_found")
		if tags := tagsOf(); tags["latest"] != "1.0.0" {
			// No remaining non-yanked release: latest keeps its target (RepointTags removes it only when none is left).
			if _, ok := tags["latest"]; ok {
				t.Fatalf("latest after yanking every release: %v", tags)
			}
		}
		// Unyank both: latest goes back to the highest release.
		expect(t, acme.do(http.MethodPost, item+"/versions/1.0.0/unyank", nil), 200, "")
		expect(t, acme.do(http.MethodPost, item+"/versions/1.1.0/unyank", nil), 200, "")
		if tags := tagsOf(); tags["latest"] != "1.1.0" {
			t.Fatalf("latest after unyank: %v", tags)
		}
		expect(t, acme.do(http.MethodDelete, item+"/dist-tags/next", nil), 204, "")
		if _, ok := tagsOf()["next"]; ok {
			t.Fatal("next not removed")
		}
		expect(t, acme.do(http.MethodPost, item+"/versions/9.9.9/yank", nil), 404, "not_found")
	})
}
