// Package ctl is anxinctl, the installer's and admin's tool over anxin's
// HTTP API: log in, build the site tree, register residents, provision,
// import, replace and walk-test devices, and follow one device live while
// standing in the room. cmd/anxinctl is only a main around Run, so the
// whole tool runs inside a test.
//
// Commands are a table (commands.go): each has a name, a synopsis, a
// summary, and a setup function that registers its flags and returns the
// code to run; usage text and the shell completion scripts are generated
// from that table, so they cannot drift from the commands.
//
// Flags may come before or after a command's arguments
// ("device import fleet.csv --partial"). Global flags, accepted
// everywhere: --server (default $ANXIN_SERVER, else http://127.0.0.1:8080),
// --token (default $ANXIN_TOKEN, else the file `anxinctl login` wrote:
// $XDG_CONFIG_HOME/anxin/token or ~/.config/anxin/token, mode 0600), and
// -o json, which prints the API's answers as JSON instead of text.
//
// Output for people is aligned in columns by display width, so that
// Chinese names (two columns each on a terminal) line up; text/tabwriter
// counts every character as one column and would not. On a terminal a
// table fits its width (table.go): free text is cut with "…", optional
// columns left out; -o wide shows everything. Times are shown in the local
// time zone of the machine running anxinctl.
//
// A mistyped command or flag is answered with the nearest one ("did you
// mean"). Lists typed with a Chinese input method (，；、 and full-width
// spaces) are read as their ASCII forms (lists.go). Passwords are read
// without echo on a terminal, or as a line from a pipe (login.go).
//
// Exit status: 0 done, 1 the gateway refused or could not be reached,
// 2 the command line was wrong.
package ctl

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/anxin-care/anxin/gateway/apiclient"
	"go.yaml.in/yaml/v3"
)

// DefaultServer is the gateway anxinctl talks to without --server or $ANXIN_SERVER.
const DefaultServer = "http://127.0.0.1:8080"

// Exit statuses.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// errUsage marks a wrong command line: the command's usage is printed.
var errUsage = errors.New("usage")

func usageErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

// env is what a command runs with.
type env struct {
	ctx            context.Context
	stdin          io.Reader
	stdout, stderr io.Writer
	server, token  string
	contextName    string // --context
	output         string // "" for text, "wide", "json", "yaml", or a command's own (csv)
	now            func() time.Time
}

// target is the gateway a command talks to and the token for it: --server,
// else $ANXIN_SERVER, else the context's (--context, else the current
// one), else DefaultServer; --token, else $ANXIN_TOKEN, else the token of
// the context logged in to that server.
func (e *env) target() (server, token string, err error) {
	cfg, _, err := loadConfig()
	if err != nil {
		return "", "", err
	}
	var cur *ctlContext
	if e.contextName != "" {
		if cur = cfg.find(e.contextName); cur == nil {
			return "", "", unknownContext(cfg, e.contextName)
		}
	} else if cfg.Current != "" {
		cur = cfg.find(cfg.Current)
	}
	server = e.server
	if server == "" && e.contextName == "" {
		server = os.Getenv("ANXIN_SERVER")
	}
	if server == "" && cur != nil {
		server = cur.Server
	}
	if server == "" {
		server = DefaultServer
	}
	server = normServer(server)
	token = e.token
	if token == "" {
		token = os.Getenv("ANXIN_TOKEN")
	}
	if token == "" {
		switch {
		case cur != nil && cur.Server == server:
			token = cur.Token
		case cfg.byServer(server) != nil:
			token = cfg.byServer(server).Token
		}
	}
	return server, token, nil
}

// client returns an API client with the resolved server and token.
func (e *env) client() (*apiclient.Client, error) {
	server, token, err := e.target()
	if err != nil {
		return nil, err
	}
	if token == "" {
		hint := ""
		if dir, err := os.UserConfigDir(); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "anxin", "token")); err == nil {
				// Written by anxinctl before contexts; it did not say for which server.
				hint = " (logins are now kept per server: log in once again)"
			}
		}
		return nil, fmt.Errorf("not logged in to %s: run `anxinctl --server %s login`%s (or set $ANXIN_TOKEN)", server, server, hint)
	}
	return apiclient.New(server, token), nil
}

// serverURL is the gateway a command talks to.
func (e *env) serverURL() string {
	server, _, err := e.target()
	if err != nil {
		return normServer(cmp.Or(e.server, os.Getenv("ANXIN_SERVER"), DefaultServer))
	}
	return server
}

// json reports whether the answer is to be printed for a program (-o json
// or -o yaml) rather than for people.
func (e *env) json() bool { return e.structured() }

func (e *env) structured() bool { return e.output == "json" || e.output == "yaml" }

// printJSON writes v for -o json (indented) or -o yaml.
func (e *env) printJSON(v any) error { return e.printStructured(v) }

func (e *env) printStructured(v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	if e.output != "yaml" {
		_, err := e.stdout.Write(buf.Bytes())
		return err
	}
	// Through JSON, so that YAML has the same field names and omissions.
	var generic any
	if err := json.Unmarshal(buf.Bytes(), &generic); err != nil {
		return err
	}
	out, err := yaml.Marshal(generic)
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(out)
	return err
}

// wide reports -o wide: every column, nothing cut.
func (e *env) wide() bool { return e.output == "wide" }

// table writes a table for people: within the terminal's width (see
// fitTable), unless -o wide, which shows every column uncut.
func (e *env) table(header []string, rows [][]string, f fit) {
	limit := 0
	if !e.wide() {
		limit = terminalWidth(e.stdout)
	}
	fitTable(e.stdout, header, rows, limit, f)
}

func (e *env) printf(format string, args ...any) { fmt.Fprintf(e.stdout, format, args...) }

// Run runs anxinctl with args (without the program name) and returns the
// exit status. Only main handles signals: ctx ends a long command (watch).
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr, now: time.Now}
	root := rootCommand()
	cmd, rest := root, args
	var path []string
	for len(cmd.subs) > 0 {
		// Global flags may precede the command words.
		fs := newFlagSet(cmd, path, e)
		if err := fs.Parse(rest); err != nil {
			return usageExit(e, cmd, path, err)
		}
		rest = fs.Args()
		if len(rest) == 0 {
			printUsage(e.stderr, cmd, path)
			return exitUsage
		}
		name := rest[0]
		if name == "help" && len(path) == 0 {
			return help(e, root, rest[1:])
		}
		sub := cmd.find(name)
		if sub == nil {
			fmt.Fprintf(e.stderr, "anxinctl: unknown command %q", strings.Join(append(path, name), " "))
			names := cmd.names()
			if len(path) == 0 {
				names = append(names, "help")
			}
			if s := suggest(name, names); s != "" {
				fmt.Fprintf(e.stderr, "; did you mean %q?", strings.Join(append(path, s), " "))
			}
			fmt.Fprint(e.stderr, "\n\n")
			printUsage(e.stderr, cmd, path)
			return exitUsage
		}
		cmd, path, rest = sub, append(path, name), rest[1:]
	}
	fs := newFlagSet(cmd, path, e)
	run := cmd.setup(fs)
	pos, err := parseInterleaved(fs, rest)
	if err != nil {
		return usageExit(e, cmd, path, err)
	}
	if cmd.nargs >= 0 && len(pos) != cmd.nargs {
		return usageExit(e, cmd, path, usageErr("want %d argument(s), got %d", cmd.nargs, len(pos)))
	}
	if formats := append([]string{"wide", "json", "yaml"}, cmd.outputs...); e.output != "" && !slices.Contains(formats, e.output) {
		return usageExit(e, cmd, path, usageErr("-o %q: want %s", e.output, strings.Join(formats, ", ")))
	}
	if err := run(e, pos); err != nil {
		if errors.Is(err, errUsage) {
			return usageExit(e, cmd, path, err)
		}
		fmt.Fprintln(e.stderr, "anxinctl: "+err.Error())
		return exitError
	}
	return exitOK
}

func usageExit(e *env, cmd *command, path []string, err error) int {
	if errors.Is(err, flag.ErrHelp) {
		printUsage(e.stdout, cmd, path)
		return exitOK
	}
	msg := strings.TrimPrefix(err.Error(), errUsage.Error()+": ")
	// "flag provided but not defined: -colour", from package flag.
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		name = strings.TrimLeft(name, "-")
		msg = fmt.Sprintf("unknown flag --%s", name)
		if s := suggest(name, flagNames(cmd, path)); s != "" {
			msg += fmt.Sprintf("; did you mean --%s?", s)
		}
	}
	fmt.Fprintf(e.stderr, "anxinctl %s: %s\n\n", strings.Join(path, " "), msg)
	printUsage(e.stderr, cmd, path)
	return exitUsage
}

// help serves `anxinctl help [command…]`.
func help(e *env, root *command, words []string) int {
	cmd, path := root, []string{}
	for _, w := range words {
		sub := cmd.find(w)
		if sub == nil {
			fmt.Fprintf(e.stderr, "anxinctl help: unknown command %q", strings.Join(append(path, w), " "))
			if s := suggest(w, cmd.names()); s != "" {
				fmt.Fprintf(e.stderr, "; did you mean %q?", strings.Join(append(path, s), " "))
			}
			fmt.Fprintln(e.stderr)
			return exitUsage
		}
		cmd, path = sub, append(path, w)
	}
	printUsage(e.stdout, cmd, path)
	return exitOK
}

// newFlagSet returns a flag set with the global flags bound to e. Its
// usage output is silenced: Run prints usage itself.
func newFlagSet(cmd *command, path []string, e *env) *flag.FlagSet {
	fs := flag.NewFlagSet("anxinctl "+strings.Join(path, " "), flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&e.server, "server", e.server, "gateway `URL` (default $ANXIN_SERVER or "+DefaultServer+")")
	fs.StringVar(&e.token, "token", e.token, "API `TOKEN` (default $ANXIN_TOKEN or the saved login)")
	fs.StringVar(&e.contextName, "context", e.contextName, "the saved login (`NAME`) to use for this command (see `anxinctl config get-contexts`)")
	fs.StringVar(&e.output, "o", e.output, "output `FORMAT`: wide (every column, nothing cut), json, yaml, or csv where a command has it (default: text for people, fitted to the terminal)")
	return fs
}

// parseInterleaved parses flags that may stand before, between or after
// the positional arguments, and returns the positional ones. After "--"
// everything is positional.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		dashdash := slices.Index(args, "--")
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if dashdash >= 0 && len(args)-dashdash-1 == len(rest) {
			return append(pos, rest...), nil // fs.Parse stopped at "--"
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ", ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// suggest is the candidate closest to a mistyped word, within two edits
// (Levenshtein; one for a word of up to three letters, so that "x" is not
// taken for "ls"), or "" when none is that close; a word that is a prefix
// of exactly one candidate ("dev" for "device") suggests it too.
func suggest(word string, candidates []string) string {
	best, bestD := "", min(2, max(1, utf8.RuneCountInString(word)/2))+1
	var prefixed []string
	for _, c := range candidates {
		if d := levenshtein(word, c); d < bestD {
			best, bestD = c, d
		}
		if len(word) >= 2 && strings.HasPrefix(c, word) {
			prefixed = append(prefixed, c)
		}
	}
	if best == "" && len(prefixed) == 1 {
		return prefixed[0]
	}
	return best
}

// levenshtein is the edit distance between a and b, in runes.
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// flagNames lists the flags a command accepts, its own and the global ones.
func flagNames(cmd *command, path []string) []string {
	var names []string
	fs := newFlagSet(cmd, path, &env{})
	if cmd.setup != nil {
		cmd.setup(fs)
	}
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	return names
}
