package ctl

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mattn/go-runewidth"
	"golang.org/x/term"
)

// width measures strings as a terminal shows them: East Asian wide and
// full-width characters take two columns, combining marks none (Unicode
// UAX #11). Ambiguous characters count as one, whatever the locale says,
// so that output does not change with $LANG.
var width = &runewidth.Condition{EastAsianWidth: false, StrictEmojiNeutral: true}

// displayWidth is how many terminal columns s takes.
func displayWidth(s string) int { return width.StringWidth(s) }

// writeTable writes rows in columns separated by two spaces, padded by
// display width: a Chinese character takes two columns of a terminal.
// header, when given, is the first row. The last column is not padded.
func writeTable(w io.Writer, header []string, rows [][]string) {
	fitTable(w, header, rows, 0, nil)
}

// fitTable is writeTable within limit columns (0: no limit): while the
// table is wider, the widest of the free-text columns free (indices) is
// cut, its cells ending in "…", down to minFree columns at the least.
func fitTable(w io.Writer, header []string, rows [][]string, limit int, free []int) {
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
	if limit > 0 {
		shrink(widths, limit, free)
	}
	var b strings.Builder
	for _, r := range all {
		b.Reset()
		for i, cell := range r {
			if displayWidth(cell) > widths[i] {
				cell = width.Truncate(cell, widths[i], "…")
			}
			b.WriteString(cell)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", max(widths[i]-displayWidth(cell), 0)+2))
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

// minFree is the narrowest a free-text column is cut to.
const minFree = 8

// shrink narrows the widest free column, one column at a time, until the
// table fits in limit or no free column can give more.
func shrink(widths []int, limit int, free []int) {
	total := 2 * max(len(widths)-1, 0)
	for _, w := range widths {
		total += w
	}
	for total > limit {
		widest := -1
		for _, i := range free {
			if i < len(widths) && widths[i] > minFree && (widest < 0 || widths[i] > widths[widest]) {
				widest = i
			}
		}
		if widest < 0 {
			return
		}
		widths[widest]--
		total--
	}
}

// terminalWidth is the width of the terminal w writes to, or 0 when w is
// not a terminal (a pipe or a file: nothing is cut) or its size is unknown.
// $COLUMNS, when set, wins, as for ls.
func terminalWidth(w io.Writer) int {
	if c, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && c > 0 {
		return c
	}
	f, ok := w.(*os.File)
	if !ok || !isTerminal(f) {
		return 0
	}
	cols, _, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return 0
	}
	return cols
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
