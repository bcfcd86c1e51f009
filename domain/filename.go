package domain

import (
	"strings"
	"unicode"
)

// BaseFileName keeps only the last element of an uploaded file's name, whatever
// the client's separator ("..\..\windows\evil.pdf" is "evil.pdf"), with control
// characters replaced; a name with nothing left is "file".
func BaseFileName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '_'
		}
		return r
	}, strings.TrimSpace(name))
	if name == "" || name == "." || name == ".." {
		return "file"
	}
	return name
}

// ContentDisposition is an attachment header for a file name (RFC 6266): an
// ASCII fallback in filename and the exact name, percent-encoded UTF-8, in
// filename*.
func ContentDisposition(name string) string {
	name = BaseFileName(name)
	fallback := strings.Map(func(r rune) rune {
		if r > 0x7e || r < 0x20 || r == '"' || r == '\\' || r == '%' {
			return '_'
		}
		return r
	}, name)
	return `attachment; filename="` + fallback + `"; filename*=UTF-8''` + attrValue(name)
}

// attrValue percent-encodes every byte that is not an attr-char (RFC 8187).
func attrValue(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
