package launch

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"
)

// SidecarStartWait bounds the wait for a sidecar to answer its health check.
const SidecarStartWait = 15 * time.Second

// StartSidecar starts the sidecar command c, whose environment already names its listen socket, records its
// pid in pidDir, and waits until it answers GET /health on socket. It returns the forward proxy address the
// sidecar reports ("" = none). On failure the sidecar is killed and the error carries the tail of its output.
func StartSidecar(ctx context.Context, c Command, socket, pidDir string) (*Proc, string, error) {
	p, err := Start(c)
	if err != nil {
		return nil, "", err
	}
	WritePid(pidDir, "sidecar", p.Pid())
	proxy, err := WaitHealthy(ctx, socket, p, SidecarStartWait)
	if err != nil {
		p.Signal(syscall.SIGKILL)
		<-p.Exited()
		return nil, "", fmt.Errorf("%w%s", err, p.Tail())
	}
	return p, proxy, nil
}

// WaitHealthy polls the sidecar's /health on its socket until it answers 200, and returns the forward proxy
// address it reports.
func WaitHealthy(ctx context.Context, socket string, p *Proc, limit time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	c := UnixClient(socket)
	delay := 2 * time.Millisecond
	for {
		proxy, ok := probeHealth(ctx, c)
		if ok {
			return proxy, nil
		}
		select {
		case <-p.Exited():
			return "", fmt.Errorf("sidecar exited with code %d before it was ready", p.ExitCode())
		case <-ctx.Done():
			return "", fmt.Errorf("sidecar not ready after %s", limit)
		case <-time.After(delay):
		}
		delay = min(delay*2, 100*time.Millisecond)
	}
}

// UnixClient is an HTTP client whose every request is dialled to socket.
func UnixClient(socket string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		DisableKeepAlives: true,
	}, Timeout: time.Second}
}

func probeHealth(ctx context.Context, c *http.Client) (string, bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://sidecar/health", nil)
	if err != nil {
		return "", false
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", false
	}
	defer resp.Body.Close()
	var body struct {
		Proxy string `json:"proxy"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&body)
	return body.Proxy, resp.StatusCode == http.StatusOK
}
