//go:build linux

package httpapi

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// TestProcessMetricsValues checks the process metrics against what the kernel says directly.
func TestProcessMetricsValues(t *testing.T) {
	start := time.Now()
	v := values(t, scrape(t, NewMetrics(), "/metrics").Body.String())
	var nofile syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &nofile); err != nil {
		t.Fatal(err)
	}
	var as syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_AS, &as); err != nil {
		t.Fatal(err)
	}
	checkValues(t, v, []valueCheck{
		{"process_max_fds", func(x float64) bool { return x == float64(nofile.Cur) }},
		{"process_virtual_memory_max_bytes", func(x float64) bool { return x == float64(as.Cur) }},
		{"process_open_fds", func(x float64) bool { return x >= 3 && x <= float64(nofile.Cur) }},
		{"process_resident_memory_bytes", func(x float64) bool { return x > 1<<20 }},
		{"process_virtual_memory_bytes", func(x float64) bool { return x >= v["process_resident_memory_bytes"] }},
		{"process_start_time_seconds", func(x float64) bool {
			return x > float64(start.Add(-24*time.Hour).Unix()) && x <= float64(time.Now().Unix()+1)
		}},
		{"process_cpu_seconds_total", func(x float64) bool { return x >= 0 }},
		{"process_network_receive_bytes_total", func(x float64) bool { return x >= 0 }},
		{"process_network_transmit_bytes_total", func(x float64) bool { return x >= 0 }},
	})
}

func TestParseProcStat(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     procStat
		err      bool
	}{
		{name: "plain", in: "42 (appstrate) S 1 42 42 0 -1 4194560 1000 0 0 0 150 30 0 0 20 0 12 0 123456 1400000000 11000 18446744073709551615 1 1 0",
			want: procStat{utime: 150, stime: 30, startTicks: 123456, vsize: 1400000000, rssPages: 11000}},
		{name: "name with spaces and parentheses", in: "7 (a) (b) c) R 1 7 7 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 99 4096 3 0",
			want: procStat{utime: 1, stime: 2, startTicks: 99, vsize: 4096, rssPages: 3}},
		{name: "no name", in: "7 a R 1 7", err: true},
		{name: "truncated", in: "7 (a) R 1 7 7 0 -1 0 0 0 0 0 1 2", err: true},
		{name: "not a number", in: "7 (a) R 1 7 7 0 -1 0 0 0 0 0 x 2 0 0 20 0 1 0 99 4096 3", err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseProcStat([]byte(tc.in))
			if (err != nil) != tc.err || (!tc.err && got != tc.want) {
				t.Fatalf("parseProcStat = %+v, %v; want %+v, error %v", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	data, err := os.ReadFile("testdata/proc_limits")
	if err != nil {
		t.Fatal(err)
	}
	files, space, err := parseLimits(data)
	if err != nil || files != 1024 || space != 1<<64-1 {
		t.Fatalf("parseLimits = %d, %d, %v", files, space, err)
	}
	if _, _, err := parseLimits([]byte("Max open files            lots       4096      files\n")); err == nil {
		t.Fatal("a non-numeric limit was accepted")
	}
	if f, s, err := parseLimits([]byte("Limit  Soft Limit  Hard Limit  Units\n")); err != nil || f != 0 || s != 0 {
		t.Fatalf("absent limits = %d, %d, %v", f, s, err)
	}
}

func TestParseIPOctets(t *testing.T) {
	data, err := os.ReadFile("testdata/proc_netstat")
	if err != nil {
		t.Fatal(err)
	}
	in, out, err := parseIPOctets(data)
	if err != nil || in != 3929994630 || out != 3715990341 {
		t.Fatalf("parseIPOctets = %v, %v, %v", in, out, err)
	}
	for _, bad := range []string{"IpExt: InOctets OutOctets\n", "IpExt: InOctets OutOctets\nIpExt: 1\n", "IpExt: InOctets\nIpExt: x\n"} {
		if _, _, err := parseIPOctets([]byte(bad)); err == nil {
			t.Errorf("parseIPOctets(%q) accepted", bad)
		}
	}
	if in, out, err := parseIPOctets([]byte("TcpExt: A\nTcpExt: 1\n")); err != nil || in != 0 || out != 0 {
		t.Fatalf("no IpExt section = %v, %v, %v", in, out, err)
	}
}
