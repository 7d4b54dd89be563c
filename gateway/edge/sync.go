package edge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/anxin-care/anxin/devices"
)

// SyncTopic is the box's sync topic, anxin/v1/{box}/sync: operators'
// actions done on the box, for central's timeline.
func SyncTopic(box string) string { return devices.Topic(box, devices.ChannelSync) }

// Sync is one operator action done on the box's own console, sent to
// central so that its alarm for (Device, Seq) has it on its timeline.
type Sync struct {
	Type    string `json:"type"`   // ack, dispatch, resolve or note
	Device  string `json:"device"` // the device whose event raised the alarm
	Seq     uint64 `json:"seq"`    // that event's seq
	By      string `json:"by"`     // the operator's user name on the box
	At      int64  `json:"at"`     // ms since the epoch, the box's clock
	Note    string `json:"note,omitempty"`
	Outcome string `json:"outcome,omitempty"` // for resolve
}

// The sync types.
const (
	SyncAck      = "ack"
	SyncDispatch = "dispatch"
	SyncResolve  = "resolve"
	SyncNote     = "note"
)

// ErrBadSync is wrapped by every refusal of DecodeSync.
var ErrBadSync = errors.New("bad sync message")

// maxSyncText bounds a note and an operator's name.
const (
	maxSyncNote = 2000
	maxSyncBy   = 128
)

// DecodeSync reads a sync payload strictly: a known type, a valid device
// id, a seq, who did it; a resolve names its outcome.
func DecodeSync(payload []byte) (Sync, error) {
	var s Sync
	if len(payload) > devices.MaxPayload {
		return s, fmt.Errorf("%w: %d bytes, the limit is %d", ErrBadSync, len(payload), devices.MaxPayload)
	}
	d := json.NewDecoder(bytes.NewReader(payload))
	d.DisallowUnknownFields()
	if err := d.Decode(&s); err != nil {
		return Sync{}, fmt.Errorf("%w: %v", ErrBadSync, err)
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return Sync{}, fmt.Errorf("%w: trailing data after the JSON object", ErrBadSync)
	}
	switch s.Type {
	case SyncAck, SyncDispatch, SyncResolve, SyncNote:
	default:
		return Sync{}, fmt.Errorf("%w: type %q; want ack, dispatch, resolve or note", ErrBadSync, s.Type)
	}
	if err := devices.ValidateID(s.Device); err != nil {
		return Sync{}, fmt.Errorf("%w: device: %v", ErrBadSync, err)
	}
	switch {
	case s.Seq == 0:
		return Sync{}, fmt.Errorf("%w: seq is missing", ErrBadSync)
	case s.By == "" || len(s.By) > maxSyncBy:
		return Sync{}, fmt.Errorf("%w: by must be 1-%d bytes", ErrBadSync, maxSyncBy)
	case s.At < 0:
		return Sync{}, fmt.Errorf("%w: at %d is before 1970", ErrBadSync, s.At)
	case len(s.Note) > maxSyncNote:
		return Sync{}, fmt.Errorf("%w: note is over %d bytes", ErrBadSync, maxSyncNote)
	case s.Type == SyncResolve && s.Outcome == "":
		return Sync{}, fmt.Errorf("%w: resolve needs an outcome", ErrBadSync)
	case s.Type == SyncNote && s.Note == "":
		return Sync{}, fmt.Errorf("%w: note is empty", ErrBadSync)
	}
	return s, nil
}
