package domain

import "strings"

// CSVText makes a text cell safe to open in a spreadsheet (OWASP, "CSV
// injection"): a cell a spreadsheet would read as a formula — starting with =, +,
// -, @, a tab or a carriage return — is prefixed with a single quote. Only text
// that people typed goes through it; amounts the system formats (which may be
// negative) are written as they are.
func CSVText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
