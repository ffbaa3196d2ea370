package afps

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"hash/crc32"
	"io/fs"
	"testing"
)

// zent is one crafted ZIP entry. mode 0 means a regular 0644 file; declared > 0 overrides the uncompressed
// size written in the headers (to lie about it).
type zent struct {
	name     string
	body     []byte
	mode     fs.FileMode
	declared uint64
}

// craftZip builds a ZIP with exact control over names, modes and declared sizes (entries are written raw, so
// archive/zip does not fix anything up).
func craftZip(t testing.TB, entries ...zent) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		var comp bytes.Buffer
		fw, _ := flate.NewWriter(&comp, flate.BestCompression)
		fw.Write(e.body)
		fw.Close()
		h := &zip.FileHeader{
			Name:               e.name,
			Method:             zip.Deflate,
			CRC32:              crc32.ChecksumIEEE(e.body),
			CompressedSize64:   uint64(comp.Len()),
			UncompressedSize64: uint64(len(e.body)),
			Modified:           PinnedModTime,
		}
		if e.declared > 0 {
			h.UncompressedSize64 = e.declared
		}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		h.SetMode(mode)
		w, err := zw.CreateRaw(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(comp.Bytes())
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func skillFiles() map[string][]byte {
	return map[string][]byte{
		"manifest.json": []byte(validSkill),
		"SKILL.md":      []byte("---\nname: tone\ndescription: Rewrite the tone\n---\n# Tone\n"),
	}
}

func skillEntries(prefix string) []zent {
	var out []zent
	files := skillFiles()
	for _, p := range sortedPaths(files) {
		out = append(out, zent{name: prefix + p, body: files[p]})
	}
	return out
}

// fixtureArchives are the crafted archives committed under testdata/ (and used as fuzz seeds).
func fixtureArchives(t testing.TB) map[string][]byte {
	zeros := make([]byte, 8<<20)
	return map[string][]byte{
		// 8 MiB of zeros (about 8 KiB compressed) whose header claims 1 GiB.
		"zipbomb.afps": craftZip(t, append(skillEntries(""), zent{name: "bomb.bin", body: zeros, declared: 1 << 30})...),
		// The same payload, honestly declared: caught by the compression ratio.
		"ratio-bomb.afps": craftZip(t, append(skillEntries(""), zent{name: "bomb.bin", body: zeros})...),
		"traversal.afps":  craftZip(t, append(skillEntries(""), zent{name: "../evil.txt", body: []byte("pwned")}, zent{name: "refs/../../x", body: []byte("x")})...),
		"absolute.afps":   craftZip(t, append(skillEntries(""), zent{name: "/etc/cron.d/evil", body: []byte("* * * * * root sh")})...),
		"symlink.afps":    craftZip(t, append(skillEntries(""), zent{name: "link", body: []byte("/etc/passwd"), mode: fs.ModeSymlink | 0o777})...),
		"duplicate.afps":  craftZip(t, append(skillEntries(""), zent{name: "./SKILL.md", body: []byte("---\nname: other\n---\n")})...),
		"wrapper.afps":    craftZip(t, skillEntries("my-skill/")...),
		"macosx.afps":     craftZip(t, append(skillEntries(""), zent{name: "__MACOSX/._SKILL.md", body: []byte{0, 5, 22, 7}})...),
		"backslash.afps":  craftZip(t, append(skillEntries(""), zent{name: "..\\evil.txt", body: []byte("x")})...),
	}
}
