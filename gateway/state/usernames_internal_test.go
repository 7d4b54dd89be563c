package state

import (
	"testing"
	"time"
)

// TestLegacyUserNamesStillLogIn: a user stored before names were
// restricted (here 张伟 and "li ") still logs in.
func TestLegacyUserNamesStillLogIn(t *testing.T) {
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	hash, err := hashPassword("legacy-password")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"张伟", "li "} {
		if err := db.putJSON(bucketUsers, name, &User{Name: name, Role: RoleOperator, Hash: hash}); err != nil {
			t.Fatal(err)
		}
		if _, s, err := db.Login(name, "legacy-password", time.Now(), time.Hour); err != nil || s.User != name {
			t.Fatalf("legacy user %q: %v %+v", name, err, s)
		}
	}
}
