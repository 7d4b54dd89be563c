package ctl

import (
	"bufio"
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/anxin-care/anxin/gateway/apiclient"
	"golang.org/x/term"
)

func loginCommand() *command {
	return &command{name: "login", summary: "log in and save the server and token for the next commands", nargs: 0,
		help: `Asks for the user name and the password. The password is read from the
terminal without echo, or as one line when standard input is not a terminal
(printf '%s\n' admin "$PW" | anxinctl --server http://gateway:8080 login).

The server and the token are saved together as a context named after the
server's host (or --context NAME), which becomes the current one: later
commands talk to that server without --server. Contexts are kept in
~/.config/anxin/anxinctl.json (mode 0600); see ` + "`anxinctl config`" + `.`,
		setup: func(fs *flag.FlagSet) runFunc {
			user := fs.String("user", "", "user name (asked when not given)")
			return func(e *env, _ []string) error {
				cfg, _, err := loadConfig()
				if err != nil {
					return err
				}
				// The server: --server, $ANXIN_SERVER, --context's, the current context's.
				server := e.serverURL()
				name := e.contextName
				if name != "" && e.server != "" {
					if c := cfg.find(name); c != nil && c.Server != normServer(e.server) {
						return fmt.Errorf("context %s is %s, not %s: choose another --context name", name, c.Server, normServer(e.server))
					}
				}
				if name == "" {
					if c := cfg.byServer(server); c != nil {
						name = c.Name
					} else {
						name = contextName(server)
						for i := 2; cfg.find(name) != nil; i++ {
							name = fmt.Sprintf("%s-%d", contextName(server), i)
						}
					}
				}
				in := bufio.NewReader(e.stdin)
				if *user == "" {
					prompt(e, "User: ")
					line, err := readLine(in)
					if err != nil {
						return fmt.Errorf("read user name: %w", err)
					}
					*user = strings.TrimSpace(line)
				}
				password, err := readPassword(e, in, "Password: ")
				if err != nil {
					return err
				}
				c := apiclient.New(server, "")
				s, err := c.Login(e.ctx, *user, password)
				if err != nil {
					return fmt.Errorf("login at %s: %w", server, err)
				}
				ctx := cfg.find(name)
				if ctx == nil {
					cfg.Contexts = append(cfg.Contexts, ctlContext{Name: name})
					ctx = &cfg.Contexts[len(cfg.Contexts)-1]
				}
				ctx.Server, ctx.User, ctx.Token, ctx.Expires = server, s.User, s.Token, s.Expires
				cfg.Current = name
				path, err := saveConfig(cfg)
				if err != nil {
					return err
				}
				if e.json() {
					return e.printJSON(map[string]any{"server": server, "context": name, "user": s.User, "role": s.Role,
						"expires": s.Expires, "config_file": path})
				}
				e.printf("Logged in to %s as %s (%s) until %s.\nSaved as context %s, now the current one (%s).\n", server, s.User, s.Role,
					localTime(s.Expires), name, path)
				return nil
			}
		}}
}

func logoutCommand() *command {
	return &command{name: "logout", summary: "end the session and forget its token (the context keeps the server)", nargs: 0,
		setup: func(fs *flag.FlagSet) runFunc {
			return func(e *env, _ []string) error {
				server, token, err := e.target()
				if err != nil {
					return err
				}
				if token != "" {
					err := apiclient.New(server, token).Logout(e.ctx)
					if err != nil && !apiclient.IsStatus(err, 401) {
						return err
					}
				}
				cfg, _, err := loadConfig()
				if err != nil {
					return err
				}
				changed := false
				for i := range cfg.Contexts {
					if c := &cfg.Contexts[i]; c.Server == server && c.Token != "" && (token == "" || c.Token == token) {
						c.Token, c.Expires, changed = "", time.Time{}, true
					}
				}
				if changed {
					if _, err := saveConfig(cfg); err != nil {
						return err
					}
				}
				if !e.json() {
					e.printf("Logged out of %s.\n", server)
				}
				return nil
			}
		}}
}

// prompt asks on the terminal; a script piping its answers sees no prompt.
func prompt(e *env, s string) {
	if isTerminal(e.stdin) {
		fmt.Fprint(e.stderr, s)
	}
}

// readLine reads one line without its line ending.
func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			return "", errors.New("standard input ended")
		}
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// readPassword reads a password: from the terminal without echo, or one
// line of standard input when it is not a terminal (a script's pipe).
func readPassword(e *env, r *bufio.Reader, ask string) (string, error) {
	if f, ok := e.stdin.(*os.File); ok && isTerminal(f) {
		fmt.Fprint(e.stderr, ask)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		return string(b), nil
	}
	line, err := readLine(r)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	return line, nil
}

// newPassword asks for a new password twice on a terminal; from a pipe it
// is one line.
func newPassword(e *env, r *bufio.Reader, whose string) (string, error) {
	pw, err := readPassword(e, r, cmp.Or(whose, "New password")+" (at least 10 characters): ")
	if err != nil {
		return "", err
	}
	if f, ok := e.stdin.(*os.File); ok && isTerminal(f) {
		again, err := readPassword(e, r, "Again: ")
		if err != nil {
			return "", err
		}
		if again != pw {
			return "", errors.New("the two passwords differ; nothing was changed")
		}
	}
	return pw, nil
}

// localTime formats t for people, in the local zone.
func localTime(t time.Time) string { return t.Local().Format("2006-01-02 15:04") }
