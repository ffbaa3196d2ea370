package main

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// usage is the memory of a process tree at one instant.
type usage struct {
	kib     int // summed resident set sizes (shared pages, e.g. the binary's text, count once per process)
	pssKiB  int // summed proportional set sizes (shared pages split between their users), 0 when not read
	runners int // `appstrate runner` processes in the tree
}

var pageKiB = os.Getpagesize() / 1024

// treeRSS measures root and all its descendants; withPSS also reads their proportional set sizes (slower).
func treeRSS(root int, withPSS ...bool) usage {
	parents := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid := parentOf(pid); ppid > 0 {
			parents[ppid] = append(parents[ppid], pid)
		}
	}
	var u usage
	pss := len(withPSS) > 0 && withPSS[0]
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = append(queue[1:], parents[pid]...)
		u.kib += residentKiB(pid)
		if pss {
			u.pssKiB += pssKiB(pid)
		}
		if isRunner(pid) {
			u.runners++
		}
	}
	return u
}

// parentOf reads the parent pid from /proc/<pid>/stat (0 when the process is gone).
func parentOf(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')') // the command name may hold spaces and parentheses
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(fields[1])
	return ppid
}

func residentKiB(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(b))
	if len(fields) < 2 {
		return 0
	}
	pages, _ := strconv.Atoi(fields[1])
	return pages * pageKiB
}

func pssKiB(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/smaps_rollup")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Pss:"); ok {
			kib, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return kib
		}
	}
	return 0
}

func isRunner(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	args := strings.Split(string(b), "\x00")
	return len(args) > 1 && args[1] == "runner"
}

// sampler keeps the peak of a process tree's memory.
type sampler struct {
	stopCh chan struct{}
	done   chan struct{}
	mu     sync.Mutex
	peak   usage // at the highest RSS
	pss    int   // highest PSS seen
}

// startSampler reads the tree's RSS every 100 ms and its PSS every 500 ms until stop.
func startSampler(root int) *sampler {
	s := &sampler{stopCh: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			u := treeRSS(root, i%5 == 0)
			s.mu.Lock()
			if u.kib > s.peak.kib {
				s.peak = u
			}
			s.pss = max(s.pss, u.pssKiB)
			s.mu.Unlock()
			select {
			case <-s.stopCh:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

// stop ends the sampling and returns the peak (its pssKiB is the highest PSS seen).
func (s *sampler) stop() usage {
	close(s.stopCh)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.peak
	p.pssKiB = s.pss
	return p
}
