// Package mail sends the platform's transactional e-mail (address verification, password reset) over SMTP,
// and renders those messages from templates in French (the default language) and English.
// Subpackage mailtest is an in-process SMTP server for tests.
package mail
