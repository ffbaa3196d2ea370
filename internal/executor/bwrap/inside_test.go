package bwrap

import (
	"bufio"
	"io"
	"net"
	"path/filepath"
	"testing"
)

// The in-sandbox relay carries a connection both ways to the unix socket, including the half-close that
// ends a request body.
func TestRelayCarriesConnectionsToTheSocket(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "proxy.sock")
	upstream, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	defer upstream.Close()
	go func() {
		for {
			c, err := upstream.Accept()
			if err != nil {
				return
			}
			go func() { // echo everything, upper-cased marker at the end of the input
				defer c.Close()
				b, _ := io.ReadAll(c)
				_, _ = c.Write(append(b, []byte("|EOF")...))
			}()
		}
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go relayConnections(ln, socket)
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte("CONNECT x:443")); err != nil {
			t.Fatal(err)
		}
		_ = c.(*net.TCPConn).CloseWrite()
		got, err := io.ReadAll(bufio.NewReader(c))
		c.Close()
		if err != nil || string(got) != "CONNECT x:443|EOF" {
			t.Fatalf("relayed answer = %q, %v", got, err)
		}
	}

	// No sidecar proxy: the client gets a 502 rather than a silent close.
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln2.Close()
	go relayConnections(ln2, filepath.Join(t.TempDir(), "missing.sock"))
	c, err := net.Dial("tcp", ln2.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	line, _ := bufio.NewReader(c).ReadString('\n')
	if line != "HTTP/1.1 502 Bad Gateway\r\n" {
		t.Errorf("answer without a proxy = %q", line)
	}
}
