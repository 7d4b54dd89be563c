package ctl

import "testing"

// FuzzParsePlan: whatever a plan file holds, parsePlan returns a plan or
// an error, never panics.
func FuzzParsePlan(f *testing.F) {
	for _, seed := range []string{
		"smoke:\n  - do: call 119\n    phone: \"119\"\n",
		`{"call": [{"do": "call her back"}]}`,
		"{}", "", "- a list\n", "smoke: 3", "smoke: [{do: [1]}]", "&a [*a]", "\xff\xfe", "!", "~",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parsePlan(data)
		if err == nil && p == nil {
			t.Fatal("no plan and no error")
		}
	})
}
