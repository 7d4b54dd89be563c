package gateway

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Role is what a person may do through the API.
type Role string

// The roles. Operators handle alarms; installers provision devices; admins do both and manage users.
const (
	RoleAdmin     Role = "admin"
	RoleOperator  Role = "operator"
	RoleInstaller Role = "installer"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleAdmin || r == RoleOperator || r == RoleInstaller }

// User is a person who logs in.
type User struct {
	Name    string    `json:"name"`
	Role    Role      `json:"role"`
	Hash    string    `json:"password_hash"`
	Created time.Time `json:"created"`
}

// Session is what a bearer token stands for.
type Session struct {
	User    string    `json:"user"`
	Role    Role      `json:"role"`
	Expires time.Time `json:"expires"`
}

// DefaultSessionTTL is how long a login lasts: a long duty shift.
const DefaultSessionTTL = 14 * time.Hour

// MinPasswordLen is the shortest password a person may choose.
const MinPasswordLen = 10

// User errors.
var (
	ErrBadLogin   = errors.New("wrong user name or password")
	ErrUserExists = errors.New("user already exists")
	ErrBadToken   = errors.New("missing, unknown or expired token")
)

// AddUser creates a person. It is how the first admin is made, from the
// `anxin user add` command, before the gateway has any user at all.
func (db *DB) AddUser(name string, role Role, password string, now time.Time) error {
	if name == "" || utf8.RuneCountInString(name) > 64 {
		return fmt.Errorf("user name must be 1-64 characters")
	}
	if !role.Valid() {
		return fmt.Errorf("role %q: want admin, operator or installer", role)
	}
	if utf8.RuneCountInString(password) < MinPasswordLen {
		return fmt.Errorf("password must be at least %d characters", MinPasswordLen)
	}
	var existing User
	if found, err := db.getJSON(bucketUsers, name, &existing); err != nil {
		return err
	} else if found {
		return fmt.Errorf("%w: %s", ErrUserExists, name)
	}
	hash, err := hashPassword(password)
	if err != nil {
		return err
	}
	return db.putJSON(bucketUsers, name, &User{Name: name, Role: role, Hash: hash, Created: now.UTC()})
}

// Users lists the people, without their hashes.
func (db *DB) Users() ([]User, error) {
	var out []User
	err := forEachJSON(db, bucketUsers, func(_ string, u *User) error {
		u.Hash = ""
		out = append(out, *u)
		return nil
	})
	slices.SortFunc(out, func(a, b User) int { return strings.Compare(a.Name, b.Name) })
	return out, err
}

// Login checks a password and returns a new bearer token.
func (db *DB) Login(name, password string, now time.Time, ttl time.Duration) (string, Session, error) {
	var u User
	found, err := db.getJSON(bucketUsers, name, &u)
	if err != nil {
		return "", Session{}, err
	}
	if !found || !checkHash(u.Hash, password) {
		return "", Session{}, ErrBadLogin
	}
	token := newSecret(20)
	s := Session{User: u.Name, Role: u.Role, Expires: now.Add(ttl).UTC()}
	if err := db.putJSON(bucketTokens, tokenKey(token), &s); err != nil {
		return "", Session{}, err
	}
	return token, s, nil
}

// Session returns the live session of a token.
func (db *DB) Session(token string, now time.Time) (Session, error) {
	if token == "" {
		return Session{}, ErrBadToken
	}
	var s Session
	found, err := db.getJSON(bucketTokens, tokenKey(token), &s)
	if err != nil {
		return Session{}, err
	}
	if !found || now.After(s.Expires) {
		return Session{}, ErrBadToken
	}
	return s, nil
}

// Logout ends a token's session.
func (db *DB) Logout(token string) error { return db.deleteKey(bucketTokens, tokenKey(token)) }
