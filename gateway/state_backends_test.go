package gateway_test

import (
	"os"
	"testing"

	"github.com/anxin-care/anxin/internal/pgtest"
)

// The gateway's tests that loop over gatewaytest.Backends run on bbolt and
// on PostgreSQL (TestPressToResolve, TestRedeliveryRaisesOnce,
// TestConsoleSessionSurvivesRestart, TestRegistrySurvivesRestart,
// TestDutyCheckInSurvivesRestart, TestOutboxSurvivesRestart); with
// ANXIN_TEST_STATE=postgres every other test gateway runs on PostgreSQL
// too. pgtest.Main stops the PostgreSQL server they share.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
