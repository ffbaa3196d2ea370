package mail

import (
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
)

// Languages of the templates; anything else falls back to English.
const (
	LangFR = "fr"
	LangEN = "en"
)

// LinkData is what the verification and reset templates show.
type LinkData struct {
	Name string // recipient's display name (may be empty)
	URL  string // the link to follow
}

type template struct {
	subject string
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

func newTemplate(subject, text, html string) template {
	return template{
		subject: subject,
		text:    texttemplate.Must(texttemplate.New("text").Parse(text)),
		html:    htmltemplate.Must(htmltemplate.New("html").Parse(html)),
	}
}

func (t template) render(to string, d LinkData) (Message, error) {
	var text, html strings.Builder
	if err := t.text.Execute(&text, d); err != nil {
		return Message{}, err
	}
	if err := t.html.Execute(&html, d); err != nil {
		return Message{}, err
	}
	return Message{To: to, Subject: t.subject, Text: text.String(), HTML: html.String()}, nil
}

const htmlLayout = `<!doctype html><html><body style="font-family:sans-serif;line-height:1.5">` +
	`<p>{{.Greeting}}</p><p>{{.Intro}}</p><p><a href="{{.URL}}">{{.Action}}</a></p>` +
	`<p style="color:#666;font-size:0.9em">{{.Footer}}</p></body></html>`

// page expands the shared HTML layout with the copy of one message.
func page(greeting, intro, action, footer string) string {
	r := strings.NewReplacer("{{.Greeting}}", greeting, "{{.Intro}}", intro, "{{.Action}}", action, "{{.Footer}}", footer)
	return r.Replace(htmlLayout)
}

var templates = map[string]map[string]template{
	"verify-email": {
		LangFR: newTemplate("Vérifiez votre adresse e-mail",
			"Bonjour{{if .Name}} {{.Name}}{{end}},\n\nConfirmez votre adresse e-mail pour activer votre compte Appstrate en ouvrant ce lien :\n\n{{.URL}}\n\nCe lien expire dans une heure. Si vous n'êtes pas à l'origine de cette inscription, ignorez ce message.\n",
			page("Bonjour{{if .Name}} {{.Name}}{{end}},", "Confirmez votre adresse e-mail pour activer votre compte Appstrate.",
				"Vérifier mon adresse e-mail", "Ce lien expire dans une heure. Si vous n'êtes pas à l'origine de cette inscription, ignorez ce message.")),
		LangEN: newTemplate("Verify your email address",
			"Hello{{if .Name}} {{.Name}}{{end}},\n\nConfirm your email address to activate your Appstrate account by opening this link:\n\n{{.URL}}\n\nThis link expires in one hour. If you did not sign up, ignore this message.\n",
			page("Hello{{if .Name}} {{.Name}}{{end}},", "Confirm your email address to activate your Appstrate account.",
				"Verify my email address", "This link expires in one hour. If you did not sign up, ignore this message.")),
	},
	"reset-password": {
		LangFR: newTemplate("Réinitialisation de votre mot de passe",
			"Bonjour{{if .Name}} {{.Name}}{{end}},\n\nUne réinitialisation du mot de passe de votre compte Appstrate a été demandée. Choisissez un nouveau mot de passe en ouvrant ce lien :\n\n{{.URL}}\n\nCe lien expire dans une heure. Si vous n'avez rien demandé, ignorez ce message : votre mot de passe reste inchangé.\n",
			page("Bonjour{{if .Name}} {{.Name}}{{end}},", "Une réinitialisation du mot de passe de votre compte Appstrate a été demandée.",
				"Choisir un nouveau mot de passe", "Ce lien expire dans une heure. Si vous n'avez rien demandé, ignorez ce message : votre mot de passe reste inchangé.")),
		LangEN: newTemplate("Reset your password",
			"Hello{{if .Name}} {{.Name}}{{end}},\n\nSomeone asked to reset the password of your Appstrate account. Choose a new password by opening this link:\n\n{{.URL}}\n\nThis link expires in one hour. If you did not ask for it, ignore this message: your password stays unchanged.\n",
			page("Hello{{if .Name}} {{.Name}}{{end}},", "Someone asked to reset the password of your Appstrate account.",
				"Choose a new password", "This link expires in one hour. If you did not ask for it, ignore this message: your password stays unchanged.")),
	},
}

func render(kind, lang, to string, d LinkData) (Message, error) {
	byLang := templates[kind]
	t, ok := byLang[lang]
	if !ok {
		t = byLang[LangEN]
	}
	return t.render(to, d)
}

// VerificationEmail is the message asking to confirm an address (lang "fr" or "en"; others fall back to "en").
func VerificationEmail(lang, to string, d LinkData) (Message, error) {
	return render("verify-email", lang, to, d)
}

// PasswordResetEmail is the message carrying a password reset link.
func PasswordResetEmail(lang, to string, d LinkData) (Message, error) {
	return render("reset-password", lang, to, d)
}
