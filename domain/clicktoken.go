package domain

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// ClickToken is what the attribution cookie carries: enough to attribute a
// conversion even if the click row was never stored.
type ClickToken struct {
	ClickID   uuid.UUID
	LinkID    uuid.UUID
	PartnerID uuid.UUID
	ProgramID uuid.UUID
	ClickedAt time.Time
}

// The token is base64url(payload || HMAC-SHA256(key, payload)[:16]); the payload is
// a version byte, four UUIDs and the click time in Unix seconds: 74 bytes in all,
// 99 characters in the cookie.
const (
	tokenVersion = 1
	payloadLen   = 1 + 4*16 + 8
	macLen       = 16
)

var ErrBadToken = errors.New("click token is malformed or its signature does not match")

func (t ClickToken) Sign(key []byte) string { return t.SignWith(hmac.New(sha256.New, key)) }

// SignWith signs with a keyed HMAC-SHA256 that the caller may reuse (the click
// handler pools them); it is reset first.
func (t ClickToken) SignWith(mac hash.Hash) string { return string(t.AppendSigned(nil, mac)) }

// AppendSigned appends the signed token to dst (the click handler builds its
// cookie in one buffer).
func (t ClickToken) AppendSigned(dst []byte, mac hash.Hash) []byte {
	var raw [payloadLen + sha256.Size]byte
	buf := raw[:payloadLen]
	buf[0] = tokenVersion
	copy(buf[1:], t.ClickID[:])
	copy(buf[17:], t.LinkID[:])
	copy(buf[33:], t.PartnerID[:])
	copy(buf[49:], t.ProgramID[:])
	binary.BigEndian.PutUint64(buf[65:], uint64(t.ClickedAt.Unix()))
	mac.Reset()
	mac.Write(buf)
	return base64.RawURLEncoding.AppendEncode(dst, mac.Sum(buf)[:payloadLen+macLen])
}

// ParseClickToken verifies and decodes a token; tampering is detected in
// constant time.
func ParseClickToken(s string, key []byte) (ClickToken, error) {
	if len(s) != base64.RawURLEncoding.EncodedLen(payloadLen+macLen) {
		return ClickToken{}, ErrBadToken
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(s) // Strict: one spelling per token
	if err != nil || len(raw) != payloadLen+macLen || raw[0] != tokenVersion {
		return ClickToken{}, ErrBadToken
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(raw[:payloadLen])
	if !hmac.Equal(mac.Sum(nil)[:macLen], raw[payloadLen:]) {
		return ClickToken{}, ErrBadToken
	}
	var t ClickToken
	copy(t.ClickID[:], raw[1:17])
	copy(t.LinkID[:], raw[17:33])
	copy(t.PartnerID[:], raw[33:49])
	copy(t.ProgramID[:], raw[49:65])
	t.ClickedAt = time.Unix(int64(binary.BigEndian.Uint64(raw[65:73])), 0).UTC()
	return t, nil
}

// VerifySignature checks an inbound webhook or postback signed as
// "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>", within the
// tolerance of now, against any of the secrets (several allow rotation).
func VerifySignature(header string, body []byte, secrets [][]byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs [][]byte
	for len(header) > 0 {
		var part string
		part, header, _ = strings.Cut(header, ",")
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return errors.New("signature header reads t=<unix>,v1=<hex>")
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			sig, err := hex.DecodeString(v)
			if err != nil {
				return errors.New("signature is not hex")
			}
			sigs = append(sigs, sig)
		}
	}
	if ts == "" || len(sigs) == 0 {
		return errors.New("signature header needs t and v1")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(ts) > 12 {
		return errors.New("signature timestamp is not a Unix time")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return errors.New("signature timestamp is outside the tolerance")
	}
	for _, secret := range secrets {
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(ts))
		mac.Write([]byte("."))
		mac.Write(body)
		want := mac.Sum(nil)
		for _, sig := range sigs {
			if hmac.Equal(want, sig) {
				return nil
			}
		}
	}
	return errors.New("signature does not match")
}

// Sign makes the header VerifySignature accepts (for tests, SDKs and docs).
func SignPayload(secret, body []byte, at time.Time) string {
	ts := strconv.FormatInt(at.Unix(), 10)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}
