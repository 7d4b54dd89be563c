package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Audit actions on users besides add and patch.
const (
	ActionDisable  = "disable"  // the user may no longer log in; their sessions ended
	ActionEnable   = "enable"   // the user may log in again
	ActionPassword = "password" // the password was set (never recorded itself)
)

// User administration errors.
var (
	ErrUserDisabled = errors.New("this account is disabled: ask an admin to enable it")
	ErrLastAdmin    = errors.New("the last enabled admin cannot be disabled or removed")
	ErrSelf         = errors.New("you cannot disable or remove yourself")
)

// checkPasswordLen is the rule every new password follows.
func checkPasswordLen(password string) error {
	if utf8.RuneCountInString(password) < MinPasswordLen {
		return fmt.Errorf("password must be at least %d characters", MinPasswordLen)
	}
	return nil
}

// SetDisabled disables or enables a user, by who, with an audit entry; a
// disabled user's sessions end in the same transaction, so that their next
// request is refused. It returns the user after the change (without hash).
func (db *DB) SetDisabled(name string, disabled bool, by string, now time.Time) (User, error) {
	var after User
	err := db.Update(func(tx *Tx) error {
		u, err := userTx(tx, name)
		if err != nil {
			return err
		}
		if disabled && strings.EqualFold(name, by) {
			return ErrSelf
		}
		if disabled && u.Role == RoleAdmin && !u.Disabled {
			if err := otherAdmin(tx, name); err != nil {
				return err
			}
		}
		before := u
		u.Disabled = disabled
		if err := tx.PutJSON(bucketUsers, name, &u); err != nil {
			return err
		}
		if disabled {
			if err := endSessions(tx, name, ""); err != nil {
				return err
			}
		}
		action := ActionEnable
		if disabled {
			action = ActionDisable
		}
		before.Hash, u.Hash, after = "", "", u
		return tx.Audit(NewAuditEntry(now, by, action, "user:"+name, before, u))
	})
	return after, err
}

// RemoveUser removes a user and ends their sessions, with an audit entry by who.
func (db *DB) RemoveUser(name, by string, now time.Time) error {
	return db.Update(func(tx *Tx) error {
		u, err := userTx(tx, name)
		if err != nil {
			return err
		}
		if strings.EqualFold(name, by) {
			return ErrSelf
		}
		if u.Role == RoleAdmin && !u.Disabled {
			if err := otherAdmin(tx, name); err != nil {
				return err
			}
		}
		if err := tx.Delete(bucketUsers, name); err != nil {
			return err
		}
		if err := endSessions(tx, name, ""); err != nil {
			return err
		}
		u.Hash = ""
		return tx.Audit(NewAuditEntry(now, by, ActionRemove, "user:"+name, u, nil))
	})
}

// SetPassword sets a user's password, by who (an admin, or the user), with
// an audit entry that records neither password nor hash. Every session of
// the user ends except keepToken's (the one a user changing their own
// password is using; "" ends them all).
func (db *DB) SetPassword(name, password, by, keepToken string, now time.Time) error {
	if err := checkPasswordLen(password); err != nil {
		return &FieldError{"password", err}
	}
	hash, err := hashPassword(password)
	if err != nil {
		return err
	}
	return db.Update(func(tx *Tx) error {
		u, err := userTx(tx, name)
		if err != nil {
			return err
		}
		u.Hash = hash
		if err := tx.PutJSON(bucketUsers, name, &u); err != nil {
			return err
		}
		keep := ""
		if keepToken != "" {
			keep = tokenKey(keepToken)
		}
		if err := endSessions(tx, name, keep); err != nil {
			return err
		}
		return tx.Audit(NewAuditEntry(now, by, ActionPassword, "user:"+name, nil, map[string]any{"name": name, "note": "password set"}))
	})
}

func userTx(tx *Tx, name string) (User, error) {
	var u User
	found, err := tx.GetJSON(bucketUsers, name, &u)
	if err != nil {
		return User{}, err
	}
	if !found {
		return User{}, fmt.Errorf("%w: %s", ErrUserUnknown, name)
	}
	return u, nil
}

// otherAdmin fails unless an enabled admin other than name remains.
func otherAdmin(tx *Tx, name string) error {
	found := false
	err := forEachKV(tx.w, bucketUsers, func(k, raw []byte) error {
		var u User
		if err := json.Unmarshal(raw, &u); err != nil {
			return err
		}
		if string(k) != name && u.Role == RoleAdmin && !u.Disabled {
			found = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !found {
		return ErrLastAdmin
	}
	return nil
}

// endSessions deletes every session of user but the one under keepKey.
func endSessions(tx *Tx, user, keepKey string) error {
	var dead [][]byte
	err := forEachKV(tx.w, bucketTokens, func(k, raw []byte) error {
		var s Session
		if err := json.Unmarshal(raw, &s); err != nil {
			return err
		}
		if s.User == user && string(k) != keepKey {
			dead = append(dead, append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range dead {
		if err := tx.w.delete(bucketTokens, k); err != nil {
			return err
		}
	}
	return nil
}
