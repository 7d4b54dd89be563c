package ctl

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/anxin-care/anxin/gateway/apiclient"
)

// tokenPath is where `anxinctl login` keeps the token:
// $XDG_CONFIG_HOME/anxin/token, or ~/.config/anxin/token.
func tokenPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no config directory for the token: %w", err)
	}
	return filepath.Join(dir, "anxin", "token"), nil
}

// saveToken writes the token readable by its owner only.
func saveToken(token string) (string, error) {
	path, err := tokenPath()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("save token: %w", err)
	}
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("save token: %w", err)
	}
	// WriteFile keeps the mode of a file that already existed.
	if err := os.Chmod(path, 0o600); err != nil {
		return "", fmt.Errorf("save token: %w", err)
	}
	return path, nil
}

func loginCommand() *command {
	return &command{name: "login", summary: "log in and save the token for the next commands", nargs: 0,
		help: `Asks for the user name and the password. The password is read from standard
input without echo on a terminal, or as one line when standard input is not a
terminal (printf '%s\n' admin "$PW" | anxinctl login). The token is saved in
~/.config/anxin/token (mode 0600); --token or $ANXIN_TOKEN override it.`,
		setup: func(fs *flag.FlagSet) runFunc {
			user := fs.String("user", "", "user name (asked when not given)")
			return func(e *env, _ []string) error {
				in := bufio.NewReader(e.stdin)
				prompt := func(s string) {
					if isTerminal(e.stdin) {
						fmt.Fprint(e.stderr, s)
					}
				}
				if *user == "" {
					prompt("User: ")
					line, err := readLine(in)
					if err != nil {
						return fmt.Errorf("read user name: %w", err)
					}
					*user = line
				}
				prompt("Password: ")
				password, err := readPassword(e.stdin, in)
				if isTerminal(e.stdin) {
					fmt.Fprintln(e.stderr)
				}
				if err != nil {
					return fmt.Errorf("read password: %w", err)
				}
				c := apiclient.New(e.serverURL(), "")
				s, err := c.Login(e.ctx, *user, password)
				if err != nil {
					return fmt.Errorf("login at %s: %w", e.serverURL(), err)
				}
				path, err := saveToken(s.Token)
				if err != nil {
					return err
				}
				if e.json() {
					return e.printJSON(map[string]any{"server": e.serverURL(), "user": s.User, "role": s.Role,
						"expires": s.Expires, "token_file": path})
				}
				e.printf("Logged in to %s as %s (%s) until %s.\nToken saved in %s.\n", e.serverURL(), s.User, s.Role,
					localTime(s.Expires), path)
				return nil
			}
		}}
}

func logoutCommand() *command {
	return &command{name: "logout", summary: "end the session and forget the saved token", nargs: 0,
		setup: func(fs *flag.FlagSet) runFunc {
			return func(e *env, _ []string) error {
				c, err := e.client()
				if err != nil {
					return err
				}
				if err := c.Logout(e.ctx); err != nil && !apiclient.IsStatus(err, 401) {
					return err
				}
				if path, err := tokenPath(); err == nil {
					if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
						return err
					}
				}
				if !e.json() {
					e.printf("Logged out.\n")
				}
				return nil
			}
		}}
}

// readLine reads one line without its line ending.
func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// readPassword reads the password: with echo off when stdin is a
// terminal, else one line.
func readPassword(stdin io.Reader, r *bufio.Reader) (string, error) {
	if f, ok := stdin.(*os.File); ok && isTerminal(f) {
		restore, err := echoOff(f)
		if err == nil {
			defer restore()
		}
	}
	return readLine(r)
}

// localTime formats t for people, in the local zone.
func localTime(t time.Time) string { return t.Local().Format("2006-01-02 15:04") }
