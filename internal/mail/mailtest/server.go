package mailtest

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Options shape the server.
type Options struct {
	Username string // expected AUTH credentials; empty accepts any
	Password string
	STARTTLS bool     // advertise and support STARTTLS
	TLS      bool     // speak TLS from the first byte (SMTPS)
	Mechs    []string // AUTH mechanisms advertised (default PLAIN LOGIN)
}

// Message is one accepted message.
type Message struct {
	From     string
	To       []string
	Data     []byte // the raw message as received (dot-unstuffed)
	AuthUser string // the user that authenticated, if any
	TLS      bool   // whether the session was encrypted when the message was sent
}

// Server is a running test SMTP server.
type Server struct {
	opts  Options
	ln    net.Listener
	tls   *tls.Config
	roots *x509.CertPool
	wg    sync.WaitGroup

	mu       sync.Mutex
	messages []Message
	conns    map[net.Conn]bool
	closed   bool
}

// Start listens on 127.0.0.1 and serves until the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if len(opts.Mechs) == 0 {
		opts.Mechs = []string{"PLAIN", "LOGIN"}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mailtest: listen: %v", err)
	}
	s := &Server{opts: opts, ln: ln}
	if opts.STARTTLS || opts.TLS {
		if err := s.makeCert(); err != nil {
			t.Fatalf("mailtest: certificate: %v", err)
		}
	}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.Close)
	return s
}

// Host is the address to dial ("127.0.0.1").
func (s *Server) Host() string { return s.ln.Addr().(*net.TCPAddr).IP.String() }

// Port is the listening port.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// ClientTLSConfig trusts the server's throwaway certificate.
func (s *Server) ClientTLSConfig() *tls.Config {
	return &tls.Config{RootCAs: s.roots, ServerName: s.Host(), MinVersion: tls.VersionTLS12}
}

// Messages returns the messages accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Close stops the server, drops open connections and waits for their goroutines.
func (s *Server) Close() {
	_ = s.ln.Close()
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// track registers a connection so Close can drop it; false when the server is closing.
func (s *Server) track(c net.Conn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.conns, c)
		return true
	}
	if s.closed {
		return false
	}
	if s.conns == nil {
		s.conns = map[net.Conn]bool{}
	}
	s.conns[c] = true
	return true
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		if !s.track(conn, true) {
			_ = conn.Close()
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.track(conn, false)
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
			s.serve(conn)
		}()
	}
}

type session struct {
	s        *Server
	conn     net.Conn
	r        *bufio.Reader
	tls      bool
	authUser string
	from     string
	to       []string
}

func (ss *session) reply(code int, lines ...string) {
	var b strings.Builder
	for i, l := range lines {
		sep := "-"
		if i == len(lines)-1 {
			sep = " "
		}
		b.WriteString(strconv.Itoa(code) + sep + l + "\r\n")
	}
	_, _ = io.WriteString(ss.conn, b.String())
}

func (ss *session) readLine() (string, error) {
	line, err := ss.r.ReadString('\n')
	return strings.TrimRight(line, "\r\n"), err
}

func (s *Server) serve(conn net.Conn) {
	ss := &session{s: s, conn: conn, r: bufio.NewReader(conn)}
	if s.opts.TLS {
		tc := tls.Server(conn, s.tls)
		if err := tc.Handshake(); err != nil {
			return
		}
		ss.conn, ss.r, ss.tls = tc, bufio.NewReader(tc), true
	}
	ss.reply(220, "mailtest ESMTP ready")
	for {
		line, err := ss.readLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			ext := []string{"mailtest greets " + arg, "8BITMIME", "AUTH " + strings.Join(s.opts.Mechs, " ")}
			if s.opts.STARTTLS && !ss.tls {
				ext = append(ext, "STARTTLS")
			}
			ss.reply(250, ext...)
		case "STARTTLS":
			if !s.opts.STARTTLS || ss.tls {
				ss.reply(502, "not available")
				continue
			}
			ss.reply(220, "go ahead")
			tc := tls.Server(conn, s.tls)
			if err := tc.Handshake(); err != nil {
				return
			}
			ss.conn, ss.r, ss.tls = tc, bufio.NewReader(tc), true
			ss.authUser, ss.from, ss.to = "", "", nil
		case "AUTH":
			if !ss.auth(arg) {
				return
			}
		case "MAIL":
			ss.from = addrArg(arg)
			ss.to = nil
			ss.reply(250, "ok")
		case "RCPT":
			if ss.from == "" {
				ss.reply(503, "need MAIL first")
				continue
			}
			ss.to = append(ss.to, addrArg(arg))
			ss.reply(250, "ok")
		case "DATA":
			if len(ss.to) == 0 {
				ss.reply(503, "need RCPT first")
				continue
			}
			ss.reply(354, "end with <CRLF>.<CRLF>")
			data, err := ss.readData()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.messages = append(s.messages, Message{From: ss.from, To: ss.to, Data: data, AuthUser: ss.authUser, TLS: ss.tls})
			s.mu.Unlock()
			ss.from, ss.to = "", nil
			ss.reply(250, "queued")
		case "RSET":
			ss.from, ss.to = "", nil
			ss.reply(250, "ok")
		case "NOOP":
			ss.reply(250, "ok")
		case "QUIT":
			ss.reply(221, "bye")
			return
		default:
			ss.reply(502, "command not implemented")
		}
	}
}

// auth runs one AUTH exchange; it reports false when the connection broke.
func (ss *session) auth(arg string) bool {
	mech, initial, _ := strings.Cut(arg, " ")
	var user, pass string
	switch strings.ToUpper(mech) {
	case "PLAIN":
		if initial == "" {
			ss.reply(334, "")
			l, err := ss.readLine()
			if err != nil {
				return false
			}
			initial = l
		}
		raw, err := base64.StdEncoding.DecodeString(initial)
		parts := strings.Split(string(raw), "\x00")
		if err != nil || len(parts) != 3 {
			ss.reply(501, "malformed PLAIN response")
			return true
		}
		user, pass = parts[1], parts[2]
	case "LOGIN":
		var ok bool
		if user, ok = ss.challenge("Username:"); !ok {
			return false
		}
		if pass, ok = ss.challenge("Password:"); !ok {
			return false
		}
	default:
		ss.reply(504, "unsupported mechanism")
		return true
	}
	if ss.s.opts.Username != "" && (user != ss.s.opts.Username || pass != ss.s.opts.Password) {
		ss.reply(535, "authentication failed")
		return true
	}
	ss.authUser = user
	ss.reply(235, "authenticated")
	return true
}

func (ss *session) challenge(prompt string) (string, bool) {
	ss.reply(334, base64.StdEncoding.EncodeToString([]byte(prompt)))
	l, err := ss.readLine()
	if err != nil {
		return "", false
	}
	v, err := base64.StdEncoding.DecodeString(l)
	return string(v), err == nil
}

func (ss *session) readData() ([]byte, error) {
	var b bytes.Buffer
	for {
		line, err := ss.r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		if line == ".\r\n" || line == ".\n" {
			return b.Bytes(), nil
		}
		b.WriteString(strings.TrimPrefix(line, "."))
	}
}

func addrArg(arg string) string {
	if i := strings.IndexByte(arg, '<'); i >= 0 {
		if j := strings.IndexByte(arg[i:], '>'); j >= 0 {
			return arg[i+1 : i+j]
		}
	}
	return arg
}

func (s *Server) makeCert() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "mailtest"},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
		IsCA:         true,

		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	s.roots = x509.NewCertPool()
	s.roots.AddCert(cert)
	s.tls = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
	return nil
}

// Header returns a decoded header of the message (RFC 2047 words decoded).
func (m Message) Header(name string) string {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		return ""
	}
	v := msg.Header.Get(name)
	if dec, err := new(mime.WordDecoder).DecodeHeader(v); err == nil {
		return dec
	}
	return v
}

// Text returns the decoded text/plain part of the message.
func (m Message) Text() string { return m.part("text/plain") }

// HTML returns the decoded text/html part of the message, or "".
func (m Message) HTML() string { return m.part("text/html") }

func (m Message) part(want string) string {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		return ""
	}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	if !strings.HasPrefix(mediaType, "multipart/") {
		if mediaType != want {
			return ""
		}
		return decodeBody(msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextRawPart()
		if err != nil {
			return ""
		}
		if mt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); mt == want {
			return decodeBody(p.Header.Get("Content-Transfer-Encoding"), p)
		}
	}
}

func decodeBody(encoding string, r io.Reader) string {
	if strings.EqualFold(encoding, "quoted-printable") {
		r = quotedprintable.NewReader(r)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return fmt.Sprintf("<unreadable body: %v>", err)
	}
	return strings.ReplaceAll(string(b), "\r\n", "\n")
}
