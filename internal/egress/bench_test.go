package egress

import (
	"io"
	"net/http"
	"testing"
)

// BenchmarkForwardGET: one small GET through the proxy per iteration, over kept-alive connections.
func BenchmarkForwardGET(b *testing.B) {
	origin := serveOn(b, publicAddr, false, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	h := startProxy(b, Config{})
	tr := &http.Transport{Proxy: http.ProxyURL(h.url)}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	target := "http://public.test:" + port(b, origin.Listener.Addr().String()) + "/"
	for b.Loop() {
		resp, err := client.Get(target)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
}

// BenchmarkTunnel: throughput of a CONNECT tunnel to an echo server, 32 KiB per iteration each way.
func BenchmarkTunnel(b *testing.B) {
	echo, _ := echoServer(b)
	h := startProxy(b, Config{})
	conn, br := h.connect(b, "public.test:"+port(b, echo))
	chunk := make([]byte, 32<<10)
	back := make([]byte, len(chunk))
	b.SetBytes(int64(len(chunk)))
	for b.Loop() {
		if _, err := conn.Write(chunk); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(br, back); err != nil {
			b.Fatal(err)
		}
	}
}
