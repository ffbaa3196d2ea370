package curl

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"
)

// WriteOutVars are the values -w can print.
type WriteOutVars struct {
	HTTPCode          int
	HTTPVersion       string
	SizeDownload      int64
	SizeUpload        int64
	TimeTotal         time.Duration
	TimeStartTransfer time.Duration
	URLEffective      string
	NumRedirects      int
	Headers           map[string]string // lower-case names
	ExitCode          int
}

// WriteOut expands a -w format: the escapes \n \r \t and \\, and %{variable}; unknown variables are printed
// verbatim.
func WriteOut(format string, v WriteOutVars) string {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		switch {
		case c == '\\' && i+1 < len(format):
			switch format[i+1] {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case '\\':
				b.WriteByte('\\')
			default:
				b.WriteByte('\\')
				b.WriteByte(format[i+1])
			}
			i++
		case c == '%' && strings.HasPrefix(format[i:], "%{"):
			end := strings.IndexByte(format[i:], '}')
			if end < 0 {
				b.WriteString(format[i:])
				return b.String()
			}
			name := format[i+2 : i+end]
			if val, ok := v.lookup(name); ok {
				b.WriteString(val)
			} else {
				b.WriteString(format[i : i+end+1])
			}
			i += end
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func secs(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 6, 64) }

func (v WriteOutVars) lookup(name string) (string, bool) {
	switch name {
	case "http_code", "response_code":
		return strconv.Itoa(v.HTTPCode), true
	case "http_version":
		if v.HTTPVersion == "" {
			return "1.1", true
		}
		return v.HTTPVersion, true
	case "size_download":
		return strconv.FormatInt(v.SizeDownload, 10), true
	case "size_upload":
		return strconv.FormatInt(v.SizeUpload, 10), true
	case "time_total":
		return secs(v.TimeTotal), true
	case "time_starttransfer":
		return secs(v.TimeStartTransfer), true
	case "url_effective":
		return v.URLEffective, true
	case "num_redirects":
		return strconv.Itoa(v.NumRedirects), true
	case "header_json":
		keys := make([]string, 0, len(v.Headers))
		for k := range v.Headers {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			kb, _ := json.Marshal(k)
			vb, _ := json.Marshal(v.Headers[k])
			b.Write(kb)
			b.WriteByte(':')
			b.Write(vb)
		}
		b.WriteByte('}')
		return b.String(), true
	case "exitcode":
		return strconv.Itoa(v.ExitCode), true
	}
	return "", false
}
