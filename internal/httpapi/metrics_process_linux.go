//go:build linux

package httpapi

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
)

// procRoot is where processFamilies reads the statistics of this process (tests point it at fixtures).
var procRoot = "/proc"

// userHZ is the unit of the CPU times in /proc/<pid>/stat: fixed at 100 for user space on Linux.
const userHZ = 100

// processFamilies returns the process_* metrics of client_golang's process collector, read from /proc. A group
// whose file cannot be read or parsed is left out, as that collector did without ReportErrors.
func processFamilies() []family {
	var out []family
	if st, err := readProcStat(procRoot + "/self/stat"); err == nil {
		out = append(out,
			counterFamily("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
				float64(st.utime+st.stime)/userHZ),
			gaugeFamily("process_virtual_memory_bytes", "Virtual memory size in bytes.", float64(st.vsize)),
			gaugeFamily("process_resident_memory_bytes", "Resident memory size in bytes.", float64(st.rssPages*os.Getpagesize())))
		if boot, err := readBootTime(procRoot + "/stat"); err == nil {
			out = append(out, gaugeFamily("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
				float64(boot)+float64(st.startTicks)/userHZ))
		}
	}
	if n, err := countOpenFDs(procRoot + "/self/fd"); err == nil {
		out = append(out, gaugeFamily("process_open_fds", "Number of open file descriptors.", float64(n)))
	}
	if files, space, err := readLimits(procRoot + "/self/limits"); err == nil {
		out = append(out,
			gaugeFamily("process_max_fds", "Maximum number of open file descriptors.", float64(files)),
			gaugeFamily("process_virtual_memory_max_bytes", "Maximum amount of virtual memory available in bytes.", float64(space)))
	}
	if in, sent, err := readIPOctets(procRoot + "/self/net/netstat"); err == nil {
		out = append(out,
			counterFamily("process_network_receive_bytes_total", "Number of bytes received by the process over the network.", in),
			counterFamily("process_network_transmit_bytes_total", "Number of bytes sent by the process over the network.", sent))
	}
	return out
}

// procStat holds the fields of /proc/<pid>/stat the metrics use.
type procStat struct {
	utime, stime, startTicks, vsize uint64
	rssPages                        int
}

// readProcStat parses /proc/<pid>/stat. The command name (field 2) is in parentheses and may itself contain
// spaces and parentheses, so fields are counted from the last ')'.
func readProcStat(path string) (procStat, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(data)
}

func parseProcStat(data []byte) (procStat, error) {
	end := bytes.LastIndexByte(data, ')')
	if end < 0 {
		return procStat{}, errors.New("stat: no command name")
	}
	// After the name: state(0) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime(11)
	// stime(12) cutime cstime priority nice num_threads itrealvalue starttime(19) vsize(20) rss(21) ...
	f := strings.Fields(string(data[end+1:]))
	if len(f) < 22 {
		return procStat{}, fmt.Errorf("stat: %d fields after the command name, want at least 22", len(f))
	}
	var st procStat
	var errs []error
	parse := func(i int) uint64 {
		v, err := strconv.ParseUint(f[i], 10, 64)
		errs = append(errs, err)
		return v
	}
	st.utime, st.stime, st.startTicks, st.vsize = parse(11), parse(12), parse(19), parse(20)
	rss, err := strconv.Atoi(f[21])
	errs = append(errs, err)
	st.rssPages = rss
	if err := errors.Join(errs...); err != nil {
		return procStat{}, fmt.Errorf("stat: %w", err)
	}
	return st, nil
}

// readBootTime reads the boot time (seconds since the epoch) from the btime line of /proc/stat.
func readBootTime(path string) (uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "btime "); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("stat: no btime line")
}

// countOpenFDs counts the entries of /proc/<pid>/fd: Linux ≥ 6.2 reports the count as the directory size,
// older kernels need a listing.
func countOpenFDs(dir string) (int, error) {
	if fi, err := os.Stat(dir); err == nil && fi.Size() > 0 {
		return int(fi.Size()), nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return 0, err
	}
	defer func() { _ = d.Close() }()
	names, err := d.Readdirnames(-1)
	return len(names), err
}

// readLimits returns the soft limits on open files and address space from /proc/<pid>/limits ("unlimited" is
// the largest uint64); a limit the file does not list reads as 0.
func readLimits(path string) (openFiles, addressSpace uint64, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, err
	}
	return parseLimits(data)
}

func parseLimits(data []byte) (openFiles, addressSpace uint64, err error) {
	for line := range strings.Lines(string(data)) {
		var dst *uint64
		var rest string
		if r, ok := strings.CutPrefix(line, "Max open files"); ok {
			dst, rest = &openFiles, r
		} else if r, ok := strings.CutPrefix(line, "Max address space"); ok {
			dst, rest = &addressSpace, r
		} else {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return 0, 0, fmt.Errorf("limits: no soft limit in %q", strings.TrimSpace(line))
		}
		if fields[0] == "unlimited" {
			*dst = math.MaxUint64
			continue
		}
		if *dst, err = strconv.ParseUint(fields[0], 10, 64); err != nil {
			return 0, 0, fmt.Errorf("limits: %w", err)
		}
	}
	return openFiles, addressSpace, nil
}

// readIPOctets returns InOctets and OutOctets of the IpExt section of /proc/<pid>/net/netstat (0 when absent).
func readIPOctets(path string) (in, out float64, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, err
	}
	return parseIPOctets(data)
}

// parseIPOctets reads the netstat format: for each section a line of names and a line of values, both prefixed
// with "Section:".
func parseIPOctets(data []byte) (in, out float64, err error) {
	lines := strings.Split(string(data), "\n")
	for i := 0; i+1 < len(lines); i++ {
		names, ok := strings.CutPrefix(lines[i], "IpExt:")
		if !ok {
			continue
		}
		values, ok := strings.CutPrefix(lines[i+1], "IpExt:")
		if !ok {
			return 0, 0, errors.New("netstat: IpExt names without values")
		}
		n, v := strings.Fields(names), strings.Fields(values)
		if len(n) != len(v) {
			return 0, 0, fmt.Errorf("netstat: IpExt has %d names and %d values", len(n), len(v))
		}
		for j, name := range n {
			var dst *float64
			switch name {
			case "InOctets":
				dst = &in
			case "OutOctets":
				dst = &out
			default:
				continue
			}
			if *dst, err = strconv.ParseFloat(v[j], 64); err != nil {
				return 0, 0, fmt.Errorf("netstat: %s: %w", name, err)
			}
		}
		return in, out, nil
	}
	return 0, 0, nil
}
