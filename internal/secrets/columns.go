package secrets

// Column names one database column holding envelopes, with the columns that identify a row.
type Column struct {
	Table  string   // table name
	Key    []string // primary-key (or unique) columns identifying one row
	Column string   // the column holding v1 envelopes (NULL allowed)
}

// Name is "table.column".
func (c Column) Name() string { return c.Table + "." + c.Column }

// Columns lists every column that stores envelopes (API.md §7, plus webhook secrets, which we encrypt too).
// Tables or columns not yet created by a migration are skipped by Rotate, so an entry can be listed before
// the feature that writes it lands. A package adding an encrypted column adds it here.
var Columns = []Column{
	{Table: "user_provider_connections", Key: []string{"id"}, Column: "credentials_encrypted"},
	{Table: "application_provider_credentials", Key: []string{"id"}, Column: "credentials_encrypted"},
	{Table: "oauth_states", Key: []string{"lookup_key"}, Column: "payload_encrypted"},
	{Table: "model_provider_credentials", Key: []string{"id"}, Column: "credentials_encrypted"},
	{Table: "org_proxies", Key: []string{"id"}, Column: "url_encrypted"},
	{Table: "runs", Key: []string{"id"}, Column: "sink_secret_encrypted"},
	{Table: "application_smtp_configs", Key: []string{"application_id"}, Column: "pass_encrypted"},
	{Table: "application_social_providers", Key: []string{"application_id", "provider"}, Column: "client_secret_encrypted"},
	{Table: "webhooks", Key: []string{"id"}, Column: "secret_encrypted"},
	{Table: "webhooks", Key: []string{"id"}, Column: "secret_next_encrypted"},
	{Table: "jwks", Key: []string{"id"}, Column: "private_key"}, // PKCS #8 DER of the ES256 signing keys (oidc)
}
