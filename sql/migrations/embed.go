// Package migrations embeds the versioned schema migrations (goose format), so the
// binary can apply them with `partnerops migrate` and at `partnerops dev` start.
package migrations

import "embed"

//go:embed *.sql
var FS embed.FS
