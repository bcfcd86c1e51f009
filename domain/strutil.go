package domain

import (
	"encoding/hex"
	"strconv"
	"strings"
)

func cut(s string, sep byte) (string, string, bool) { return strings.Cut(s, string(sep)) }
func hexDecode(s string) ([]byte, error)            { return hex.DecodeString(s) }
func hexEncode(b []byte) string                     { return hex.EncodeToString(b) }
func itoa(n int64) string                           { return strconv.FormatInt(n, 10) }

func parseUnix(s string) (int64, error) {
	if len(s) > 12 {
		return 0, strconv.ErrRange
	}
	return strconv.ParseInt(s, 10, 64)
}
