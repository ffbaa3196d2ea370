package mail

import "github.com/appstrate/appstrate-go/internal/config"

// FromConfig returns the SMTP sender of the configuration, or nil when SMTP is not configured (SMTP_HOST,
// SMTP_USER, SMTP_PASS and SMTP_FROM must all be set).
func FromConfig(cfg *config.Config) Sender {
	if !cfg.SMTPEnabled() {
		return nil
	}
	return &SMTP{Host: cfg.SMTPHost, Port: cfg.SMTPPort, Username: cfg.SMTPUser, Password: cfg.SMTPPass, From: cfg.SMTPFrom,
		ImplicitTLS: cfg.SMTPPort == 465}
}
