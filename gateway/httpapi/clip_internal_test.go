package httpapi

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestClipMessage: a long error message keeps its head (what and which id)
// and its tail (why), says how much it left out, and never cuts a rune.
func TestClipMessage(t *testing.T) {
	tests := []struct {
		name, msg string
		head      string
		tail      string
	}{
		{"short is kept", "device not found: btn-1", "device not found: btn-1", ""},
		{"long id", "device not found: " + strings.Repeat("d", 100000), "device not found: ddd", "ddd"},
		{"reason at the end", `site id "` + strings.Repeat("s", 5000) + `" is too long`, `site id "sss`, `sss" is too long`},
		{"multi-byte", "住户 " + strings.Repeat("安心", 3000) + " 不存在", "住户 安心", "安心 不存在"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ClipMessage(tt.msg)
			if len(tt.msg) <= maxErrorMessage {
				if got != tt.msg {
					t.Fatalf("a short message changed: %q", got)
				}
				return
			}
			if len(got) > maxErrorMessage+40 || !utf8.ValidString(got) {
				t.Fatalf("clipped to %d bytes (valid UTF-8: %v)", len(got), utf8.ValidString(got))
			}
			if !strings.HasPrefix(got, tt.head) || !strings.HasSuffix(got, tt.tail) || !strings.Contains(got, "bytes left out") {
				t.Fatalf("clipped message %q lost its head, its tail or the count", got)
			}
		})
	}
}
