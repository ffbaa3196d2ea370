// Package jsonschema validates JSON values against user-supplied JSON Schemas the way the upstream platform's
// AJV setup does: draft-07 and 2020-12 (2020-12 when `$schema` is absent), formats asserted, unknown keywords
// ignored, no remote or file references. Errors come back as flat field errors with dotted/indexed paths
// (`a.b[0].c`), and ApplyDefaults fills `default` values into missing object properties (AJV `useDefaults`).
//
// It wraps github.com/santhosh-tekuri/jsonschema/v6; agent config (per-application settings) and run input
// validation both go through it.
package jsonschema
