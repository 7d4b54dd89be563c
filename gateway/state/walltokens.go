package state

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Wall tokens are how a wall screen (the 24-hour dashboard in a duty room,
// a kiosk nobody logs into) reads the gateway: an admin makes one, the
// screen keeps it, and it lasts until revoked. A wall token is a session
// of role RoleWall in the tokens bucket like any login's, so the API
// checks it the same way; the wall_tokens bucket remembers which sessions
// are walls, so that an admin can list and revoke them. Revoking deletes
// both records in one transaction: the wall's next request finds no
// session. Like every token, only its SHA-256 is stored.

// RoleWall is a wall screen's role: read-only, and only what the wall
// shows. It is never a user's role (Role.Valid refuses it).
const RoleWall Role = "wall"

// WallTokenTTL is how long a wall token lasts unless revoked: long enough
// that a wall never needs a person to log it in again.
const WallTokenTTL = 10 * 365 * 24 * time.Hour

// ErrWallTokenUnknown is returned for a wall token id nobody has.
var ErrWallTokenUnknown = errors.New("wall token not found")

// WallToken is a wall screen's token as the admin sees it: never the token itself.
type WallToken struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	By      string    `json:"created_by"`
	Created time.Time `json:"created"`
	// key is where its session is in the tokens bucket.
	Key string `json:"key,omitempty"`
}

// wallTokenPrefix starts every wall token's id: a reader of the audit
// trail or a log tells a wall from a person.
const wallTokenPrefix = "wall-"

// NewWallToken makes a wall token named name (e.g. "county duty room")
// by who, and returns it with the token, which is shown only now.
func (db *DB) NewWallToken(name, by string, now time.Time) (WallToken, string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return WallToken{}, "", FieldErrorf("name", "is required, e.g. the room the screen hangs in")
	}
	if err := ValidText(name, 64); err != nil {
		return WallToken{}, "", &FieldError{"name", err}
	}
	token := NewSecret(20)
	w := WallToken{ID: wallTokenPrefix + NewSecret(5), Name: name, By: by, Created: now.UTC(), Key: tokenKey(token)}
	s := Session{User: w.ID, Role: RoleWall, Expires: now.Add(WallTokenTTL).UTC(), Wall: w.ID}
	err := db.Update(func(tx *Tx) error {
		if err := tx.PutJSON(bucketTokens, w.Key, &s); err != nil {
			return err
		}
		if err := tx.PutJSON(bucketWallTokens, w.ID, &w); err != nil {
			return err
		}
		return tx.Audit(NewAuditEntry(now, by, ActionAdd, "wall_token:"+w.ID, nil, w.public()))
	})
	if err != nil {
		return WallToken{}, "", fmt.Errorf("wall token: %w", err)
	}
	return w.public(), token, nil
}

// public is w without where its session is kept.
func (w WallToken) public() WallToken {
	w.Key = ""
	return w
}

// WallTokens lists the wall tokens, oldest first.
func (db *DB) WallTokens() ([]WallToken, error) {
	out := []WallToken{}
	err := ForEach(db, bucketWallTokens, func(_ string, w *WallToken) error {
		out = append(out, w.public())
		return nil
	})
	slices.SortFunc(out, func(a, b WallToken) int { return a.Created.Compare(b.Created) })
	return out, err
}

// RevokeWallToken ends a wall token and its session, audited as by who.
func (db *DB) RevokeWallToken(id, by string, now time.Time) error {
	return db.Update(func(tx *Tx) error {
		var w WallToken
		found, err := tx.GetJSON(bucketWallTokens, id, &w)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("%w: %s", ErrWallTokenUnknown, id)
		}
		if err := tx.Delete(bucketTokens, w.Key); err != nil {
			return err
		}
		if err := tx.Delete(bucketWallTokens, id); err != nil {
			return err
		}
		return tx.Audit(NewAuditEntry(now, by, ActionRemove, "wall_token:"+id, w.public(), nil))
	})
}
