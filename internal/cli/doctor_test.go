package cli

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/executor/bwrap"
)

func TestDoctorReportsEachExecutor(t *testing.T) {
	usable := &bwrap.Probe{Bwrap: "/usr/bin/bwrap", Version: "bubblewrap 0.8.0", DisableUserns: true,
		SandboxUID: os.Geteuid(), SandboxGID: os.Getegid()}
	missing := &bwrap.Probe{Err: errors.New("bwrap (bubblewrap) is not installed or not on PATH"), Fix: "install bubblewrap: apt-get install bubblewrap"}
	noDocker := dockerCheck{socket: "/var/run/docker.sock", err: errors.New("connect: no such file or directory")}
	for _, tc := range []struct {
		name     string
		probe    *bwrap.Probe
		docker   dockerCheck
		adapter  string
		isolated bool
		want     []string
	}{
		{"bwrap usable", usable, noDocker, "", true, []string{
			"process  usable, NOT isolated", "bwrap    usable: bubblewrap 0.8.0 (/usr/bin/bwrap)", "limits: rlimits",
			"docker   unavailable: the Docker daemon is unreachable at /var/run/docker.sock", "fix: install and start Docker",
			"RUN_ADAPTER is not set: `appstrate serve` uses bwrap."}},
		{"nothing isolated", missing, noDocker, "process", false, []string{
			"bwrap    unavailable: bwrap (bubblewrap) is not installed", "fix: install bubblewrap: apt-get install bubblewrap",
			"RUN_ADAPTER=process.", "No isolated executor is usable"}},
		{"docker reachable", missing, dockerCheck{socket: "/run/docker.sock"}, "", false, []string{
			"docker   daemon reachable at /run/docker.sock, but the docker executor is not part of this build yet",
			"`appstrate serve` uses process."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := diagnose(context.Background(), tc.probe, tc.docker, tc.adapter)
			var out bytes.Buffer
			d.write(&out)
			if d.isolated != tc.isolated {
				t.Errorf("isolated = %v", d.isolated)
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("report lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}

func TestCheckDocker(t *testing.T) {
	dir, err := os.MkdirTemp("", "doctor")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	socket := filepath.Join(dir, "docker.sock")
	ln, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/_ping" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte("OK"))
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	for _, s := range []string{socket, "unix://" + socket} {
		if c := checkDocker(context.Background(), s); c.err != nil {
			t.Errorf("%s: %v", s, c.err)
		}
	}
	if c := checkDocker(context.Background(), filepath.Join(dir, "missing.sock")); c.err == nil {
		t.Error("a missing socket answered")
	}
}

// The real command on this host: it prints the three executors and exits 0 exactly when bwrap works.
func TestDoctorCommand(t *testing.T) {
	withEnv(t, map[string]string{"DOCKER_SOCKET": filepath.Join(t.TempDir(), "none.sock")})
	var stdout, stderr bytes.Buffer
	code := Main([]string{"doctor"}, &stdout, &stderr)
	probe := bwrap.Inspect(context.Background(), "", 0)
	if want := map[bool]int{true: 0, false: ExitFailure}[probe.Usable()]; code != want {
		t.Fatalf("exit code %d, want %d (bwrap usable: %v)\n%s%s", code, want, probe.Usable(), stdout.String(), stderr.String())
	}
	for _, w := range []string{"process ", "bwrap ", "docker "} {
		if !strings.Contains(stdout.String(), w) {
			t.Errorf("report lacks %q:\n%s", w, stdout.String())
		}
	}
}
