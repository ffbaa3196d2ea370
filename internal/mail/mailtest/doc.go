// Package mailtest runs a small in-process SMTP server on loopback for tests: EHLO, optional STARTTLS (with a
// throwaway self-signed certificate), AUTH PLAIN and LOGIN, MAIL/RCPT/DATA. It records every message it
// accepts so tests can read the links the platform sent.
package mailtest
