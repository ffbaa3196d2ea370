package uploads

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// Defaults of Limits.
const (
	DefaultMaxSize           = 100 << 20 // API.md §4.13: size ≤ 100 MiB
	DefaultTTL               = 15 * time.Minute
	DefaultConsumedRetention = 24 * time.Hour
	MaxNameLen               = 255
)

// ContentPath is the path of the PUT route; the upload URL is AppURL + ContentPath + "?token=…".
const ContentPath = "/api/uploads/_content"

// Errors of the upload service. Route code maps them to problems (see the comments).
var (
	ErrNotFound       = errors.New("upload not found")                                          // 404 not_found
	ErrExpired        = errors.New("upload expired")                                            // 410 upload_expired
	ErrAlreadyWritten = errors.New("upload content was already written")                        // 409 upload_already_written
	ErrConsumed       = errors.New("upload already consumed")                                   // 409 upload_consumed
	ErrNotWritten     = errors.New("upload has no content yet: PUT it to its upload URL first") // 400
	ErrInvalidURI     = errors.New("invalid upload URI: expected upload://upl_<uuid>")          // 400
	ErrBodyRead       = errors.New("upload body could not be read")                             // 400
)

// InvalidError is a creation request the service refuses (400 validation_failed on Field).
type InvalidError struct {
	Field, Code, Message string
}

func (e *InvalidError) Error() string { return e.Field + ": " + e.Message }

// TooLargeError: the content exceeds the declared size (413 payload_too_large).
type TooLargeError struct{ Limit int64 }

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("upload content exceeds the declared size of %d bytes", e.Limit)
}

// ContentTypeError: the PUT's Content-Type is not the type declared at creation (400).
type ContentTypeError struct{ Declared, Got string }

func (e *ContentTypeError) Error() string {
	got := e.Got
	if got == "" {
		got = "none"
	}
	return fmt.Sprintf("Content-Type %s does not match the declared mime type %s", got, e.Declared)
}

// MIMEMismatchError: the magic bytes of the content name another type than the declared one (400).
type MIMEMismatchError struct{ Declared, Detected string }

func (e *MIMEMismatchError) Error() string {
	return fmt.Sprintf("upload content does not match the declared mime type %s (detected %s)", e.Declared, e.Detected)
}

// Limits tune the service; zero fields take the defaults.
type Limits struct {
	MaxSize           int64         // largest declared size accepted at creation
	TTL               time.Duration // lifetime of an upload URL and of an unconsumed upload
	ConsumedRetention time.Duration // how long a consumed upload's content is kept for its run
}

func (l Limits) withDefaults() Limits {
	if l.MaxSize <= 0 {
		l.MaxSize = DefaultMaxSize
	}
	if l.TTL <= 0 {
		l.TTL = DefaultTTL
	}
	if l.ConsumedRetention <= 0 {
		l.ConsumedRetention = DefaultConsumedRetention
	}
	return l
}

// Service owns the uploads table and the uploaded contents. Its zero value is not usable: build it with New.
type Service struct {
	DB      *store.DB
	Objects Objects
	Secret  []byte // UPLOAD_SIGNING_SECRET
	AppURL  string // base of the upload URLs
	Limits  Limits
	Logger  *slog.Logger
	// Now is the clock (tests move it to expire uploads); nil = time.Now.
	Now func() time.Time
}

// New builds the service. It does not touch the database.
func New(db *store.DB, objects Objects, secret, appURL string, logger *slog.Logger) *Service {
	if logger == nil {
		logger = slog.Default()
	}
	return &Service{DB: db, Objects: objects, Secret: []byte(secret), AppURL: strings.TrimRight(appURL, "/"),
		Logger: logger}
}

func (s *Service) now() isotime.Time {
	if s.Now != nil {
		return isotime.From(s.Now())
	}
	return isotime.Now()
}

// Upload is one row of the uploads table.
type Upload struct {
	ID            string
	OrgID         string
	ApplicationID string
	CreatedBy     string // user id; "" for API keys
	StorageKey    string // <org>/<app>/<upload id>: the prefix of the content's object key
	Name          string
	MIME          string // declared, normalised
	Size          int64  // declared: the most bytes the content may have
	ExpiresAt     isotime.Time
	ConsumedAt    isotime.Time
	WrittenAt     isotime.Time
	ContentKey    string // object holding the content ("" until written)
	ContentSize   int64  // actual size of the content
	DetectedMIME  string // what the magic bytes said
	CreatedAt     isotime.Time
}

// NewUpload is a creation request.
type NewUpload struct {
	Name string
	MIME string
	Size int64
}

// Created is a new upload with the request the client makes to send its content.
type Created struct {
	Upload
	URI     string            // upload://upl_…
	URL     string            // where to PUT the content
	Method  string            // "PUT"
	Headers map[string]string // headers the PUT must carry
}

// URI renders the run-input reference of an upload id.
func URI(id string) string { return "upload://" + id }

// ParseURI extracts the upload id of an upload://upl_<uuid> reference.
func ParseURI(uri string) (string, error) {
	id, ok := strings.CutPrefix(uri, "upload://")
	if !ok || !ids.Valid(id, ids.Upload) {
		return "", ErrInvalidURI
	}
	return id, nil
}

// Create validates in, inserts the upload row of orgID/appID (userID "" for API keys) and signs its URL.
func (s *Service) Create(ctx context.Context, orgID, appID, userID string, in NewUpload) (Created, error) {
	lim := s.Limits.withDefaults()
	name := strings.TrimSpace(in.Name)
	m := NormalizeMIME(in.MIME)
	switch {
	case name == "" || utf8.RuneCountInString(name) > MaxNameLen || !utf8.ValidString(name):
		return Created{}, &InvalidError{Field: "name", Code: "invalid_value", Message: fmt.Sprintf("must be 1 to %d characters", MaxNameLen)}
	case in.Size < 1 || in.Size > lim.MaxSize:
		return Created{}, &InvalidError{Field: "size", Code: "out_of_range", Message: fmt.Sprintf("must be between 1 and %d bytes", lim.MaxSize)}
	case m == "" || !Allowed(m):
		return Created{}, &InvalidError{Field: "mime", Code: "invalid_value",
			Message: fmt.Sprintf("mime type %q is not accepted for uploads; accepted: %s", in.MIME, strings.Join(AllowedTypes(), ", "))}
	}
	now := s.now()
	u := Upload{ID: ids.New(ids.Upload), OrgID: orgID, ApplicationID: appID, CreatedBy: userID, Name: name,
		MIME: m, Size: in.Size, ExpiresAt: isotime.From(now.Add(lim.TTL)), CreatedAt: now}
	u.StorageKey = orgID + "/" + appID + "/" + u.ID
	token, err := SignToken(s.Secret, Claims{StorageKey: u.StorageKey, Expires: u.ExpiresAt.UnixMilli(), Size: u.Size,
		MIME: u.MIME, UploadID: u.ID, OrgID: orgID, AppID: appID})
	if err != nil {
		return Created{}, fmt.Errorf("sign upload token: %w", err)
	}
	_, err = s.DB.ExecContext(ctx, `INSERT INTO uploads (id, org_id, application_id, created_by, storage_key, name,
		mime, size, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.OrgID, u.ApplicationID, store.NullIfEmpty(userID), u.StorageKey, u.Name, u.MIME, u.Size, u.ExpiresAt, u.CreatedAt)
	if err != nil {
		return Created{}, fmt.Errorf("insert upload: %w", err)
	}
	return Created{Upload: u, URI: URI(u.ID), URL: s.AppURL + ContentPath + "?token=" + url.QueryEscape(token),
		Method: "PUT", Headers: map[string]string{"Content-Type": u.MIME}}, nil
}

const uploadColumns = `id, org_id, application_id, created_by, storage_key, name, mime, size, expires_at,
	consumed_at, written_at, content_key, content_size, detected_mime, created_at`

// Get returns the upload id of orgID/appID; ErrNotFound when it does not exist there.
func (s *Service) Get(ctx context.Context, orgID, appID, id string) (Upload, error) {
	u, err := get(ctx, s.DB, id, false)
	if err != nil {
		return Upload{}, err
	}
	if u.OrgID != orgID || u.ApplicationID != appID {
		return Upload{}, ErrNotFound
	}
	return u, nil
}

// get loads one upload, locking its row on PostgreSQL when forUpdate.
func get(ctx context.Context, q store.Querier, id string, forUpdate bool) (Upload, error) {
	query := `SELECT ` + uploadColumns + ` FROM uploads WHERE id = ?`
	if forUpdate && q.Dialect() == store.Postgres {
		query += ` FOR UPDATE`
	}
	var u Upload
	var createdBy, contentKey, detected *string
	var contentSize *int64
	err := q.QueryRowContext(ctx, query, id).Scan(&u.ID, &u.OrgID, &u.ApplicationID, &createdBy, &u.StorageKey,
		&u.Name, &u.MIME, &u.Size, &u.ExpiresAt, &u.ConsumedAt, &u.WrittenAt, &contentKey, &contentSize, &detected, &u.CreatedAt)
	if errors.Is(store.MapNotFound(err), store.ErrNotFound) {
		return Upload{}, ErrNotFound
	}
	if err != nil {
		return Upload{}, fmt.Errorf("load upload %s: %w", id, err)
	}
	u.CreatedBy, u.ContentKey, u.DetectedMIME = deref(createdBy), deref(contentKey), deref(detected)
	if contentSize != nil {
		u.ContentSize = *contentSize
	}
	return u, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
