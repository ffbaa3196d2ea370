package httpapi

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// runtimeStats reads the Go runtime metrics of client_golang's default Go collector: the MemStats-like
// go_memstats_* gauges and counters (derived from runtime/metrics without stopping the world), the GC pause
// summary, goroutines, threads, go_info, and the three runtime/metrics values it exposed by default.
type runtimeStats struct {
	mu      sync.Mutex
	samples []metrics.Sample
	index   map[string]int    // runtime/metrics name → position in samples
	help    map[string]string // runtime/metrics name → description
}

// Names of the runtime/metrics values read.
const (
	rmTinyAllocs       = "/gc/heap/tiny/allocs:objects"
	rmAllocsObjects    = "/gc/heap/allocs:objects"
	rmFreesObjects     = "/gc/heap/frees:objects"
	rmAllocsBytes      = "/gc/heap/allocs:bytes"
	rmHeapObjects      = "/gc/heap/objects:objects"
	rmHeapGoal         = "/gc/heap/goal:bytes"
	rmTotal            = "/memory/classes/total:bytes"
	rmHeapObjectsBytes = "/memory/classes/heap/objects:bytes"
	rmHeapUnused       = "/memory/classes/heap/unused:bytes"
	rmHeapReleased     = "/memory/classes/heap/released:bytes"
	rmHeapFree         = "/memory/classes/heap/free:bytes"
	rmHeapStacks       = "/memory/classes/heap/stacks:bytes"
	rmOSStacks         = "/memory/classes/os-stacks:bytes"
	rmMSpanInuse       = "/memory/classes/metadata/mspan/inuse:bytes"
	rmMSpanFree        = "/memory/classes/metadata/mspan/free:bytes"
	rmMCacheInuse      = "/memory/classes/metadata/mcache/inuse:bytes"
	rmMCacheFree       = "/memory/classes/metadata/mcache/free:bytes"
	rmProfBuckets      = "/memory/classes/profiling/buckets:bytes"
	rmMetadataOther    = "/memory/classes/metadata/other:bytes"
	rmOther            = "/memory/classes/other:bytes"
)

// directRuntimeMetrics are exposed under their own names (go_ + path with _ + unit), help = their description.
var directRuntimeMetrics = []struct{ rm, name string }{
	{"/gc/gogc:percent", "go_gc_gogc_percent"},
	{"/gc/gomemlimit:bytes", "go_gc_gomemlimit_bytes"},
	{"/sched/gomaxprocs:threads", "go_sched_gomaxprocs_threads"},
}

func newRuntimeStats() *runtimeStats {
	wanted := map[string]bool{}
	for _, n := range []string{rmTinyAllocs, rmAllocsObjects, rmFreesObjects, rmAllocsBytes, rmHeapObjects, rmHeapGoal,
		rmTotal, rmHeapObjectsBytes, rmHeapUnused, rmHeapReleased, rmHeapFree, rmHeapStacks, rmOSStacks, rmMSpanInuse,
		rmMSpanFree, rmMCacheInuse, rmMCacheFree, rmProfBuckets, rmMetadataOther, rmOther} {
		wanted[n] = true
	}
	for _, d := range directRuntimeMetrics {
		wanted[d.rm] = true
	}
	r := &runtimeStats{index: map[string]int{}, help: map[string]string{}}
	for _, d := range metrics.All() { // names a future runtime drops are left out (read as 0)
		if wanted[d.Name] {
			r.index[d.Name] = len(r.samples)
			r.samples = append(r.samples, metrics.Sample{Name: d.Name})
			r.help[d.Name] = d.Description
		}
	}
	return r
}

// memStats is the subset of runtime.MemStats the go_memstats_* metrics show.
type memStats struct {
	alloc, totalAlloc, sys, mallocs, frees, heapAlloc, heapSys, heapIdle, heapInuse, heapReleased, heapObjects,
	stackInuse, stackSys, mspanInuse, mspanSys, mcacheInuse, mcacheSys, buckHashSys, gcSys, otherSys, nextGC uint64
}

// memStatsMetrics are the go_memstats_* families computed from memStats, with client_golang's help texts.
var memStatsMetrics = []struct {
	name, typ, help string
	value           func(*memStats) uint64
}{
	{"alloc_bytes", "gauge", "Number of bytes allocated in heap and currently in use. Equals to /memory/classes/heap/objects:bytes.",
		func(m *memStats) uint64 { return m.alloc }},
	{"alloc_bytes_total", "counter", "Total number of bytes allocated in heap until now, even if released already. Equals to /gc/heap/allocs:bytes.",
		func(m *memStats) uint64 { return m.totalAlloc }},
	{"sys_bytes", "gauge", "Number of bytes obtained from system. Equals to /memory/classes/total:byte.",
		func(m *memStats) uint64 { return m.sys }},
	{"mallocs_total", "counter", "Total number of heap objects allocated, both live and gc-ed. Semantically a counter version for go_memstats_heap_objects gauge. Equals to /gc/heap/allocs:objects + /gc/heap/tiny/allocs:objects.",
		func(m *memStats) uint64 { return m.mallocs }},
	{"frees_total", "counter", "Total number of heap objects frees. Equals to /gc/heap/frees:objects + /gc/heap/tiny/allocs:objects.",
		func(m *memStats) uint64 { return m.frees }},
	{"heap_alloc_bytes", "gauge", "Number of heap bytes allocated and currently in use, same as go_memstats_alloc_bytes. Equals to /memory/classes/heap/objects:bytes.",
		func(m *memStats) uint64 { return m.heapAlloc }},
	{"heap_sys_bytes", "gauge", "Number of heap bytes obtained from system. Equals to /memory/classes/heap/objects:bytes + /memory/classes/heap/unused:bytes + /memory/classes/heap/released:bytes + /memory/classes/heap/free:bytes.",
		func(m *memStats) uint64 { return m.heapSys }},
	{"heap_idle_bytes", "gauge", "Number of heap bytes waiting to be used. Equals to /memory/classes/heap/released:bytes + /memory/classes/heap/free:bytes.",
		func(m *memStats) uint64 { return m.heapIdle }},
	{"heap_inuse_bytes", "gauge", "Number of heap bytes that are in use. Equals to /memory/classes/heap/objects:bytes + /memory/classes/heap/unused:bytes",
		func(m *memStats) uint64 { return m.heapInuse }},
	{"heap_released_bytes", "gauge", "Number of heap bytes released to OS. Equals to /memory/classes/heap/released:bytes.",
		func(m *memStats) uint64 { return m.heapReleased }},
	{"heap_objects", "gauge", "Number of currently allocated objects. Equals to /gc/heap/objects:objects.",
		func(m *memStats) uint64 { return m.heapObjects }},
	{"stack_inuse_bytes", "gauge", "Number of bytes obtained from system for stack allocator in non-CGO environments. Equals to /memory/classes/heap/stacks:bytes.",
		func(m *memStats) uint64 { return m.stackInuse }},
	{"stack_sys_bytes", "gauge", "Number of bytes obtained from system for stack allocator. Equals to /memory/classes/heap/stacks:bytes + /memory/classes/os-stacks:bytes.",
		func(m *memStats) uint64 { return m.stackSys }},
	{"mspan_inuse_bytes", "gauge", "Number of bytes in use by mspan structures. Equals to /memory/classes/metadata/mspan/inuse:bytes.",
		func(m *memStats) uint64 { return m.mspanInuse }},
	{"mspan_sys_bytes", "gauge", "Number of bytes used for mspan structures obtained from system. Equals to /memory/classes/metadata/mspan/inuse:bytes + /memory/classes/metadata/mspan/free:bytes.",
		func(m *memStats) uint64 { return m.mspanSys }},
	{"mcache_inuse_bytes", "gauge", "Number of bytes in use by mcache structures. Equals to /memory/classes/metadata/mcache/inuse:bytes.",
		func(m *memStats) uint64 { return m.mcacheInuse }},
	{"mcache_sys_bytes", "gauge", "Number of bytes used for mcache structures obtained from system. Equals to /memory/classes/metadata/mcache/inuse:bytes + /memory/classes/metadata/mcache/free:bytes.",
		func(m *memStats) uint64 { return m.mcacheSys }},
	{"buck_hash_sys_bytes", "gauge", "Number of bytes used by the profiling bucket hash table. Equals to /memory/classes/profiling/buckets:bytes.",
		func(m *memStats) uint64 { return m.buckHashSys }},
	{"gc_sys_bytes", "gauge", "Number of bytes used for garbage collection system metadata. Equals to /memory/classes/metadata/other:bytes.",
		func(m *memStats) uint64 { return m.gcSys }},
	{"other_sys_bytes", "gauge", "Number of bytes used for other system allocations. Equals to /memory/classes/other:bytes.",
		func(m *memStats) uint64 { return m.otherSys }},
	{"next_gc_bytes", "gauge", "Number of heap bytes when next garbage collection will take place. Equals to /gc/heap/goal:bytes.",
		func(m *memStats) uint64 { return m.nextGC }},
}

// families reads the runtime once and returns its families.
func (r *runtimeStats) families() []family {
	r.mu.Lock()
	metrics.Read(r.samples)
	var ms memStats
	r.fillMemStats(&ms)
	var out []family
	for _, d := range directRuntimeMetrics {
		if i, ok := r.index[d.rm]; ok {
			out = append(out, gaugeFamily(d.name, r.help[d.rm]+" Sourced from "+d.rm+".", scalar(r.samples[i].Value)))
		}
	}
	r.mu.Unlock()

	for _, m := range memStatsMetrics {
		out = append(out, family{name: "go_memstats_" + m.name, typ: m.typ, help: m.help,
			samples: []sample{{value: float64(m.value(&ms))}}})
	}
	var gc debug.GCStats
	gc.PauseQuantiles = make([]time.Duration, 5) // min, 25 %, 50 %, 75 %, max
	debug.ReadGCStats(&gc)
	pauses := family{name: "go_gc_duration_seconds", typ: "summary",
		help: "A summary of the wall-time pause (stop-the-world) duration in garbage collection cycles."}
	for i, q := range []string{"0", "0.25", "0.5", "0.75", "1"} {
		pauses.samples = append(pauses.samples, sample{labels: []label{{"quantile", q}}, value: gc.PauseQuantiles[i].Seconds()})
	}
	pauses.samples = append(pauses.samples,
		sample{suffix: "_sum", value: gc.PauseTotal.Seconds()},
		sample{suffix: "_count", value: float64(gc.NumGC)})
	threads, _ := runtime.ThreadCreateProfile(nil)
	return append(out, pauses,
		gaugeFamily("go_memstats_last_gc_time_seconds", "Number of seconds since 1970 of last garbage collection.",
			float64(gc.LastGC.UnixNano())/1e9),
		gaugeFamily("go_goroutines", "Number of goroutines that currently exist.", float64(runtime.NumGoroutine())),
		gaugeFamily("go_threads", "Number of OS threads created.", float64(threads)),
		family{name: "go_info", typ: "gauge", help: "Information about the Go environment.",
			samples: []sample{{labels: []label{{"version", runtime.Version()}}, value: 1}}},
	)
}

// fillMemStats derives the MemStats fields from the samples just read, as client_golang does (tiny
// allocations count in both mallocs and frees so that their difference stays the live object count).
func (r *runtimeStats) fillMemStats(ms *memStats) {
	v := func(name string) uint64 {
		if i, ok := r.index[name]; ok && r.samples[i].Value.Kind() == metrics.KindUint64 {
			return r.samples[i].Value.Uint64()
		}
		return 0
	}
	tiny := v(rmTinyAllocs)
	ms.mallocs = v(rmAllocsObjects) + tiny
	ms.frees = v(rmFreesObjects) + tiny
	ms.totalAlloc = v(rmAllocsBytes)
	ms.sys = v(rmTotal)
	ms.heapAlloc = v(rmHeapObjectsBytes)
	ms.alloc = ms.heapAlloc
	ms.heapInuse = ms.heapAlloc + v(rmHeapUnused)
	ms.heapReleased = v(rmHeapReleased)
	ms.heapIdle = ms.heapReleased + v(rmHeapFree)
	ms.heapSys = ms.heapInuse + ms.heapIdle
	ms.heapObjects = v(rmHeapObjects)
	ms.stackInuse = v(rmHeapStacks)
	ms.stackSys = ms.stackInuse + v(rmOSStacks)
	ms.mspanInuse = v(rmMSpanInuse)
	ms.mspanSys = ms.mspanInuse + v(rmMSpanFree)
	ms.mcacheInuse = v(rmMCacheInuse)
	ms.mcacheSys = ms.mcacheInuse + v(rmMCacheFree)
	ms.buckHashSys = v(rmProfBuckets)
	ms.gcSys = v(rmMetadataOther)
	ms.otherSys = v(rmOther)
	ms.nextGC = v(rmHeapGoal)
}

// scalar converts a runtime/metrics value (0 for kinds that are not scalars).
func scalar(v metrics.Value) float64 {
	switch v.Kind() {
	case metrics.KindUint64:
		return float64(v.Uint64())
	case metrics.KindFloat64:
		return v.Float64()
	}
	return 0
}

func gaugeFamily(name, help string, v float64) family {
	return family{name: name, typ: "gauge", help: help, samples: []sample{{value: v}}}
}

func counterFamily(name, help string, v float64) family {
	return family{name: name, typ: "counter", help: help, samples: []sample{{value: v}}}
}
