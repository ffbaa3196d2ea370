// Command startup measures Tier 0 start-up: it builds nothing, it runs the given appstrate binary with an
// empty environment and a fresh data directory, and prints the median (and min/max) over N starts of
//
//   - the time from exec to the first 200 from GET /health, and
//   - the resident set size (VmRSS) 1 s after that, at idle.
//
// Usage: go run ./bench/startup [-n 5] [-bin ./bin/appstrate]
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	n := flag.Int("n", 5, "number of starts")
	bin := flag.String("bin", "./bin/appstrate", "appstrate binary to start")
	flag.Parse()
	var starts []time.Duration
	var rss []int
	for i := 0; i < *n; i++ {
		d, kb, err := measure(*bin)
		if err != nil {
			fmt.Fprintln(os.Stderr, "startup:", err)
			os.Exit(1)
		}
		starts = append(starts, d)
		rss = append(rss, kb)
	}
	slices.Sort(starts)
	slices.Sort(rss)
	fmt.Printf("starts: %d (Tier 0, empty environment, fresh data dir each time)\n", *n)
	fmt.Printf("exec → first healthy /health: median %v  min %v  max %v\n",
		starts[len(starts)/2].Round(time.Millisecond), starts[0].Round(time.Millisecond), starts[len(starts)-1].Round(time.Millisecond))
	fmt.Printf("idle RSS after 1 s:           median %.1f MB  min %.1f MB  max %.1f MB\n",
		mb(rss[len(rss)/2]), mb(rss[0]), mb(rss[len(rss)-1]))
}

func mb(kb int) float64 { return float64(kb) / 1024 }

// measure starts one server and returns its time to healthy and its idle RSS in KiB.
func measure(bin string) (time.Duration, int, error) {
	port, err := freePort()
	if err != nil {
		return 0, 0, err
	}
	dir, err := os.MkdirTemp("", "appstrate-bench-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command(bin, "serve")
	cmd.Env = []string{"HOME=" + dir, "DATA_DIR=" + filepath.Join(dir, "data"), "PORT=" + strconv.Itoa(port), "LOG_LEVEL=warn"}
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, fmt.Errorf("start %s: %w", bin, err)
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	url := fmt.Sprintf("http://127.0.0.1:%d/health", port)
	client := &http.Client{Timeout: time.Second}
	for time.Since(start) < 10*time.Second {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				healthy := time.Since(start)
				time.Sleep(time.Second)
				kb, err := rssKiB(cmd.Process.Pid)
				return healthy, kb, err
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	return 0, 0, fmt.Errorf("server not healthy after 10s")
}

func rssKiB(pid int) (int, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
