package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/appstrate/appstrate-go/internal/executor/bwrap"
)

func newDoctorCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "Check which run executors this host can use, and how to fix the others",
		Long: "Check the executors that can run agents on this host — process (always available, not isolated),\n" +
			"bwrap (namespace sandboxes: bubblewrap, user namespaces, cgroup v2 for limits) and docker (the Docker\n" +
			"socket, DOCKER_SOCKET) — and print, for each one that is not usable, why and the fix. Exit code 0\n" +
			"when at least one isolated executor works, 1 otherwise.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			socket, _ := lookupEnv("DOCKER_SOCKET")
			adapter, _ := lookupEnv("RUN_ADAPTER")
			d := diagnose(ctx, bwrap.Inspect(ctx, "", 0), checkDocker(ctx, socket), adapter)
			d.write(cmd.OutOrStdout())
			if !d.isolated {
				return &ExitError{Code: ExitFailure, Err: errors.New("no isolated executor is usable on this host")}
			}
			return nil
		},
	}
}

// dockerCheck is the state of the Docker daemon's socket.
type dockerCheck struct {
	socket string
	err    error
}

// checkDocker pings the Docker daemon at socket (a unix socket path, unix://path, or an http(s):// URL;
// "" = /var/run/docker.sock).
func checkDocker(ctx context.Context, socket string) dockerCheck {
	if socket == "" {
		socket = "/var/run/docker.sock"
	}
	c := dockerCheck{socket: socket}
	base := "http://docker"
	client := &http.Client{Timeout: 5 * time.Second}
	if strings.HasPrefix(socket, "http://") || strings.HasPrefix(socket, "https://") {
		base = strings.TrimRight(socket, "/")
	} else {
		path := strings.TrimPrefix(socket, "unix://")
		client.Transport = &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		}}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/_ping", nil)
	if err != nil {
		c.err = err
		return c
	}
	resp, err := client.Do(req)
	if err != nil {
		c.err = err
		return c
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		c.err = fmt.Errorf("GET /_ping answered %d %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return c
}

// diagnosis is the doctor's findings.
type diagnosis struct {
	lines    []doctorLine
	isolated bool   // an isolated executor is usable
	auto     string // what RUN_ADAPTER="" chooses
	adapter  string // RUN_ADAPTER as set
}

type doctorLine struct {
	name, status string
	details      []string
}

func diagnose(_ context.Context, probe *bwrap.Probe, docker dockerCheck, adapter string) diagnosis {
	d := diagnosis{adapter: adapter, auto: "process"}
	d.lines = append(d.lines, doctorLine{name: "process",
		status: "usable, NOT isolated: runners see this machine's files and network"})

	bw := doctorLine{name: "bwrap"}
	if probe.Usable() {
		d.isolated, d.auto = true, "bwrap"
		bw.status = "usable: " + probe.Version + " (" + probe.Bwrap + ")"
		if probe.SandboxUID != os.Geteuid() {
			bw.details = append(bw.details, fmt.Sprintf("sandboxes run as host uid %d (the server runs as root)", probe.SandboxUID))
		}
		bw.details = append(bw.details, "limits: "+probe.LimitsSummary())
		if probe.Cgroups.MoveSelf {
			bw.details = append(bw.details, "the server moves itself into "+probe.Cgroups.Dir+"/appstrate-server to enable the controllers")
		}
		if !probe.Cgroups.Usable() {
			bw.details = append(bw.details, "for memory, pids and CPU limits per run: "+probe.Cgroups.Fix)
		}
		if !probe.DisableUserns {
			bw.details = append(bw.details, "this bwrap cannot disable nested user namespaces (--disable-userns, bubblewrap ≥ 0.8): upgrade it")
		}
	} else {
		bw.status = "unavailable: " + probe.Err.Error()
		bw.details = append(bw.details, "fix: "+probe.Fix)
	}
	d.lines = append(d.lines, bw)

	dk := doctorLine{name: "docker"}
	if docker.err == nil {
		dk.status = "daemon reachable at " + docker.socket + ", but the docker executor is not part of this build yet"
	} else {
		dk.status = "unavailable: the Docker daemon is unreachable at " + docker.socket + " (" + docker.err.Error() + ")"
		dk.details = append(dk.details, "fix: install and start Docker, give this user access to its socket (docker group), or set DOCKER_SOCKET")
	}
	d.lines = append(d.lines, dk)
	return d
}

func (d diagnosis) write(w io.Writer) {
	fmt.Fprintln(w, "Run executors on this host:")
	for _, l := range d.lines {
		fmt.Fprintf(w, "  %-8s %s\n", l.name, l.status)
		for _, detail := range l.details {
			fmt.Fprintf(w, "  %-8s   %s\n", "", detail)
		}
	}
	switch {
	case d.adapter == "":
		fmt.Fprintf(w, "RUN_ADAPTER is not set: `appstrate serve` uses %s.\n", d.auto)
	default:
		fmt.Fprintf(w, "RUN_ADAPTER=%s.\n", d.adapter)
	}
	if !d.isolated {
		fmt.Fprintln(w, "No isolated executor is usable: runs would execute without a sandbox.")
	}
}
