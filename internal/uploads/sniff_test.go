package uploads

import (
	"archive/zip"
	"bytes"
	"strings"
	"testing"
)

// zipOf builds a ZIP archive with the given entries, in order; stored entries are not compressed.
func zipOf(t testing.TB, entries ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for i := 0; i+1 < len(entries); i += 2 {
		method := zip.Deflate
		if entries[i] == "mimetype" {
			method = zip.Store
		}
		f, err := w.CreateHeader(&zip.FileHeader{Name: entries[i], Method: method})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write([]byte(entries[i+1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Samples of each format, as small as the signatures allow.
func samples(t testing.TB) map[string][]byte {
	ct := `<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>`
	bmp := append([]byte("BM\x46\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00"), 40, 0, 0, 0)
	return map[string][]byte{
		"pdf":      []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"),
		"pdf-bom":  []byte("\xEF\xBB\xBF\n%PDF-1.4\n"),
		"png":      []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"),
		"jpeg":     []byte("\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"),
		"gif":      []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!"),
		"webp":     []byte("RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00/\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"),
		"wav":      []byte("RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x44\xac\x00\x00"),
		"tiff":     []byte("II*\x00\x08\x00\x00\x00\x00\x00"),
		"bmp":      bmp,
		"heic":     []byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"),
		"avif":     []byte("\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf"),
		"m4a":      []byte("\x00\x00\x00\x20ftypM4A \x00\x00\x02\x00M4A isomiso2"),
		"mp4":      []byte("\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41"),
		"mp3-id3":  []byte("ID3\x04\x00\x00\x00\x00\x00\x23TSSE"),
		"mp3-sync": []byte("\xFF\xFB\x90\x64\x00\x00\x00\x00"),
		"aac":      []byte("\xFF\xF1\x50\x80\x02\x1F\xFC\x21"),
		"ogg":      []byte("OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00"),
		"flac":     []byte("fLaC\x00\x00\x00\x22"),
		"webm":     []byte("\x1A\x45\xDF\xA3\x9F\x42\x86\x81\x01"),
		"ole":      []byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\x00\x00\x00\x00"),
		"rtf":      []byte("{\\rtf1\\ansi Hello}"),
		"docx":     zipOf(t, "[Content_Types].xml", ct, "_rels/.rels", "<Relationships/>", "word/document.xml", "<w:document/>"),
		"docx-late": zipOf(t, "_rels/.rels", "<Relationships/>", "word/document.xml", "<w:document/>",
			"[Content_Types].xml", ct),
		"xlsx":    zipOf(t, "[Content_Types].xml", ct, "xl/workbook.xml", "<workbook/>"),
		"pptx":    zipOf(t, "[Content_Types].xml", ct, "ppt/presentation.xml", "<p:presentation/>"),
		"odt":     zipOf(t, "mimetype", MIMEODT, "content.xml", "<office:document-content/>"),
		"epub":    zipOf(t, "mimetype", MIMEEPUB, "META-INF/container.xml", "<container/>"),
		"zip":     zipOf(t, "notes.txt", "hello"),
		"text":    []byte("name,amount\nalice,12\nbob,7\n"),
		"utf8":    []byte("Résumé — naïve café ☕\n"),
		"html":    []byte("<!DOCTYPE html><html><body>hi</body></html>"),
		"json":    []byte(`{"a":[1,2,3]}`),
		"empty":   {},
		"binary":  {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0xfe, 0xff},
		"bm-text": []byte("BMW and BMX riders meet on Sunday\n"),
	}
}

func TestDetect(t *testing.T) {
	s := samples(t)
	for name, want := range map[string]string{
		"pdf": MIMEPDF, "pdf-bom": MIMEPDF, "png": MIMEPNG, "jpeg": MIMEJPEG, "gif": MIMEGIF, "webp": MIMEWebP,
		"wav": MIMEWAV, "tiff": MIMETIFF, "bmp": MIMEBMP, "heic": MIMEHEIC, "avif": MIMEAVIF, "m4a": MIMEM4A,
		"mp4": MIMEMP4, "mp3-id3": MIMEMP3, "mp3-sync": MIMEMP3, "aac": MIMEAAC, "ogg": MIMEOgg, "flac": MIMEFLAC,
		"webm": MIMEWebM, "ole": MIMEOLE, "rtf": MIMERTF, "docx": MIMEDOCX, "docx-late": MIMEDOCX, "xlsx": MIMEXLSX,
		"pptx": MIMEPPTX, "odt": MIMEODT, "epub": MIMEEPUB, "zip": MIMEZip, "text": "text/plain", "utf8": "text/plain",
		"html": "text/html", "json": "text/plain", "empty": "text/plain", "binary": MIMEOctetStream,
		"bm-text": "text/plain",
	} {
		if got := DetectBytes(s[name]); got != want {
			t.Errorf("Detect(%s) = %q, want %q", name, got, want)
		}
	}
}

func TestMatches(t *testing.T) {
	s := samples(t)
	tests := []struct {
		declared, sample string
		want             bool
	}{
		{"application/pdf", "pdf", true},
		{"application/pdf", "png", false},
		{"application/pdf", "text", false},
		{MIMEDOCX, "docx", true},
		{MIMEDOCX, "xlsx", false},
		{MIMEDOCX, "zip", false},
		{MIMEXLSX, "xlsx", true},
		{MIMEPPTX, "pptx", true},
		{"application/msword", "ole", true},
		{"application/msword", "docx", false},
		{"application/vnd.ms-excel", "ole", true},
		{"application/vnd.ms-excel", "text", true}, // .csv labelled by Windows browsers
		{MIMEODT, "odt", true},
		{MIMEEPUB, "epub", true},
		{"image/png", "png", true},
		{"image/png", "jpeg", false},
		{"image/jpeg", "jpeg", true},
		{"image/jpg", "jpeg", true},
		{"image/heif", "heic", true},
		{"audio/mpeg", "mp3-id3", true},
		{"audio/mpeg", "wav", false},
		{"audio/x-wav", "wav", true},
		{"audio/x-m4a", "m4a", true},
		{"audio/mp4", "mp4", true},
		{"text/plain", "text", true},
		{"text/csv", "text", true},
		{"text/markdown", "utf8", true},
		{"application/json", "json", true},
		{"text/html", "html", true},
		{"text/plain", "empty", true},
		{"text/plain", "png", false},
		{"text/plain", "pdf", false},
		{"text/csv", "binary", false},
		{"application/zip", "zip", false}, // not an accepted type
		{"application/octet-stream", "binary", false},
	}
	for _, tc := range tests {
		if got := Matches(tc.declared, DetectBytes(s[tc.sample])); got != tc.want {
			t.Errorf("Matches(%s, %s=%s) = %v, want %v", tc.declared, tc.sample, DetectBytes(s[tc.sample]), got, tc.want)
		}
	}
}

func TestAllowedAndNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"application/pdf": "application/pdf", "Text/CSV; charset=utf-8": "text/csv", "image/PNG": "image/png",
		"": "", "pdf": "", "text/": "", ";": "",
	} {
		if got := NormalizeMIME(in); got != want {
			t.Errorf("NormalizeMIME(%q) = %q, want %q", in, got, want)
		}
	}
	for _, m := range AllowedTypes() {
		if !Allowed(m) || NormalizeMIME(m) != m {
			t.Errorf("allow-list entry %q is not normalised or not allowed", m)
		}
	}
	for _, m := range []string{"application/zip", "application/octet-stream", "application/x-msdownload", "image/svg+xml", "text/javascript"} {
		if Allowed(m) {
			t.Errorf("%s allowed", m)
		}
	}
}

// A ZIP whose directory claims more entries than a document has is not parsed (and is just a ZIP).
func TestDetectHugeZipDirectory(t *testing.T) {
	b := zipOf(t, "[Content_Types].xml", "x", "word/document.xml", "y")
	eocd := bytes.LastIndex(b, []byte("PK\x05\x06"))
	b[eocd+10], b[eocd+11] = 0xFE, 0xFF // 65534 entries
	if got := DetectBytes(b); got != MIMEZip {
		t.Fatalf("Detect = %q, want %q", got, MIMEZip)
	}
}

func FuzzDetect(f *testing.F) {
	for _, b := range samples(f) {
		f.Add(b)
	}
	f.Add([]byte("PK\x03\x04" + strings.Repeat("\x00", 40) + "PK\x05\x06" + strings.Repeat("\xff", 18)))
	f.Fuzz(func(t *testing.T, b []byte) {
		got := DetectBytes(b)
		if got == "" || NormalizeMIME(got) != got {
			t.Fatalf("Detect = %q: not a normalised media type", got)
		}
		if got2 := DetectBytes(b); got2 != got {
			t.Fatalf("Detect is not deterministic: %q then %q", got, got2)
		}
		// Whatever the content, a declared type matches only its own format family.
		if Matches("application/pdf", got) && got != MIMEPDF {
			t.Fatalf("%q accepted as a PDF", got)
		}
		if Matches("text/plain", got) != strings.HasPrefix(got, "text/") {
			t.Fatalf("%q and text/plain disagree", got)
		}
	})
}
