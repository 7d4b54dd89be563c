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
// counts every character as one column and would not. Times are shown in
// the local time zone of the machine running anxinctl.
//
// Exit status: 0 done, 1 the gateway refused or could not be reached,
// 2 the command line was wrong.
package ctl

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/anxin-care/anxin/gateway/apiclient"
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
	output         string // "" for text, "json"
	now            func() time.Time
}

// client returns an API client with the resolved server and token.
func (e *env) client() (*apiclient.Client, error) {
	token := e.token
	if token == "" {
		token = os.Getenv("ANXIN_TOKEN")
	}
	if token == "" {
		path, err := tokenPath()
		if err == nil {
			if b, err := os.ReadFile(path); err == nil {
				token = strings.TrimSpace(string(b))
			}
		}
	}
	if token == "" {
		return nil, errors.New("not logged in: run `anxinctl login` (or set $ANXIN_TOKEN)")
	}
	return apiclient.New(e.serverURL(), token), nil
}

func (e *env) serverURL() string {
	s := e.server
	if s == "" {
		s = os.Getenv("ANXIN_SERVER")
	}
	if s == "" {
		s = DefaultServer
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	return strings.TrimRight(s, "/")
}

func (e *env) json() bool { return e.output == "json" }

// printJSON writes v indented, for -o json.
func (e *env) printJSON(v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
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
			fmt.Fprintf(e.stderr, "anxinctl: unknown command %q\n\n", strings.Join(append(path, name), " "))
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
	if e.output != "" && e.output != "json" && !slices.Contains(cmd.outputs, e.output) {
		return usageExit(e, cmd, path, usageErr("-o %q: want %s", e.output, strings.Join(append([]string{"json"}, cmd.outputs...), " or ")))
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
	fmt.Fprintf(e.stderr, "anxinctl %s: %s\n\n", strings.Join(path, " "), strings.TrimPrefix(err.Error(), errUsage.Error()+": "))
	printUsage(e.stderr, cmd, path)
	return exitUsage
}

// help serves `anxinctl help [command…]`.
func help(e *env, root *command, words []string) int {
	cmd, path := root, []string{}
	for _, w := range words {
		sub := cmd.find(w)
		if sub == nil {
			fmt.Fprintf(e.stderr, "anxinctl help: unknown command %q\n", strings.Join(append(path, w), " "))
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
	fs.StringVar(&e.output, "o", e.output, "output `FORMAT`: json, or csv where a command has it (default: text for people)")
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
