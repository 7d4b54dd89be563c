package gateway_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/gatewaytest"
	"github.com/anxin-care/anxin/gateway/httpapi"
	"github.com/anxin-care/anxin/gateway/state"
)

// badUserNames are names a person may not be given: each could be
// mistaken for another, hide in a log, or walk out of a path.
var badUserNames = map[string]string{
	"empty":               "",
	"too long":            strings.Repeat("a", 65),
	"NUL":                 "li\x00ming",
	"path":                "../etc",
	"trailing space":      "li ",
	"inner space":         "li ming",
	"cyrillic look-alike": "аdmin", // the first letter is U+0430
	"fullwidth":           "ｌｉ",
	"Chinese":             "张伟",
	"leading dot":         ".li",
	"leading dash":        "-li",
	"slash":               "li/ming",
	"newline":             "li\nlevel=ERROR",
}

// TestUserNamesAreSafe: POST /api/v1/users refuses every bad name with 400
// naming the field; a name differing from an existing one only in case
// is a conflict; the safe set (ASCII letters, digits, '.', '-', '_', 1–64,
// starting with a letter or digit) is accepted.
func TestUserNamesAreSafe(t *testing.T) {
	g := gatewaytest.Start(t, gateway.Config{})
	for what, name := range badUserNames {
		t.Run(what, func(t *testing.T) {
			var e httpapi.FieldErrorBody
			code := g.Admin.Do("POST", "/api/v1/users", map[string]any{"name": name, "role": "operator", "password": "long-enough-password"}, &e)
			if code != 400 || e.Field != "name" {
				t.Fatalf("name %q: HTTP %d %+v, want 400 on field name", name, code, e)
			}
		})
	}
	for _, name := range []string{"li.ming_2-a", "Z", "7", strings.Repeat("a", 64)} {
		if code := g.Admin.Do("POST", "/api/v1/users", map[string]any{"name": name, "role": "operator", "password": "long-enough-password"}, nil); code != 201 {
			t.Fatalf("name %q: HTTP %d, want 201", name, code)
		}
	}
	var e httpapi.APIError
	if code := g.Admin.Do("POST", "/api/v1/users", map[string]any{"name": "Li.Ming_2-A", "role": "operator", "password": "long-enough-password"}, &e); code != 409 {
		t.Fatalf("a name differing only in case: HTTP %d %q, want 409", code, e.Error)
	}
}

// TestAddUserRefusesUnsafeNames is `anxin user add`'s path: DB.AddUser.
func TestAddUserRefusesUnsafeNames(t *testing.T) {
	db, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for what, name := range badUserNames {
		var fe *state.FieldError
		if err := db.AddUser(name, state.RoleAdmin, "long-enough-password", time.Now()); !errors.As(err, &fe) || fe.Field != "name" {
			t.Errorf("%s %q: %v, want a field error on name", what, name, err)
		}
	}
}
