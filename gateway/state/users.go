package state

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
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
	Name string `json:"name"`
	Role Role   `json:"role"`
	Profile
	Hash    string    `json:"password_hash"`
	Created time.Time `json:"created"`
	// Disabled users cannot log in; disabling one ends their sessions.
	Disabled bool `json:"disabled,omitempty"`
}

// Profile is what duty and escalation know of a person (the gateway's
// duty roster): how to
// reach them and where they work. Operators, and admins who are given
// sites, are on the duty roster under their user name.
type Profile struct {
	// DisplayName is how messages name them, e.g. 张伟; the user name when empty.
	DisplayName string `json:"display_name,omitempty"`
	// Phone is @-mentioned in WeCom and DingTalk group robot messages.
	Phone string `json:"phone,omitempty"`
	// Supervisor marks whom escalation's "supervisor" target means.
	Supervisor bool `json:"supervisor,omitempty"`
	// Sites are where they may go on duty: a village station, a township
	// or county centre, an institution's duty room. The first is their home site.
	Sites []string `json:"sites,omitempty"`
}

// MaxUserSites bounds the sites one person belongs to.
const MaxUserSites = 20

// check validates a profile for a person of role, naming the bad field.
func (p *Profile) check(role Role) error {
	p.DisplayName, p.Phone = strings.TrimSpace(p.DisplayName), strings.TrimSpace(p.Phone)
	if err := ValidText(p.DisplayName, 64); err != nil {
		return &FieldError{"display_name", err}
	}
	if p.Phone != "" {
		if err := ValidPhone(p.Phone); err != nil {
			return &FieldError{"phone", err}
		}
	}
	if role == RoleInstaller && (p.Supervisor || len(p.Sites) > 0) {
		return FieldErrorf("sites", "installers are not on duty: only operators and admins have sites or supervise")
	}
	if len(p.Sites) > MaxUserSites {
		return FieldErrorf("sites", "at most %d, got %d", MaxUserSites, len(p.Sites))
	}
	for i, s := range p.Sites {
		if err := ValidSlug(s); err != nil {
			return &FieldError{fmt.Sprintf("sites[%d]", i), err}
		}
		if slices.Index(p.Sites, s) < i {
			return FieldErrorf(fmt.Sprintf("sites[%d]", i), "%s appears twice", s)
		}
	}
	return nil
}

// Session is what a bearer token stands for.
type Session struct {
	User    string    `json:"user"`
	Role    Role      `json:"role"`
	Expires time.Time `json:"expires"`
	// Wall is the wall token's id when this is a wall screen's session.
	Wall string `json:"wall,omitempty"`
	// CSRF is set for a browser's cookie session (NewCookieSession): the
	// token every state-changing request authenticated by the cookie must
	// carry. It is stored with the session, so it survives a restart; the
	// state file keeps only the session token's hash, never the token.
	CSRF string `json:"csrf,omitempty"`
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

// MaxUserNameLen bounds a user name.
const MaxUserNameLen = 64

// validUserName checks a new user name against the safe set: 1–64 ASCII
// letters, digits, '.', '-' and '_', starting with a letter or digit. No
// look-alike letters, spaces, control characters or path separators, so a
// name reads the same in a log, a roster and a URL. Names stored before
// this rule keep working; only new ones are checked.
func validUserName(name string) error {
	if name == "" || len(name) > MaxUserNameLen {
		return fmt.Errorf("must be 1-%d characters", MaxUserNameLen)
	}
	for i, c := range []byte(name) {
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if i == 0 && !alnum {
			return fmt.Errorf("%q: must start with an ASCII letter or digit", name)
		}
		if !alnum && c != '.' && c != '-' && c != '_' {
			return fmt.Errorf("%q: only ASCII letters, digits, '.', '-' and '_' are allowed", name)
		}
	}
	return nil
}

// AddUser creates a person. It is how the first admin is made, from the
// `anxin user add` command, before the gateway has any user at all.
func (db *DB) AddUser(name string, role Role, password string, now time.Time) error {
	return db.AddUserProfile(name, role, password, Profile{}, now)
}

// AddUserProfile creates a person with a profile. The name must be safe
// (validUserName) and differ from every other user's in more than case.
// The profile's sites are not checked against the site tree here: the API
// does that.
func (db *DB) AddUserProfile(name string, role Role, password string, p Profile, now time.Time) error {
	if err := validUserName(name); err != nil {
		return &FieldError{"name", err}
	}
	if !role.Valid() {
		return fmt.Errorf("role %q: want admin, operator or installer", role)
	}
	if utf8.RuneCountInString(password) < MinPasswordLen {
		return fmt.Errorf("password must be at least %d characters", MinPasswordLen)
	}
	if err := p.check(role); err != nil {
		return err
	}
	users, err := db.Users()
	if err != nil {
		return err
	}
	for _, u := range users {
		if strings.EqualFold(u.Name, name) {
			return fmt.Errorf("%w: %s", ErrUserExists, u.Name)
		}
	}
	hash, err := hashPassword(password)
	if err != nil {
		return err
	}
	return db.putJSON(bucketUsers, name, &User{Name: name, Role: role, Profile: p, Hash: hash, Created: now.UTC()})
}

// ErrUserUnknown is returned for a user name nobody has.
var ErrUserUnknown = errors.New("user not found")

// SetProfile replaces a person's profile and returns them before and after
// (without hashes), writing an audit entry by who in the same transaction.
func (db *DB) SetProfile(name string, p Profile, by string, now time.Time) (before, after User, err error) {
	err = db.Update(func(tx *Tx) error {
		var u User
		found, err := tx.GetJSON(bucketUsers, name, &u)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("%w: %s", ErrUserUnknown, name)
		}
		if err := p.check(u.Role); err != nil {
			return err
		}
		before = u
		u.Profile = p
		after = u
		if err := tx.PutJSON(bucketUsers, name, &u); err != nil {
			return err
		}
		before.Hash, after.Hash = "", ""
		return tx.Audit(NewAuditEntry(now, by, ActionPatch, "user:"+name, before, after))
	})
	return before, after, err
}

// Users lists the people, without their hashes.
func (db *DB) Users() ([]User, error) {
	var out []User
	err := ForEach(db, bucketUsers, func(_ string, u *User) error {
		u.Hash = ""
		out = append(out, *u)
		return nil
	})
	slices.SortFunc(out, func(a, b User) int { return strings.Compare(a.Name, b.Name) })
	return out, err
}

// Login checks a password and returns a new bearer token.
func (db *DB) Login(name, password string, now time.Time, ttl time.Duration) (string, Session, error) {
	u, err := db.CheckPassword(name, password)
	if err != nil {
		return "", Session{}, err
	}
	return db.NewSession(u, now, ttl)
}

// dummyHash is what an unknown user's password is checked against, so that
// the check costs what a known user's does.
var dummyHash = sync.OnceValue(func() string {
	h, _ := hashPassword(NewSecret(20))
	return h
})

// CheckPassword returns the user whose password this is, or ErrBadLogin.
// It costs one password hash whether or not the user exists.
func (db *DB) CheckPassword(name, password string) (User, error) {
	var u User
	found, err := db.getJSON(bucketUsers, name, &u)
	if err != nil {
		return User{}, err
	}
	hash := u.Hash
	if !found {
		hash = dummyHash()
	}
	if !CheckHash(hash, password) || !found {
		return User{}, ErrBadLogin
	}
	if u.Disabled {
		return User{}, ErrUserDisabled
	}
	return u, nil
}

// NewSession starts a session of u and returns its bearer token.
func (db *DB) NewSession(u User, now time.Time, ttl time.Duration) (string, Session, error) {
	return db.newSession(Session{User: u.Name, Role: u.Role, Expires: now.Add(ttl).UTC()})
}

// NewCookieSession starts a browser's session of u: a bearer token to be
// kept in an HttpOnly cookie, and a CSRF token (Session.CSRF) for the page.
func (db *DB) NewCookieSession(u User, now time.Time, ttl time.Duration) (string, Session, error) {
	return db.newSession(Session{User: u.Name, Role: u.Role, Expires: now.Add(ttl).UTC(), CSRF: NewSecret(20)})
}

func (db *DB) newSession(s Session) (string, Session, error) {
	token := NewSecret(20)
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

// User returns one user, without the password hash; it reports whether
// there is one of that name.
func (db *DB) User(name string) (User, bool, error) {
	var u User
	found, err := db.getJSON(bucketUsers, name, &u)
	u.Hash = ""
	return u, found, err
}
