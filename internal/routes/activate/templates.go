package activate

import (
	"html/template"
)

// pageData is what every page template reads.
type pageData struct {
	Title    string
	Heading  string
	Message  string // intro or result text
	Error    string // error banner
	CSRF     string
	UserCode string // normalized code (hidden form value)
	Display  string // XXXX-XXXX
	Client   string
	Scopes   []string
	Email    string
	ReturnTo string
	Input    string // what the user typed (entry form)
}

const layout = `{{define "layout"}}<!doctype html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{.Title}} · Appstrate</title>
<style>
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;background:#f5f5f7;color:#1d1d1f;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{width:100%;max-width:420px;margin:24px;padding:32px;background:#fff;border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{margin:0 0 12px;font-size:22px}
p{margin:0 0 16px}
.muted{color:#6e6e73;font-size:14px}
.error{margin:0 0 16px;padding:10px 12px;border-radius:8px;background:#fdecec;color:#a1120a}
.code{margin:16px 0;padding:12px;text-align:center;font:600 28px/1.2 ui-monospace,SFMono-Regular,Menlo,monospace;letter-spacing:4px;background:#f5f5f7;border-radius:8px}
label{display:block;margin:0 0 6px;font-weight:600}
input[type=text],input[type=email],input[type=password]{width:100%;margin:0 0 16px;padding:10px 12px;font-size:16px;border:1px solid #c7c7cc;border-radius:8px}
input[name=user_code]{text-transform:uppercase;letter-spacing:2px;font-family:ui-monospace,SFMono-Regular,Menlo,monospace}
button{width:100%;padding:11px 12px;font-size:16px;font-weight:600;border:0;border-radius:8px;cursor:pointer;background:#1d1d1f;color:#fff}
button.secondary{background:#e8e8ed;color:#1d1d1f}
.actions{display:flex;gap:12px}
.actions form{flex:1}
ul{margin:0 0 16px;padding-left:20px}
</style>
</head>
<body><main>
<h1>{{.Heading}}</h1>
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
{{template "content" .}}
</main></body>
</html>{{end}}`

var templates = map[string]*template.Template{
	"enter": page(`{{define "content"}}<p>Saisissez le code affiché dans votre terminal pour connecter la CLI Appstrate à votre compte.</p>
<form method="post" action="/activate">
<input type="hidden" name="_csrf" value="{{.CSRF}}">
<label for="user_code">Code</label>
<input type="text" id="user_code" name="user_code" value="{{.Input}}" placeholder="XXXX-XXXX" maxlength="16" autocomplete="off" autocapitalize="characters" spellcheck="false" autofocus required>
<button type="submit">Continuer</button>
</form>
{{if .Email}}<p class="muted">Connecté en tant que {{.Email}}.</p>{{end}}{{end}}`),
	"confirm": page(`{{define "content"}}<p><strong>{{.Client}}</strong> demande l'accès à votre compte Appstrate.</p>
<p>Vérifiez que ce code correspond à celui affiché dans votre terminal :</p>
<div class="code">{{.Display}}</div>
{{if .Scopes}}<p class="muted">Autorisations demandées :</p><ul class="muted">{{range .Scopes}}<li>{{.}}</li>{{end}}</ul>{{end}}
<div class="actions">
<form method="post" action="/activate/deny">
<input type="hidden" name="_csrf" value="{{.CSRF}}">
<input type="hidden" name="user_code" value="{{.UserCode}}">
<button type="submit" class="secondary">Refuser</button>
</form>
<form method="post" action="/activate/approve">
<input type="hidden" name="_csrf" value="{{.CSRF}}">
<input type="hidden" name="user_code" value="{{.UserCode}}">
<button type="submit">Autoriser</button>
</form>
</div>
<p class="muted">Connecté en tant que {{.Email}}. N'autorisez que les appareils que vous avez vous-même connectés.</p>{{end}}`),
	"result": page(`{{define "content"}}{{if .Message}}<p>{{.Message}}</p>{{end}}
<p class="muted"><a href="/activate">Saisir un autre code</a></p>{{end}}`),
	"login": page(`{{define "content"}}<p>Connectez-vous pour continuer.</p>
<form method="post" action="/auth/login">
<input type="hidden" name="_csrf" value="{{.CSRF}}">
<input type="hidden" name="returnTo" value="{{.ReturnTo}}">
<label for="email">Adresse e-mail</label>
<input type="email" id="email" name="email" value="{{.Input}}" autocomplete="username" required autofocus>
<label for="password">Mot de passe</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit">Se connecter</button>
</form>{{end}}`),
}

func page(content string) *template.Template {
	t := template.Must(template.New("layout").Parse(layout))
	return template.Must(t.Parse(content))
}
