package afps

import (
	"errors"
	"strings"
)

// Code is a stable, upstream-compatible error code callers branch on (the HTTP layer lowercases the package
// codes, e.g. ZIP_BOMB → zip_bomb).
type Code string

// Package archive codes (PACKAGES.md §1.4, upstream PackageZipError).
const (
	CodeFileTooLarge    Code = "FILE_TOO_LARGE"   // compressed archive over the size limit
	CodeZipInvalid      Code = "ZIP_INVALID"      // not a readable ZIP, or duplicate entries
	CodeZipBomb         Code = "ZIP_BOMB"         // decompression limits exceeded (total, per entry, count, ratio)
	CodeMissingManifest Code = "MISSING_MANIFEST" // no (or an empty) manifest.json at the root
	CodeInvalidManifest Code = "INVALID_MANIFEST" // manifest.json is not JSON, or fails the schema
	CodeMissingContent  Code = "MISSING_CONTENT"  // prompt.md / SKILL.md / entrypoint missing or blank
	CodeInvalidContent  Code = "INVALID_CONTENT"  // SKILL.md frontmatter without a name
)

// Bundle codes (PACKAGES.md §1.11, upstream BundleError) and dependency resolution.
const (
	CodeArchiveInvalid       Code = "ARCHIVE_INVALID"
	CodeBundleJSONMissing    Code = "BUNDLE_JSON_MISSING"
	CodeBundleJSONInvalid    Code = "BUNDLE_JSON_INVALID"
	CodeRecordMissing        Code = "RECORD_MISSING"
	CodeRecordMalformed      Code = "RECORD_MALFORMED"
	CodeRecordMismatch       Code = "RECORD_MISMATCH"
	CodeIntegrityMismatch    Code = "INTEGRITY_MISMATCH"
	CodeVersionUnsupported   Code = "VERSION_UNSUPPORTED"
	CodeLimitsExceeded       Code = "LIMITS_EXCEEDED"
	CodeManifestSchema       Code = "MANIFEST_SCHEMA"
	CodeDependencyUnresolved Code = "DEPENDENCY_UNRESOLVED"
	// CodeBundleConflict: two incompatible versions of one package are required (route code bundle_conflict).
	CodeBundleConflict Code = "BUNDLE_CONFLICT"
)

// Error is a failure with a code (archive-level problems: size, ZIP structure, bundle structure).
type Error struct {
	Code    Code
	Message string
	Err     error // optional cause
}

func (e *Error) Error() string {
	if e.Err != nil {
		return string(e.Code) + ": " + e.Message + ": " + e.Err.Error()
	}
	return string(e.Code) + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

func newError(code Code, msg string) *Error { return &Error{Code: code, Message: msg} }

// Issue is one field-addressed problem. Path is dotted with [i] indexes, e.g.
// "dependencies.providers.@acme/gmail" or "input.schema.properties.file.type" or "keywords[2]"; it is "" for
// a problem with the whole document or archive.
type Issue struct {
	Path    string `json:"path"`
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

// String is upstream's detail format: "<path>: <message>".
func (i Issue) String() string {
	if i.Path == "" {
		return i.Message
	}
	return i.Path + ": " + i.Message
}

// ValidationError carries every problem found, manifest issues first. Its Code is the first issue's code, which
// is upstream's single error code for the same input.
type ValidationError struct {
	Issues []Issue
}

func (e *ValidationError) Error() string {
	if len(e.Issues) == 0 {
		return "invalid package"
	}
	parts := make([]string, len(e.Issues))
	for i, is := range e.Issues {
		parts[i] = is.String()
	}
	return string(e.Code()) + ": " + strings.Join(parts, "; ")
}

// Code returns the code of the first issue (INVALID_MANIFEST when there is none).
func (e *ValidationError) Code() Code {
	if len(e.Issues) == 0 {
		return CodeInvalidManifest
	}
	return e.Issues[0].Code
}

// Details returns the issues as upstream's "<path>: <message>" strings.
func (e *ValidationError) Details() []string {
	out := make([]string, len(e.Issues))
	for i, is := range e.Issues {
		out[i] = is.String()
	}
	return out
}

// CodeOf returns the code of an *Error or *ValidationError in err's chain, or "".
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	var ve *ValidationError
	if errors.As(err, &ve) {
		return ve.Code()
	}
	return ""
}

// issues accumulates field-addressed problems.
type issues []Issue

func (is *issues) add(path string, code Code, msg string) {
	*is = append(*is, Issue{Path: path, Code: code, Message: msg})
}

func (is issues) err() error {
	if len(is) == 0 {
		return nil
	}
	return &ValidationError{Issues: is}
}
