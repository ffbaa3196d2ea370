package uploads

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/ratelimit"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
	"github.com/appstrate/appstrate-go/internal/uploads"
)

var tags = []string{"Uploads"}

// Rate limits per minute (API.md §4.13).
const (
	createRate  = 20 // per caller
	contentRate = 60 // per IP
)

// contentReadTimeout bounds the whole body of one PUT (100 MiB at ~1 Mbit/s).
const contentReadTimeout = 30 * time.Minute

// UploadObject is the wire form of a created upload.
type UploadObject struct {
	Object    string            `json:"object" enum:"upload"`
	ID        string            `json:"id" doc:"upl_<uuid>"`
	URI       string            `json:"uri" doc:"upload://upl_<uuid>: the value of a file input of a run"`
	URL       string            `json:"url" doc:"Where to send the content, within expiresAt"`
	Method    string            `json:"method" enum:"PUT"`
	Headers   map[string]string `json:"headers" doc:"Headers the upload request must carry (Content-Type = the declared mime)"`
	ExpiresAt isotime.Time      `json:"expiresAt" format:"date-time"`
}

// CreateBody is the body of POST /api/uploads.
type CreateBody struct {
	Name string `json:"name" minLength:"1" maxLength:"255" doc:"File name, shown to the agent as documents/<name>"`
	Size int64  `json:"size" minimum:"1" maximum:"104857600" doc:"Size in bytes (at most 100 MiB); the content may not exceed it"`
	MIME string `json:"mime" minLength:"1" maxLength:"255" doc:"Declared MIME type; the content's magic bytes must match it. Accepted: documents (PDF, Office, OpenDocument, EPUB, RTF), text (plain, Markdown, CSV, TSV, HTML, XML, JSON, YAML), images (PNG, JPEG, GIF, WebP, BMP, TIFF, HEIC, AVIF) and audio (MP3, AAC, WAV, Ogg, FLAC, M4A, WebM)"`
}

type createInput struct {
	Body CreateBody
}

type createOutput struct {
	Body UploadObject
}

// contentInput is the PUT: the token and Content-Type come from the request; the body is streamed, never
// decoded by huma (Resolve hands the raw reader over).
type contentInput struct {
	Token       string `query:"token" required:"true" doc:"Signed upload token from the url of POST /api/uploads"`
	ContentType string `header:"Content-Type" doc:"Must equal the declared mime"`

	body   io.Reader
	length int64
}

// Resolve takes the raw body of the request and bounds the time it may take to arrive.
func (in *contentInput) Resolve(ctx huma.Context) []error {
	r, _ := humago.Unwrap(ctx)
	in.body, in.length = r.Body, r.ContentLength
	_ = ctx.SetReadDeadline(time.Now().Add(contentReadTimeout))
	return nil
}

type contentOutput struct{}

// Register adds the upload routes to api.
func Register(api huma.API, svc *uploads.Service, limiter ratelimit.Limiter) {
	h := handlers{svc: svc}
	httpapi.Register(api, huma.Operation{
		OperationID: "createUpload", Method: http.MethodPost, Path: "/api/uploads",
		Summary: "Create an upload", Tags: tags, DefaultStatus: http.StatusCreated,
		Description: "First step of a direct upload: declares a file (name, size, mime) and returns a signed URL, " +
			"valid 15 minutes and usable once, to PUT its content to, and the upload:// URI that a run's file input " +
			"takes. The URI is consumed by the first run that uses it.",
		Errors:      []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests},
		Middlewares: huma.Middlewares{httpapi.RateLimit(limiter, createRate, httpapi.ByCaller)},
	}, h.create)
	httpapi.Register(api, huma.Operation{
		OperationID: "putUploadContent", Method: http.MethodPut, Path: uploads.ContentPath,
		Summary: "Upload content", Tags: tags, DefaultStatus: http.StatusNoContent, Security: httpapi.Public,
		Description: "Second step of a direct upload: the raw bytes of the file, to the url returned at creation " +
			"(authenticated by its token). Content-Type must equal the declared mime and the body may not exceed " +
			"the declared size (413); the content's magic bytes must match the declared mime (400 naming both). " +
			"410 upload_expired once the URL expired, 409 upload_already_written after a successful upload.",
		RequestBody: &huma.RequestBody{Required: true, Description: "The file content",
			Content: map[string]*huma.MediaType{"*/*": {Schema: &huma.Schema{Type: "string", Format: "binary"}}}},
		Errors: []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound, http.StatusConflict,
			http.StatusGone, http.StatusRequestEntityTooLarge, http.StatusTooManyRequests},
		Middlewares: huma.Middlewares{httpapi.RateLimit(limiter, contentRate, httpapi.ByIP)},
	}, h.content)
}

type handlers struct{ svc *uploads.Service }

func (h handlers) create(ctx context.Context, in *createInput) (*createOutput, error) {
	p, _ := auth.PrincipalFrom(ctx)
	c, err := h.svc.Create(ctx, p.OrgID, p.ApplicationID, p.UserID, uploads.NewUpload{Name: in.Body.Name,
		MIME: in.Body.MIME, Size: in.Body.Size})
	if err != nil {
		return nil, problem(err)
	}
	return &createOutput{Body: UploadObject{Object: "upload", ID: c.ID, URI: c.URI, URL: c.URL, Method: c.Method,
		Headers: c.Headers, ExpiresAt: c.ExpiresAt}}, nil
}

func (h handlers) content(ctx context.Context, in *contentInput) (*contentOutput, error) {
	body := in.body
	if body == nil {
		body = http.NoBody
	}
	err := h.svc.Write(ctx, uploads.Put{Token: in.Token, ContentType: in.ContentType, ContentLength: in.length, Body: body})
	if err != nil {
		return nil, problem(err)
	}
	return &contentOutput{}, nil
}

// problem maps the service's errors to API problems.
func problem(err error) error {
	var (
		invalid  *uploads.InvalidError
		tooLarge *uploads.TooLargeError
		ctype    *uploads.ContentTypeError
		mismatch *uploads.MIMEMismatchError
	)
	switch {
	case errors.As(err, &invalid):
		return httpapi.BadRequest("validation_failed", invalid.Error()).
			WithErrors(httpapi.FieldError{Field: invalid.Field, Code: invalid.Code, Message: invalid.Message})
	case errors.Is(err, uploads.ErrInvalidToken):
		return httpapi.Unauthorized("Invalid upload token")
	case errors.Is(err, uploads.ErrExpired):
		return httpapi.NewProblem(http.StatusGone, "upload_expired", "The upload URL has expired; create a new upload")
	case errors.Is(err, uploads.ErrNotFound):
		return httpapi.NotFound("Upload not found")
	case errors.Is(err, uploads.ErrAlreadyWritten):
		return httpapi.Conflict("upload_already_written", "The content of this upload was already written")
	case errors.As(err, &tooLarge):
		return httpapi.NewProblem(http.StatusRequestEntityTooLarge, "payload_too_large", tooLarge.Error())
	case errors.As(err, &ctype):
		return httpapi.BadRequest("invalid_request", ctype.Error()).WithParam("Content-Type")
	case errors.As(err, &mismatch):
		return httpapi.BadRequest("invalid_request", mismatch.Error())
	case errors.Is(err, uploads.ErrBodyRead):
		return httpapi.BadRequest("invalid_request", "The upload body could not be read")
	}
	return err
}
