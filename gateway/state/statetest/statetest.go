// Package statetest holds the conformance suite of the gateway's durable
// state: every backend of state.DB (the bbolt file, PostgreSQL) must pass
// it, so that state.backend is a configuration, not a change of behaviour.
//
// The suite works through state.DB's exported methods only, as the
// gateway does. What it holds a backend to:
//   - an alarm write is one transaction: the alarm, its event's (device,
//     seq) idempotency key, the notifications it made due (the outbox),
//     the adapter state, the push receipt and the edge queue entry that
//     ride with it are all durable together, or none is (a failed write is
//     not half-applied, whether Go or the backend refused it);
//   - once a write fails, later writes of its epoch are refused unapplied,
//     and writes of other epochs are not held back;
//   - what was committed is there after a restart (Close, then open again);
//   - keys sort as bytes (a device id that is a prefix of another, ids
//     with NUL or non-ASCII characters), scans page and stop correctly;
//   - users, sessions, the audit trail, wall tokens, the edge queue and the
//     small records behave as the gateway expects, a record and its audit
//     entry in one transaction.
package statetest

import (
	"errors"
	"testing"

	"github.com/anxin-care/anxin/gateway/state"
)

// Opener opens the store under test. Called again after the store was
// closed, it opens the same store: a restart.
type Opener func() (*state.DB, error)

// NewStore prepares an empty store for one test and returns its Opener.
type NewStore func(t *testing.T) Opener

// Run runs every conformance test against stores made by newStore.
func Run(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s *store)
	}{
		{"AlarmWriteIsOneTransaction", testAlarmWriteIsOne},
		{"FailedWriteIsNotHalfApplied", testFailedWrite},
		{"EpochOfAFailedWriteIsRefused", testEpochRefusal},
		{"AlarmLifecycleAndRange", testAlarmLifecycle},
		{"IdempotencyKeys", testIdempotencyKeys},
		{"PruneInBoundedTransactions", testPrune},
		{"Outbox", testOutbox},
		{"ConcurrentCommits", testConcurrentCommits},
		{"RecordsSortAsBytes", testRecordsOrder},
		{"UpdateWithAuditIsAtomic", testUpdateAudit},
		{"AuditPaging", testAuditPaging},
		{"UsersAndSessions", testUsers},
		{"WallTokens", testWallTokens},
		{"SmallRecords", testSmallRecords},
		{"EdgeQueue", testEdgeQueue},
		{"HealthBackupClose", testHealthBackupClose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &store{t: t, open: newStore(t)}
			s.db = s.mustOpen()
			t.Cleanup(func() {
				if s.db != nil {
					s.db.Close()
				}
			})
			tt.fn(t, s)
		})
	}
}

// store is the store of one test, reopened by restart.
type store struct {
	t    *testing.T
	open Opener
	db   *state.DB
}

func (s *store) mustOpen() *state.DB {
	s.t.Helper()
	db, err := s.open()
	if err != nil {
		s.t.Fatalf("open: %v", err)
	}
	return db
}

// restart closes the store as a stop would and opens it again.
func (s *store) restart() {
	s.t.Helper()
	if err := s.db.Close(); err != nil {
		s.t.Fatalf("close: %v", err)
	}
	s.db = nil
	s.db = s.mustOpen()
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func isErr(err, target error) bool { return errors.Is(err, target) }
