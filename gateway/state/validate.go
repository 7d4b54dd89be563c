package state

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Checks of the fields people type, shared by every record of the state
// file that holds them (users here; sites, residents and devices in the
// registry), so that a name or phone number is held to one rule.

// FieldError says which field of a request or a record was wrong, and why.
// The registry, the users and the API all answer with it.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// FieldErrorf is a *FieldError of field with a formatted reason.
func FieldErrorf(field, format string, args ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// ValidText accepts free text of at most n characters without control characters.
func ValidText(s string, n int) error {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > n {
		return fmt.Errorf("want at most %d characters of UTF-8 text", n)
	}
	if strings.ContainsFunc(s, func(c rune) bool { return c < ' ' || c == 0x7f }) {
		return fmt.Errorf("%q has a control character", s)
	}
	return nil
}

// ValidPhone accepts what people write for a phone number: digits with
// spaces, dashes or brackets, an optional leading +, 5 to 15 digits (E.164
// allows 15; 5 covers short numbers of a village clinic).
func ValidPhone(p string) error {
	digits := 0
	for i, c := range p {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '+' && i == 0, c == ' ', c == '-', c == '(', c == ')':
		default:
			return fmt.Errorf("%q: a phone number has digits, spaces, '-', brackets and a leading '+' only", p)
		}
	}
	if digits < 5 || digits > 15 {
		return fmt.Errorf("%q: want 5 to 15 digits, got %d", p, digits)
	}
	return nil
}

// ValidSlug accepts the ids of sites and residents: short, lower case,
// readable in a URL and a shell, e.g. qs-village, r-0001.
func ValidSlug(id string) error {
	if id == "" || len(id) > 64 {
		return fmt.Errorf("%q: want 1-64 characters", id)
	}
	for i, c := range id {
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i > 0 && (c == '-' || c == '_')
		if !ok {
			return fmt.Errorf("%q: use lower-case letters, digits, '-' and '_', starting with a letter or digit", id)
		}
	}
	return nil
}
