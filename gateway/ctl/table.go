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
	fitTable(w, header, rows, 0, fit{})
}

// fit says how a table may be narrowed to a terminal's width.
type fit struct {
	free     []int // free-text columns, which may be cut with "…"
	optional []int // columns left out on a narrow terminal, the first first (-o wide shows them)
}

// Free-text columns are cut to roomyFree before an optional column is left
// out, and to minFree at the most.
const (
	roomyFree = 20
	minFree   = 8
)

// fitTable is writeTable within limit columns (0: no limit). While the
// table is wider, the widest free-text column is cut (its cells ending in
// "…") down to roomyFree, then optional columns are left out, then free
// columns are cut down to minFree.
func fitTable(w io.Writer, header []string, rows [][]string, limit int, f fit) {
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
	dropped := map[int]bool{}
	if limit > 0 {
		for i, w := range widths {
			if w == 0 { // a column with nothing in it, not even a header
				dropped[i] = true
			}
		}
	}
	if limit > 0 && !shrink(widths, dropped, limit, f.free, roomyFree) {
		for _, i := range f.optional {
			if i < len(widths) && !dropped[i] {
				dropped[i] = true
				if total(widths, dropped) <= limit {
					break
				}
			}
		}
		shrink(widths, dropped, limit, f.free, minFree)
	}
	var b strings.Builder
	for _, r := range all {
		b.Reset()
		last := len(r) - 1
		for last >= 0 && dropped[last] {
			last--
		}
		for i, cell := range r {
			if dropped[i] {
				continue
			}
			if displayWidth(cell) > widths[i] {
				cell = width.Truncate(cell, widths[i], "…")
			}
			b.WriteString(cell)
			if i < last {
				b.WriteString(strings.Repeat(" ", max(widths[i]-displayWidth(cell), 0)+2))
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

// total is the width of a table's line: its columns and the gaps between.
func total(widths []int, dropped map[int]bool) int {
	n, cols := 0, 0
	for i, w := range widths {
		if !dropped[i] {
			n += w
			cols++
		}
	}
	return n + 2*max(cols-1, 0)
}

// shrink narrows the widest free column, one terminal column at a time,
// down to floor, until the table fits in limit; it reports whether it fits.
func shrink(widths []int, dropped map[int]bool, limit int, free []int, floor int) bool {
	t := total(widths, dropped)
	for t > limit {
		widest := -1
		for _, i := range free {
			if i < len(widths) && !dropped[i] && widths[i] > floor && (widest < 0 || widths[i] > widths[widest]) {
				widest = i
			}
		}
		if widest < 0 {
			return false
		}
		widths[widest]--
		t--
	}
	return true
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
