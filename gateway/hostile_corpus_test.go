package gateway_test

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// The hostile corpus (testdata/hostile/*.txt) is attack traffic kept as
// data: every case a few readable lines, replayed by TestHostileCorpus
// against a real anxin process. The format is described at the top of
// testdata/hostile/mqtt.txt; this file only reads it.

// corpusCase is one case of a corpus file: steps run in order on one
// connection (repeat times, each on a fresh one), then expectations.
type corpusCase struct {
	name, doc string
	line      int
	repeat    int
	steps     []corpusStep
	expects   []corpusStep
}

// corpusStep is one line of a case: a verb and its key=value arguments
// (a bare word is a key with the value ""), or for "hex" its bytes.
type corpusStep struct {
	verb string
	args map[string]expr
	raw  []byte
	line int
}

// arg is the value of key with the case's variables ($DEV …) filled in.
func (s corpusStep) arg(key string, vars *strings.Replacer) (string, bool) {
	e, ok := s.args[key]
	if !ok {
		return "", false
	}
	return e.String(vars), true
}

// expr is a value of the corpus: Go-quoted strings, each optionally
// repeated ("["*30000), joined by +. Kept as terms so that a 100 MB body
// is streamed, never built.
type expr []term

type term struct {
	s string
	n int
}

// Len is the expression's length in bytes.
func (e expr) Len() int {
	n := 0
	for _, t := range e {
		n += len(t.s) * t.n
	}
	return n
}

// String builds the value, with vars applied to every literal.
func (e expr) String(vars *strings.Replacer) string {
	var b strings.Builder
	for _, t := range e {
		s := t.s
		if vars != nil {
			s = vars.Replace(s)
		}
		for range t.n {
			b.WriteString(s)
		}
	}
	return b.String()
}

// Reader streams the value without building it.
func (e expr) Reader(vars *strings.Replacer) io.Reader {
	var rs []io.Reader
	for _, t := range e {
		s := t.s
		if vars != nil {
			s = vars.Replace(s)
		}
		rs = append(rs, &repeatReader{s: s, n: t.n})
	}
	return io.MultiReader(rs...)
}

// repeatReader reads s n times.
type repeatReader struct {
	s   string
	n   int
	off int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	total := 0
	for len(p) > 0 && r.n > 0 && len(r.s) > 0 {
		c := copy(p, r.s[r.off:])
		p, total, r.off = p[c:], total+c, r.off+c
		if r.off == len(r.s) {
			r.off, r.n = 0, r.n-1
		}
	}
	if total == 0 && (r.n == 0 || len(r.s) == 0) {
		return 0, io.EOF
	}
	return total, nil
}

// parseExpr reads one value from the start of s: a bare word (up to a
// space) or quoted terms joined by +; it returns the rest of s.
func parseExpr(s string) (expr, string, error) {
	if !strings.HasPrefix(s, `"`) {
		word, rest, _ := strings.Cut(s, " ")
		return expr{{s: word, n: 1}}, rest, nil
	}
	var e expr
	for {
		q, err := strconv.QuotedPrefix(s)
		if err != nil {
			return nil, "", fmt.Errorf("bad quoted string at %.20q: %w", s, err)
		}
		lit, _ := strconv.Unquote(q)
		s = s[len(q):]
		n := 1
		if rest, ok := strings.CutPrefix(s, "*"); ok {
			digits := rest[:len(rest)-len(strings.TrimLeft(rest, "0123456789"))]
			if n, err = strconv.Atoi(digits); err != nil {
				return nil, "", fmt.Errorf("bad repeat count after %q: %w", q, err)
			}
			s = rest[len(digits):]
		}
		e = append(e, term{s: lit, n: n})
		rest, ok := strings.CutPrefix(s, "+")
		if !ok {
			return e, strings.TrimLeft(s, " "), nil
		}
		s = rest
	}
}

// parseStep reads one line: verb, then key=value or bare words; "hex"
// takes hex bytes (spaces between them are ignored).
func parseStep(text string, line int) (corpusStep, error) {
	verb, rest, _ := strings.Cut(strings.TrimSpace(text), " ")
	st := corpusStep{verb: verb, args: map[string]expr{}, line: line}
	if verb == "hex" {
		b, err := hex.DecodeString(strings.ReplaceAll(rest, " ", ""))
		if err != nil {
			return st, fmt.Errorf("line %d: hex: %w", line, err)
		}
		st.raw = b
		return st, nil
	}
	for rest = strings.TrimSpace(rest); rest != ""; rest = strings.TrimSpace(rest) {
		key, value, hasValue := strings.Cut(rest, "=")
		if word, after, _ := strings.Cut(rest, " "); !hasValue || strings.Contains(key, " ") {
			st.args[word], rest = expr{}, after
			continue
		}
		e, after, err := parseExpr(value)
		if err != nil {
			return st, fmt.Errorf("line %d: %s: %w", line, key, err)
		}
		st.args[key], rest = e, after
	}
	return st, nil
}

// readCorpus reads a corpus file: "== name" starts a case, "# …" lines
// right after it are its description, "repeat N" repeats it, "expect …"
// lines are its expectations, any other line a step.
func readCorpus(path string) ([]corpusCase, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var cases []corpusCase
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		text := strings.TrimSpace(sc.Text())
		if name, ok := strings.CutPrefix(text, "== "); ok {
			cases = append(cases, corpusCase{name: name, line: n, repeat: 1})
			continue
		}
		if text == "" || len(cases) == 0 {
			continue
		}
		c := &cases[len(cases)-1]
		switch {
		case strings.HasPrefix(text, "#"):
			if len(c.steps) == 0 && len(c.expects) == 0 {
				c.doc = strings.TrimSpace(c.doc + " " + strings.TrimSpace(text[1:]))
			}
		case strings.HasPrefix(text, "repeat "):
			if c.repeat, err = strconv.Atoi(strings.TrimPrefix(text, "repeat ")); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", path, n, err)
			}
		case strings.HasPrefix(text, "expect "):
			st, err := parseStep(strings.TrimPrefix(text, "expect "), n)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			c.expects = append(c.expects, st)
		default:
			st, err := parseStep(text, n)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			c.steps = append(c.steps, st)
		}
	}
	return cases, sc.Err()
}
