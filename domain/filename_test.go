package domain

import "testing"

func TestBaseFileName(t *testing.T) {
	for in, want := range map[string]string{
		`..\..\..\windows\evil.pdf`: "evil.pdf",
		"../../etc/passwd":          "passwd",
		`C:\Users\me\proof.png`:     "proof.png",
		"report.pdf":                "report.pdf",
		"dir/":                      "file",
		"..":                        "file",
		"a\r\nb.txt":                "a__b.txt",
		"Rechnung März.pdf":         "Rechnung März.pdf",
	} {
		if got := BaseFileName(in); got != want {
			t.Errorf("BaseFileName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestContentDisposition(t *testing.T) {
	for in, want := range map[string]string{
		"proof.pdf":                 `attachment; filename="proof.pdf"; filename*=UTF-8''proof.pdf`,
		`..\..\..\windows\evil.pdf`: `attachment; filename="evil.pdf"; filename*=UTF-8''evil.pdf`,
		"Rechnung März.pdf":         `attachment; filename="Rechnung M_rz.pdf"; filename*=UTF-8''Rechnung%20M%C3%A4rz.pdf`,
		`say "hi" 100%.txt`:         `attachment; filename="say _hi_ 100_.txt"; filename*=UTF-8''say%20%22hi%22%20100%25.txt`,
		"it's.txt":                  `attachment; filename="it's.txt"; filename*=UTF-8''it%27s.txt`,
		"a;b,c.txt":                 `attachment; filename="a;b,c.txt"; filename*=UTF-8''a%3Bb%2Cc.txt`,
	} {
		if got := ContentDisposition(in); got != want {
			t.Errorf("ContentDisposition(%q) =\n %s\nwant %s", in, got, want)
		}
	}
}
