package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"strconv"
	"strings"
	"time"
)

// SMTP sends messages through one SMTP server (SMTP_HOST/PORT/USER/PASS/FROM). With ImplicitTLS (port 465)
// the connection speaks TLS from the first byte; otherwise it upgrades with STARTTLS whenever the server
// offers it. Credentials are sent
// with AUTH PLAIN or LOGIN (whichever the server offers, PLAIN first), and only over TLS or to a loopback
// server, never in clear text across a network.
type SMTP struct {
	Host        string
	Port        int
	Username    string
	Password    string
	From        string        // default sender, used when Message.From is empty
	ImplicitTLS bool          // TLS from the first byte (SMTPS, port 465)
	LocalName   string        // EHLO name ("localhost" when empty)
	Timeout     time.Duration // whole-conversation limit (30 s when zero)
	TLSConfig   *tls.Config   // nil verifies the server certificate for Host against the system roots
}

// Send implements Sender.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	if m.From == "" {
		m.From = s.From
	}
	body, err := Render(m, time.Now())
	if err != nil {
		return err
	}
	from, _ := mail.ParseAddress(m.From) // validated by Render
	to, _ := mail.ParseAddress(m.To)
	if err := s.deliver(ctx, from.Address, to.Address, body); err != nil {
		return fmt.Errorf("mail: smtp %s: %w", net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), err)
	}
	return nil
}

func (s *SMTP) deliver(ctx context.Context, from, to string, body []byte) error {
	timeout := s.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d := net.Dialer{}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(s.Host, strconv.Itoa(s.Port)))
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() }) // unblocks reads and writes on cancel
	defer stop()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	if s.ImplicitTLS {
		tc := tls.Client(conn, s.tlsConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = conn.Close()
			return fmt.Errorf("tls handshake: %w", err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, s.Host)
	if err != nil {
		_ = conn.Close()
		return err
	}
	defer c.Close()
	local := s.LocalName
	if local == "" {
		local = "localhost"
	}
	if err := c.Hello(local); err != nil {
		return err
	}
	if !s.ImplicitTLS {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(s.tlsConfig()); err != nil {
				return fmt.Errorf("starttls: %w", err)
			}
		}
	}
	if s.Username != "" {
		if err := s.authenticate(c); err != nil {
			return err
		}
	}
	if err := c.Mail(from); err != nil {
		return err
	}
	if err := c.Rcpt(to); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(body); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

func (s *SMTP) tlsConfig() *tls.Config {
	if s.TLSConfig != nil {
		cfg := s.TLSConfig.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName = s.Host
		}
		return cfg
	}
	return &tls.Config{ServerName: s.Host, MinVersion: tls.VersionTLS12}
}

func (s *SMTP) authenticate(c *smtp.Client) error {
	ok, mechs := c.Extension("AUTH")
	if !ok {
		return errors.New("server offers no AUTH mechanism but SMTP_USER is set")
	}
	offered := strings.Fields(strings.ToUpper(mechs))
	has := func(m string) bool {
		for _, o := range offered {
			if o == m {
				return true
			}
		}
		return false
	}
	var a smtp.Auth
	switch {
	case has("PLAIN"):
		a = smtp.PlainAuth("", s.Username, s.Password, s.Host)
	case has("LOGIN"):
		a = &loginAuth{user: s.Username, pass: s.Password, host: s.Host}
	default:
		return fmt.Errorf("no supported AUTH mechanism among %q", mechs)
	}
	if err := c.Auth(a); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	return nil
}

// loginAuth is the AUTH LOGIN mechanism (net/smtp only ships PLAIN and CRAM-MD5).
type loginAuth struct{ user, pass, host string }

func (a *loginAuth) Start(server *smtp.ServerInfo) (string, []byte, error) {
	if !server.TLS && !isLoopback(server.Name) {
		return "", nil, errors.New("refusing AUTH LOGIN over an unencrypted connection")
	}
	if server.Name != a.host {
		return "", nil, errors.New("wrong host name")
	}
	return "LOGIN", nil, nil
}

func (a *loginAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	switch strings.ToLower(strings.TrimSpace(string(fromServer))) {
	case "username:", "username":
		return []byte(a.user), nil
	case "password:", "password":
		return []byte(a.pass), nil
	}
	return nil, fmt.Errorf("unexpected AUTH LOGIN challenge %q", fromServer)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
