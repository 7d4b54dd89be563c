package pgtest

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// TestStopAndRestartKeepData: a server stopped as by a crash comes back on
// its port with what it had committed.
func TestStopAndRestartKeepData(t *testing.T) {
	s := Start(t)
	ctx := context.Background()
	exec := func(sql string) error {
		conn, err := pgx.Connect(ctx, s.DSN("postgres"))
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec("CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := exec("SELECT 1"); err == nil {
		t.Fatal("a stopped server answered")
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := exec("DO $$ BEGIN IF (SELECT x FROM kept) <> 42 THEN RAISE 'lost'; END IF; END $$"); err != nil {
		t.Fatalf("after restart: %v", err)
	}
}

// TestNewDatabaseIsEmptyAndApart: two tests' databases do not see each
// other's tables.
func TestNewDatabaseIsEmptyAndApart(t *testing.T) {
	ctx := context.Background()
	a, b := NewDatabase(t), NewDatabase(t)
	ca, err := pgx.Connect(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close(ctx)
	if _, err := ca.Exec(ctx, "CREATE TABLE mine (x int)"); err != nil {
		t.Fatal(err)
	}
	cb, err := pgx.Connect(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close(ctx)
	var n int
	if err := cb.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'mine' AND schemaname = current_schema()").Scan(&n); err != nil || n != 0 {
		t.Fatalf("the other database sees the table: %d %v", n, err)
	}
}

// TestServerGoneWithItsProcess: a test process that dies without closing
// its server leaves no server and no directory behind.
func TestServerGoneWithItsProcess(t *testing.T) {
	if os.Getenv("PGTEST_CHILD") == "1" {
		s, err := StartServer()
		if err != nil {
			t.Fatal(err)
		}
		println("DIR", s.dir)
		os.Exit(0) // as a panic or kill would: no Close
	}
	if _, err := Bin(); err != nil {
		missing(t, err)
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestServerGoneWithItsProcess$")
	cmd.Env = append(os.Environ(), "PGTEST_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var dir string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "DIR "); ok {
			dir = d
		}
	}
	if dir == "" {
		t.Fatalf("child said no directory:\n%s", out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(dir); os.IsNotExist(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still there 30 s after its test process exited", dir)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
