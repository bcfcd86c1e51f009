package domain

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"slices"
	"strings"
)

// Roles an API key can carry.
const (
	RoleAdmin       = "admin"
	RoleManager     = "manager"
	RoleFinance     = "finance"
	RolePartner     = "partner"
	RoleIntegration = "integration"
)

var Roles = []string{RoleAdmin, RoleManager, RoleFinance, RolePartner, RoleIntegration}

func ValidRole(r string) bool { return slices.Contains(Roles, r) }

// An API key reads "po_<role>_<id>_<secret>": the prefix "po_<role>_<id>" is not
// secret (it is shown in lists and logs and finds the key); the whole key is
// stored only as its SHA-256. Keys carry 160 random bits, so a fast hash is enough.
// NewAPIKey returns a fresh key, its readable prefix and the hash to store.
func NewAPIKey(role string) (key, prefix string, hash []byte) {
	prefix = "po_" + role + "_" + strings.ToLower(rand.Text()[:8])
	key = prefix + "_" + strings.ToLower(rand.Text())
	sum := sha256.Sum256([]byte(key))
	return key, prefix, sum[:]
}

// ParseAPIKey splits a presented key into the prefix to look up and its hash.
func ParseAPIKey(key string) (prefix string, hash []byte, ok bool) {
	parts := strings.Split(key, "_")
	if len(parts) != 4 || parts[0] != "po" || !ValidRole(parts[1]) || len(parts[2]) != 8 || len(parts[3]) < 20 || len(key) > 128 {
		return "", nil, false
	}
	sum := sha256.Sum256([]byte(key))
	return strings.Join(parts[:3], "_"), sum[:], true
}

// HashesEqual compares key hashes in constant time.
func HashesEqual(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }
