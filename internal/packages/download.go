package packages

import (
	"context"

	"github.com/appstrate/appstrate-go/internal/afps"
)

// Download is one version archive ready to serve.
type Download struct {
	PackageID string
	Type      string
	Version   string
	Data      []byte // exactly the stored bytes, verified against Integrity
	Integrity string
	Yanked    bool
	Filename  string // "<scope-without-@>-<name>-<version>.afps"
}

// ErrIntegrity is wrapped by Download when the stored bytes no longer hash to the recorded integrity: the
// archive must not be served.
type ErrIntegrity struct {
	PackageID, Version, Recorded, Actual string
}

func (e *ErrIntegrity) Error() string {
	return "stored archive of " + e.PackageID + "@" + e.Version + " does not match its integrity (recorded " + e.Recorded +
		", actual " + e.Actual + ")"
}

// Download resolves a version query (exact, dist-tag, range) of a package the caller's organization sees (own
// or system, not ephemeral) and returns its archive, re-verified against the recorded SRI.
func (r *Registry) Download(ctx context.Context, c Caller, id, query string) (*Download, error) {
	p, err := r.visible(ctx, r.DB, c, "", id)
	if err != nil {
		return nil, err
	}
	v, _, _, err := resolveVersion(ctx, r.DB, id, query)
	if err != nil {
		return nil, err
	}
	data, err := r.Blobs.Get(ctx, BucketVersions, VersionKey(id, v.Version))
	if err != nil {
		return nil, &RegistryError{Kind: KindInternal, Code: "internal_error", Message: "archive unavailable", Err: err}
	}
	if !afps.VerifySRI(data, v.Integrity) {
		return nil, &RegistryError{Kind: KindInternal, Code: "internal_error", Message: "archive integrity mismatch",
			Err: &ErrIntegrity{PackageID: id, Version: v.Version, Recorded: v.Integrity, Actual: afps.SRI(data)}}
	}
	return &Download{PackageID: id, Type: p.Type, Version: v.Version, Data: data, Integrity: v.Integrity, Yanked: v.Yanked,
		Filename: afps.ArchiveName(id, v.Version)}, nil
}
