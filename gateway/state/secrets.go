package state

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"strings"
)

// Secrets. Two kinds, hashed differently on purpose:
//
//   - Device passwords and API tokens are generated here with 120 or more
//     random bits. Guessing is hopeless, so a salted SHA-256 is enough, and
//     it keeps a reconnect storm of thousands of devices cheap.
//   - Operator passwords are chosen by people, so they are stretched with
//     PBKDF2-SHA256 (standard library) to make an offline guess expensive.
const (
	pbkdf2Iterations = 210_000
	saltBytes        = 16
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewSecret returns a random secret of n bytes, readable and easy to type.
func NewSecret(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return strings.ToLower(b32.EncodeToString(b))
}

// HashSecret hashes a generated secret: "sha256$salt$hash".
func HashSecret(secret string) string {
	salt := make([]byte, saltBytes)
	rand.Read(salt)
	return "sha256$" + hex.EncodeToString(salt) + "$" + hex.EncodeToString(sha256Salted(salt, secret))
}

func sha256Salted(salt []byte, secret string) []byte {
	h := sha256.New()
	h.Write(salt)
	h.Write([]byte(secret))
	return h.Sum(nil)
}

// hashPassword hashes a person's password: "pbkdf2-sha256$iter$salt$hash".
func hashPassword(password string) (string, error) {
	salt := make([]byte, saltBytes)
	rand.Read(salt)
	key, err := pbkdf2.Key(sha256.New, password, salt, pbkdf2Iterations, 32)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("pbkdf2-sha256$%d$%s$%s", pbkdf2Iterations, hex.EncodeToString(salt), hex.EncodeToString(key)), nil
}

// CheckHash reports whether secret matches a hash made by HashSecret or
// hashPassword, in constant time.
func CheckHash(hash, secret string) bool {
	parts := strings.Split(hash, "$")
	switch {
	case len(parts) == 3 && parts[0] == "sha256":
		salt, err1 := hex.DecodeString(parts[1])
		want, err2 := hex.DecodeString(parts[2])
		return err1 == nil && err2 == nil && hmac.Equal(sha256Salted(salt, secret), want)
	case len(parts) == 4 && parts[0] == "pbkdf2-sha256":
		var iter int
		if _, err := fmt.Sscanf(parts[1], "%d", &iter); err != nil || iter < 1 {
			return false
		}
		salt, err1 := hex.DecodeString(parts[2])
		want, err2 := hex.DecodeString(parts[3])
		if err1 != nil || err2 != nil {
			return false
		}
		got, err := pbkdf2.Key(sha256.New, secret, salt, iter, len(want))
		return err == nil && hmac.Equal(got, want)
	}
	return false
}

// tokenKey is how a bearer token is found in the store: its SHA-256, so
// that the state file never holds a usable token.
func tokenKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
