package ctl

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// A context is one gateway anxinctl has logged in to, as in kubectl: its
// server, the user and the token. An installer who serves several gateways
// logs in to each once and switches with `config use-context`, or picks one
// for a single command with --context. They are kept in one file, readable
// by its owner only: $XDG_CONFIG_HOME/anxin/anxinctl.json, or
// ~/.config/anxin/anxinctl.json.
type ctlContext struct {
	Name    string    `json:"name"`
	Server  string    `json:"server"`
	User    string    `json:"user,omitempty"`
	Token   string    `json:"token,omitempty"`
	Expires time.Time `json:"expires,omitzero"`
}

type ctlConfig struct {
	Current  string       `json:"current_context,omitempty"`
	Contexts []ctlContext `json:"contexts"`
}

func (c *ctlConfig) find(name string) *ctlContext {
	i := slices.IndexFunc(c.Contexts, func(x ctlContext) bool { return x.Name == name })
	if i < 0 {
		return nil
	}
	return &c.Contexts[i]
}

func (c *ctlConfig) byServer(server string) *ctlContext {
	i := slices.IndexFunc(c.Contexts, func(x ctlContext) bool { return x.Server == server })
	if i < 0 {
		return nil
	}
	return &c.Contexts[i]
}

func (c *ctlConfig) names() []string {
	var out []string
	for _, x := range c.Contexts {
		out = append(out, x.Name)
	}
	return out
}

// configPath is where the contexts are kept.
func configPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no config directory for anxinctl's contexts: %w", err)
	}
	return filepath.Join(dir, "anxin", "anxinctl.json"), nil
}

// loadConfig reads the contexts; a missing file is no context yet.
func loadConfig() (*ctlConfig, string, error) {
	path, err := configPath()
	if err != nil {
		return nil, "", err
	}
	cfg := &ctlConfig{}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return cfg, path, nil
	case err != nil:
		return nil, path, fmt.Errorf("read contexts: %w", err)
	}
	if err := json.Unmarshal(data, cfg); err != nil {
		return nil, path, fmt.Errorf("%s is not anxinctl's contexts file: %w (remove it and log in again)", path, err)
	}
	return cfg, path, nil
}

// saveConfig writes the contexts readable by their owner only: they hold tokens.
func saveConfig(cfg *ctlConfig) (string, error) {
	path, err := configPath()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("save contexts: %w", err)
	}
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return "", err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return "", fmt.Errorf("save contexts: %w", err)
	}
	// WriteFile keeps the mode of a file that already existed.
	if err := os.Chmod(tmp, 0o600); err != nil {
		return "", fmt.Errorf("save contexts: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("save contexts: %w", err)
	}
	return path, nil
}

// contextName is the name a login to server gets without --context: its
// host, with the port unless it is 8080, anxin's default.
func contextName(server string) string {
	u, err := url.Parse(server)
	if err != nil || u.Host == "" {
		return server
	}
	if u.Port() == "8080" {
		return u.Hostname()
	}
	return u.Host
}

// normServer writes a server as anxinctl compares them: with a scheme,
// without a trailing slash.
func normServer(s string) string {
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	return strings.TrimRight(s, "/")
}

func configCommand() *command {
	return &command{name: "config", summary: "the gateways logged in to (contexts), as kubectl's",
		subs: []*command{
			{name: "get-contexts", nargs: 0, summary: "list the contexts; * marks the current one",
				setup: func(fs *flag.FlagSet) runFunc {
					return func(e *env, _ []string) error {
						cfg, _, err := loadConfig()
						if err != nil {
							return err
						}
						if e.structured() {
							view := make([]map[string]any, len(cfg.Contexts))
							for i, c := range cfg.Contexts {
								view[i] = map[string]any{"name": c.Name, "server": c.Server, "user": c.User,
									"current": c.Name == cfg.Current, "logged_in": c.Token != "", "expires": c.Expires}
							}
							return e.printStructured(view)
						}
						if len(cfg.Contexts) == 0 {
							e.printf("No contexts yet: `anxinctl --server URL login` makes one.\n")
							return nil
						}
						rows := make([][]string, len(cfg.Contexts))
						for i, c := range cfg.Contexts {
							cur, session := "", "logged out"
							if c.Name == cfg.Current {
								cur = "*"
							}
							if c.Token != "" {
								session = "until " + localTime(c.Expires)
							}
							rows[i] = []string{cur, c.Name, c.Server, dash(c.User), session}
						}
						e.table([]string{"CURRENT", "NAME", "SERVER", "USER", "SESSION"}, rows, fit{free: []int{2, 1}})
						return nil
					}
				}},
			{name: "current-context", nargs: 0, summary: "print the current context's name",
				setup: func(fs *flag.FlagSet) runFunc {
					return func(e *env, _ []string) error {
						cfg, _, err := loadConfig()
						if err != nil {
							return err
						}
						if cfg.Current == "" {
							return errors.New("no current context: log in with `anxinctl --server URL login`")
						}
						e.printf("%s\n", cfg.Current)
						return nil
					}
				}},
			{name: "use-context", args: "NAME", nargs: 1, summary: "make NAME the current context",
				setup: func(fs *flag.FlagSet) runFunc {
					return func(e *env, args []string) error {
						cfg, _, err := loadConfig()
						if err != nil {
							return err
						}
						c := cfg.find(args[0])
						if c == nil {
							return unknownContext(cfg, args[0])
						}
						cfg.Current = c.Name
						if _, err := saveConfig(cfg); err != nil {
							return err
						}
						e.printf("Switched to context %s (%s).\n", c.Name, c.Server)
						return nil
					}
				}},
			{name: "delete-context", args: "NAME", nargs: 1, summary: "forget a context and its token",
				setup: func(fs *flag.FlagSet) runFunc {
					return func(e *env, args []string) error {
						cfg, _, err := loadConfig()
						if err != nil {
							return err
						}
						if cfg.find(args[0]) == nil {
							return unknownContext(cfg, args[0])
						}
						cfg.Contexts = slices.DeleteFunc(cfg.Contexts, func(c ctlContext) bool { return c.Name == args[0] })
						if cfg.Current == args[0] {
							cfg.Current = ""
						}
						if _, err := saveConfig(cfg); err != nil {
							return err
						}
						e.printf("Deleted context %s.\n", args[0])
						return nil
					}
				}},
		}}
}

func unknownContext(cfg *ctlConfig, name string) error {
	msg := fmt.Sprintf("no context %q", name)
	if s := suggest(name, cfg.names()); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	} else if len(cfg.Contexts) > 0 {
		msg += "; contexts: " + strings.Join(cfg.names(), ", ")
	}
	return errors.New(msg)
}
