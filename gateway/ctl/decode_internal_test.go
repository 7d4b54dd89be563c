package ctl

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
)

func TestDecodeCSV(t *testing.T) {
	gbk, _ := simplifiedchinese.GBK.NewEncoder().String("id,location\nbtn-1,床头\n")
	for _, tt := range []struct {
		name, in, want, enc string
		bad                 bool
	}{
		{"utf-8", "id,location\nbtn-1,床头\n", "id,location\nbtn-1,床头\n", "", false},
		{"utf-8 with bom", "\uFEFFid\nbtn-1\n", "\uFEFFid\nbtn-1\n", "", false},
		{"gbk", gbk, "id,location\nbtn-1,床头\n", "GBK", false},
		{"neither", "id\n\xff\xfe\xff\n", "", "", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, enc, err := decodeCSV([]byte(tt.in))
			if tt.bad {
				if err == nil || !strings.Contains(err.Error(), "CSV UTF-8") {
					t.Fatalf("err = %v, want a hint to save as CSV UTF-8", err)
				}
				return
			}
			if err != nil || string(got) != tt.want || enc != tt.enc {
				t.Fatalf("decodeCSV = %q, %q, %v; want %q, %q", got, enc, err, tt.want, tt.enc)
			}
		})
	}
}

// FuzzDecodeCSV: any bytes give valid UTF-8 or an error, never a panic,
// and UTF-8 input comes back unchanged.
func FuzzDecodeCSV(f *testing.F) {
	gbk, _ := simplifiedchinese.GBK.NewEncoder().String("id,kind,location\nbtn-1,call_button,床头\n")
	for _, s := range []string{"", "id,kind\n", "\uFEFFid\n", gbk, "\xff\xfe", "\x81\x30\x81\x30", "床"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, _, err := decodeCSV(in)
		if err != nil {
			return
		}
		if !utf8.Valid(out) {
			t.Fatalf("decodeCSV(%q) = %q, not UTF-8", in, out)
		}
		if utf8.Valid(in) && !bytes.Equal(in, out) {
			t.Fatalf("UTF-8 input changed: %q → %q", in, out)
		}
	})
}

// FuzzSplitContacts: whatever is typed after --contact gives contacts of
// three trimmed, non-separator fields or a usage error, never a panic.
func FuzzSplitContacts(f *testing.F) {
	for _, s := range []string{"李明,138,儿子", "李明，138，儿子；李红、139、女儿", "a,b", "；；", "　a　,b,c　", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		cs, err := splitContacts(v)
		if err != nil {
			return
		}
		for _, c := range cs {
			for _, field := range []string{c.Name, c.Phone, c.Relation} {
				if field != trimSpace(field) || strings.ContainsFunc(field, func(r rune) bool { return isFieldSep(r) || isGroupSep(r) }) {
					t.Fatalf("splitContacts(%q) gave field %q", v, field)
				}
			}
		}
	})
}

func TestSuggest(t *testing.T) {
	cands := []string{"add", "ls", "show", "rm", "replace", "import", "install", "test", "watch"}
	for _, tt := range []struct{ word, want string }{
		{"lss", "ls"}, {"imprt", "import"}, {"shwo", "show"}, {"instal", "install"},
		{"frobnicate", ""}, {"x", ""}, {"repl", "replace"},
	} {
		if got := suggest(tt.word, cands); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.word, got, tt.want)
		}
	}
	if d := levenshtein("青山村", "青山镇"); d != 1 {
		t.Errorf("levenshtein counts runes: got %d", d)
	}
}
