package ctl

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// writeTable writes rows in columns separated by two spaces, padded by
// display width: a Chinese character takes two columns of a terminal.
// header, when given, is the first row. The last column is not padded.
func writeTable(w io.Writer, header []string, rows [][]string) {
	all := rows
	if header != nil {
		all = append([][]string{header}, rows...)
	}
	var widths []int
	for _, r := range all {
		for i, cell := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], displayWidth(cell))
		}
	}
	var b strings.Builder
	for _, r := range all {
		b.Reset()
		for i, cell := range r {
			b.WriteString(cell)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-displayWidth(cell)+2))
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

// displayWidth is how many terminal columns s takes: East Asian wide and
// full-width characters take two (Unicode UAX #11, the common ranges).
func displayWidth(s string) int {
	n := 0
	for _, r := range s {
		switch {
		case r < 0x1100:
			n++
		case r <= 0x115F, // Hangul Jamo
			r >= 0x2E80 && r <= 0xA4CF && r != 0x303F, // CJK radicals … Yi
			r >= 0xAC00 && r <= 0xD7A3,                // Hangul syllables
			r >= 0xF900 && r <= 0xFAFF,                // CJK compatibility ideographs
			r >= 0xFE30 && r <= 0xFE4F,                // CJK compatibility forms
			r >= 0xFF00 && r <= 0xFF60,                // full-width forms
			r >= 0xFFE0 && r <= 0xFFE6,
			r >= 0x1F300 && r <= 0x1F64F, // emoji
			r >= 0x20000 && r <= 0x3FFFD: // CJK extensions
			n += 2
		case r >= 0x0300 && r <= 0x036F, r == 0x200B, r == 0x200D: // combining, zero width
		default:
			n++
		}
	}
	return n
}

// isTerminal reports whether w is a terminal (a character device), the
// test for showing progress. A variable, so that tests can pretend.
var isTerminal = func(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// ago says how long ago t was, for people: "12s ago", "5m ago", or a date.
func ago(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return t.Local().Format("2006-01-02 15:04")
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return t.Local().Format("2006-01-02 15:04")
}

// dash shows an empty value as "-".
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
