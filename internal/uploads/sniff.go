package uploads

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"io"
	"mime"
	"net/http"
	"sort"
	"strings"
)

// Canonical MIME types Detect returns for the formats it recognises by signature.
const (
	MIMEPDF         = "application/pdf"
	MIMEZip         = "application/zip"
	MIMEOLE         = "application/x-ole-storage" // legacy Office (.doc, .xls, .ppt): a Compound File Binary
	MIMEDOCX        = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	MIMEXLSX        = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	MIMEPPTX        = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
	MIMEODT         = "application/vnd.oasis.opendocument.text"
	MIMEODS         = "application/vnd.oasis.opendocument.spreadsheet"
	MIMEODP         = "application/vnd.oasis.opendocument.presentation"
	MIMEEPUB        = "application/epub+zip"
	MIMERTF         = "application/rtf"
	MIMEPNG         = "image/png"
	MIMEJPEG        = "image/jpeg"
	MIMEGIF         = "image/gif"
	MIMEWebP        = "image/webp"
	MIMEBMP         = "image/bmp"
	MIMETIFF        = "image/tiff"
	MIMEHEIC        = "image/heic"
	MIMEHEIF        = "image/heif"
	MIMEAVIF        = "image/avif"
	MIMEMP3         = "audio/mpeg"
	MIMEAAC         = "audio/aac"
	MIMEWAV         = "audio/wav"
	MIMEOgg         = "audio/ogg"
	MIMEFLAC        = "audio/flac"
	MIMEM4A         = "audio/mp4"
	MIMEMP4         = "video/mp4"
	MIMEWebM        = "video/webm" // Matroska/WebM container, audio or video
	MIMEText        = "text/plain"
	MIMEOctetStream = "application/octet-stream"
)

// sniffLen is how much of the head Detect reads; enough for every signature below and for
// http.DetectContentType (512 bytes).
const sniffLen = 4096

// Limits of the ZIP directory Detect is willing to read to tell OOXML and ODF documents from plain archives.
const (
	maxZipEntries  = 4096
	maxZipDirBytes = 4 << 20
)

// Detect names the format of the size bytes of r from their content (magic bytes), never from a name or a
// declared type: one of the MIME* constants for the formats above, "text/plain", "text/html" or "text/xml"
// for text (no binary bytes in the head), else what http.DetectContentType reports
// ("application/octet-stream" when nothing matches). It reads at most the head and, for ZIP archives, the
// central directory.
func Detect(r io.ReaderAt, size int64) string {
	if size < 0 {
		size = 0
	}
	head := make([]byte, min(size, sniffLen))
	n, _ := r.ReadAt(head, 0)
	head = head[:n]
	if m := detectHead(head); m != "" {
		if m == MIMEZip {
			return detectZip(r, size)
		}
		return m
	}
	if len(head) == 0 {
		return MIMEText // as http.DetectContentType: an empty content is an empty text
	}
	detected, _, _ := mime.ParseMediaType(http.DetectContentType(head))
	switch {
	case strings.HasPrefix(detected, "text/"):
		return detected
	case isText(head):
		return MIMEText // http.DetectContentType has weak signatures ("BM"…) that plain text can start with
	case detected == "":
		return MIMEOctetStream
	}
	return detected
}

// isText reports whether b has no binary data byte (WHATWG MIME Sniffing §7.2), as text needs.
func isText(b []byte) bool {
	for _, c := range b {
		if c <= 0x08 || c == 0x0B || (0x0E <= c && c <= 0x1A) || (0x1C <= c && c <= 0x1F) {
			return false
		}
	}
	return true
}

// DetectBytes is Detect over an in-memory content.
func DetectBytes(b []byte) string { return Detect(bytes.NewReader(b), int64(len(b))) }

// detectHead recognises the signatures that the head alone decides; "" when none matches.
func detectHead(b []byte) string {
	has := func(off int, sig string) bool { return len(b) >= off+len(sig) && string(b[off:off+len(sig)]) == sig }
	switch {
	case bytes.HasPrefix(bytes.TrimLeft(bytes.TrimPrefix(b, []byte("\xEF\xBB\xBF")), " \t\r\n\f\x00"), []byte("%PDF-")):
		return MIMEPDF
	case has(0, "PK\x03\x04"), has(0, "PK\x05\x06"):
		return MIMEZip
	case has(0, "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"):
		return MIMEOLE
	case has(0, "{\\rtf"):
		return MIMERTF
	case has(0, "\x89PNG\r\n\x1a\n"):
		return MIMEPNG
	case has(0, "\xFF\xD8\xFF"):
		return MIMEJPEG
	case has(0, "GIF87a"), has(0, "GIF89a"):
		return MIMEGIF
	case has(0, "RIFF") && has(8, "WEBP"):
		return MIMEWebP
	case has(0, "RIFF") && has(8, "WAVE"):
		return MIMEWAV
	case has(0, "II*\x00"), has(0, "MM\x00*"):
		return MIMETIFF
	case isBMP(b):
		return MIMEBMP
	case has(4, "ftyp"):
		return detectISOBMFF(b)
	case has(0, "ID3"):
		return MIMEMP3
	case has(0, "OggS"):
		return MIMEOgg
	case has(0, "fLaC"):
		return MIMEFLAC
	case has(0, "\x1A\x45\xDF\xA3"):
		return MIMEWebM
	case isADTS(b):
		return MIMEAAC
	case isMPEGAudio(b):
		return MIMEMP3
	}
	return ""
}

// isBMP checks "BM" plus a plausible DIB header size, so a text starting with "BM" stays text.
func isBMP(b []byte) bool {
	if len(b) < 18 || b[0] != 'B' || b[1] != 'M' {
		return false
	}
	switch binary.LittleEndian.Uint32(b[14:18]) {
	case 12, 40, 52, 56, 64, 108, 124:
		return true
	}
	return false
}

// detectISOBMFF maps the major brand of an ISO base media file (the "ftyp" box) to its type.
func detectISOBMFF(b []byte) string {
	if len(b) < 12 {
		return MIMEMP4
	}
	switch string(b[8:12]) {
	case "heic", "heix", "hevc", "hevx", "heim", "heis", "hevm", "hevs":
		return MIMEHEIC
	case "mif1", "msf1":
		return MIMEHEIF
	case "avif", "avis":
		return MIMEAVIF
	case "M4A ", "M4B ", "M4P ", "F4A ", "F4B ":
		return MIMEM4A
	}
	return MIMEMP4
}

// isADTS matches an AAC ADTS frame header: 12-bit sync, layer 00.
func isADTS(b []byte) bool {
	return len(b) >= 7 && b[0] == 0xFF && b[1]&0xF6 == 0xF0
}

// isMPEGAudio matches an MPEG-1/2/2.5 audio frame header: 11-bit sync, a valid version, a layer, a bitrate
// index other than "bad" and a sampling rate other than "reserved".
func isMPEGAudio(b []byte) bool {
	if len(b) < 4 || b[0] != 0xFF || b[1]&0xE0 != 0xE0 {
		return false
	}
	version, layer := (b[1]>>3)&0x03, (b[1]>>1)&0x03
	bitrate, rate := b[2]>>4, (b[2]>>2)&0x03
	return version != 0x01 && layer != 0x00 && bitrate != 0x0F && rate != 0x03
}

// detectZip tells OOXML (Word, Excel, PowerPoint), OpenDocument and EPUB documents from other ZIP archives by
// their entries. Directories too large to be a document are not read.
func detectZip(r io.ReaderAt, size int64) string {
	if entries, dirSize, ok := zipDirectory(r, size); !ok || entries > maxZipEntries || dirSize > maxZipDirBytes {
		return MIMEZip
	}
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return MIMEZip
	}
	if len(zr.File) > 0 && zr.File[0].Name == "mimetype" && zr.File[0].Method == zip.Store {
		if m := zipMimetype(zr.File[0]); m != "" {
			return m
		}
	}
	var contentTypes, word, xl, ppt bool
	for _, f := range zr.File {
		switch {
		case f.Name == "[Content_Types].xml":
			contentTypes = true
		case strings.HasPrefix(f.Name, "word/"):
			word = true
		case strings.HasPrefix(f.Name, "xl/"):
			xl = true
		case strings.HasPrefix(f.Name, "ppt/"):
			ppt = true
		}
	}
	switch {
	case contentTypes && word:
		return MIMEDOCX
	case contentTypes && xl:
		return MIMEXLSX
	case contentTypes && ppt:
		return MIMEPPTX
	}
	return MIMEZip
}

// zipMimetype reads the "mimetype" first entry of OpenDocument and EPUB files.
func zipMimetype(f *zip.File) string {
	if f.UncompressedSize64 > 128 {
		return ""
	}
	rc, err := f.Open()
	if err != nil {
		return ""
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 128))
	if err != nil {
		return ""
	}
	switch m := strings.TrimSpace(string(b)); m {
	case MIMEODT, MIMEODS, MIMEODP, MIMEEPUB:
		return m
	}
	return ""
}

// zipDirectory reads the end-of-central-directory record: the number of entries and the size of the
// directory. ok is false when there is no such record (or a ZIP64 one, which documents never need).
func zipDirectory(r io.ReaderAt, size int64) (entries, dirSize int64, ok bool) {
	const eocdLen, maxComment = 22, 0xFFFF
	if size < eocdLen {
		return 0, 0, false
	}
	tailLen := min(size, eocdLen+maxComment)
	tail := make([]byte, tailLen)
	if _, err := r.ReadAt(tail, size-tailLen); err != nil && err != io.EOF {
		return 0, 0, false
	}
	i := bytes.LastIndex(tail, []byte("PK\x05\x06"))
	if i < 0 || len(tail)-i < eocdLen {
		return 0, 0, false
	}
	rec := tail[i:]
	count := binary.LittleEndian.Uint16(rec[10:12])
	dir := binary.LittleEndian.Uint32(rec[12:16])
	if count == 0xFFFF || dir == 0xFFFFFFFF {
		return 0, 0, false
	}
	return int64(count), int64(dir), true
}

// textLike are the declared types whose content is text: any text Detect reports is accepted for them.
var textLike = map[string]bool{
	"text/plain": true, "text/markdown": true, "text/x-markdown": true, "text/csv": true,
	"text/tab-separated-values": true, "text/html": true, "text/xml": true, "application/xml": true,
	"application/json": true, "application/x-ndjson": true, "application/yaml": true, "application/x-yaml": true,
	"text/yaml": true, "text/x-yaml": true, "text/calendar": true, "text/vcard": true,
}

// accepted maps each binary type a client may declare to the detected types that satisfy it. Aliases that
// browsers and libraries send (image/jpg, audio/x-wav, audio/x-m4a...) map to the canonical detection.
var accepted = map[string][]string{
	MIMEPDF:                         {MIMEPDF},
	MIMEDOCX:                        {MIMEDOCX},
	MIMEXLSX:                        {MIMEXLSX},
	MIMEPPTX:                        {MIMEPPTX},
	"application/msword":            {MIMEOLE},
	"application/vnd.ms-excel":      {MIMEOLE, "text"}, // Windows browsers label .csv files with the Excel type
	"application/vnd.ms-powerpoint": {MIMEOLE},
	MIMEODT:                         {MIMEODT},
	MIMEODS:                         {MIMEODS},
	MIMEODP:                         {MIMEODP},
	MIMEEPUB:                        {MIMEEPUB},
	MIMERTF:                         {MIMERTF},
	"text/rtf":                      {MIMERTF},
	MIMEPNG:                         {MIMEPNG},
	MIMEJPEG:                        {MIMEJPEG},
	"image/jpg":                     {MIMEJPEG},
	"image/pjpeg":                   {MIMEJPEG},
	MIMEGIF:                         {MIMEGIF},
	MIMEWebP:                        {MIMEWebP},
	MIMEBMP:                         {MIMEBMP},
	"image/x-ms-bmp":                {MIMEBMP},
	MIMETIFF:                        {MIMETIFF},
	MIMEHEIC:                        {MIMEHEIC, MIMEHEIF},
	MIMEHEIF:                        {MIMEHEIF, MIMEHEIC},
	MIMEAVIF:                        {MIMEAVIF},
	MIMEMP3:                         {MIMEMP3},
	"audio/mp3":                     {MIMEMP3},
	MIMEAAC:                         {MIMEAAC, MIMEM4A},
	MIMEWAV:                         {MIMEWAV},
	"audio/x-wav":                   {MIMEWAV},
	"audio/wave":                    {MIMEWAV},
	"audio/vnd.wave":                {MIMEWAV},
	MIMEOgg:                         {MIMEOgg},
	"audio/opus":                    {MIMEOgg},
	MIMEFLAC:                        {MIMEFLAC},
	"audio/x-flac":                  {MIMEFLAC},
	MIMEM4A:                         {MIMEM4A, MIMEMP4},
	"audio/x-m4a":                   {MIMEM4A, MIMEMP4},
	"audio/m4a":                     {MIMEM4A, MIMEMP4},
	"audio/webm":                    {MIMEWebM},
}

// Allowed reports whether uploads may declare the (normalised) type m.
func Allowed(m string) bool {
	_, binaryOK := accepted[m]
	return binaryOK || textLike[m]
}

// AllowedTypes lists the types uploads may declare, sorted.
func AllowedTypes() []string {
	out := make([]string, 0, len(accepted)+len(textLike))
	for m := range accepted {
		out = append(out, m)
	}
	for m := range textLike {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

// Matches reports whether content detected as detected satisfies the declared type: text for the text-like
// types, the signature of the format otherwise.
func Matches(declared, detected string) bool {
	isText := strings.HasPrefix(detected, "text/")
	if textLike[declared] {
		return isText
	}
	for _, want := range accepted[declared] {
		if want == detected || (want == "text" && isText) {
			return true
		}
	}
	return false
}

// NormalizeMIME lowercases a media type and drops its parameters ("Text/CSV; charset=utf-8" → "text/csv");
// "" when s is not a media type.
func NormalizeMIME(s string) string {
	m, _, err := mime.ParseMediaType(s)
	if err != nil || !strings.Contains(m, "/") {
		return ""
	}
	return m
}
