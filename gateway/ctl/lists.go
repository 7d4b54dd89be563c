package ctl

import (
	"strings"
	"unicode"

	"github.com/anxin-care/anxin/gateway/apiclient"
)

// People type lists with a Chinese input method as often as without:
// "李明，13800001234，儿子" or "高血压、糖尿病". Lists given on the command line
// therefore take full-width separators as their ASCII ones, and full-width
// spaces (U+3000) as spaces.

// isItemSep separates the items of a list: , ， 、 ; ；
func isItemSep(r rune) bool {
	return r == ',' || r == '，' || r == '、' || r == ';' || r == '；'
}

// isFieldSep separates the fields of one contact: , ， 、
func isFieldSep(r rune) bool { return r == ',' || r == '，' || r == '、' }

// isGroupSep separates whole contacts given in one --contact: ; ；
func isGroupSep(r rune) bool { return r == ';' || r == '；' }

// trimSpace trims ASCII and full-width spaces.
func trimSpace(s string) string { return strings.TrimFunc(s, unicode.IsSpace) }

// splitList splits a list given as one value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, isItemSep) {
		if f = trimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// splitContacts reads one --contact value: "NAME,PHONE,RELATION", or
// several separated by ';' ("李明，138…，儿子；李红，139…，女儿").
func splitContacts(v string) ([]apiclient.Contact, error) {
	var out []apiclient.Contact
	for _, one := range strings.FieldsFunc(v, isGroupSep) {
		if trimSpace(one) == "" {
			continue
		}
		parts := strings.FieldsFunc(one, isFieldSep)
		if len(parts) != 3 {
			return nil, usageErr("--contact %q: want NAME,PHONE,RELATION (separate several contacts with ;)", trimSpace(one))
		}
		out = append(out, apiclient.Contact{Name: trimSpace(parts[0]), Phone: trimSpace(parts[1]), Relation: trimSpace(parts[2])})
	}
	if len(out) == 0 {
		return nil, usageErr("--contact %q: want NAME,PHONE,RELATION", v)
	}
	return out, nil
}
