package ctl

import (
	"bufio"
	"flag"
	"strings"

	"github.com/anxin-care/anxin/gateway/apiclient"
)

// The people who log in: admins add, list, disable and remove them and
// reset their passwords; anyone changes their own. A password is read from
// the terminal without echo (twice, to catch a typo), or as one line of
// standard input when that is a pipe, for scripts.

func userCommand() *command {
	return &command{name: "user", summary: "the people who log in: add, list, disable, remove, passwords",
		subs: []*command{userAdd(), userList(), userPasswd(), userDisable(), userEnable(), userRemove()}}
}

func userAdd() *command {
	return &command{name: "add", args: "NAME --role ROLE", nargs: 1, summary: "add a person; the password is asked for",
		help: `ROLE is admin (everything), operator (alarms) or installer (sites, residents,
devices). The password (at least 10 characters) is asked for without echo,
or read as one line from standard input when it is not a terminal:

  printf '%s\n' "$PW" | anxinctl user add li-gong --role installer`,
		setup: func(fs *flag.FlagSet) runFunc {
			var u apiclient.NewUser
			var sites string
			fs.StringVar(&u.Role, "role", "", "`ROLE`: admin, operator or installer")
			fs.StringVar(&u.DisplayName, "display-name", "", "how messages name them, e.g. 张伟")
			fs.StringVar(&u.Phone, "phone", "", "their `PHONE`, @-mentioned by group robots")
			fs.StringVar(&sites, "sites", "", "the `SITES` where they go on duty, comma-separated (operators and admins)")
			fs.BoolVar(&u.Supervisor, "supervisor", false, "escalation's \"supervisor\" target")
			return func(e *env, args []string) error {
				if u.Role == "" {
					return usageErr("--role is required: admin, operator or installer")
				}
				u.Name, u.Sites = args[0], splitList(sites)
				c, err := e.client()
				if err != nil {
					return err
				}
				if u.Password, err = newPassword(e, bufio.NewReader(e.stdin), "Password for "+u.Name); err != nil {
					return err
				}
				got, err := c.AddUser(e.ctx, u)
				if err != nil {
					return err
				}
				if e.json() {
					return e.printJSON(got)
				}
				e.printf("Added %s %s.\n", got.Role, got.Name)
				return nil
			}
		}}
}

func userList() *command {
	return &command{name: "ls", nargs: 0, summary: "list the people who log in",
		setup: func(fs *flag.FlagSet) runFunc {
			return func(e *env, _ []string) error {
				c, err := e.client()
				if err != nil {
					return err
				}
				users, err := c.Users(e.ctx)
				if err != nil {
					return err
				}
				if e.json() {
					return e.printJSON(users)
				}
				header := []string{"NAME", "ROLE", "STATE", "DISPLAY NAME", "SITES"}
				if e.wide() {
					header = append(header, "PHONE", "SUPERVISOR", "CREATED")
				}
				rows := make([][]string, len(users))
				for i, u := range users {
					state := "enabled"
					if u.Disabled {
						state = "disabled"
					}
					rows[i] = []string{u.Name, u.Role, state, dash(u.DisplayName), dash(strings.Join(u.Sites, ", "))}
					if e.wide() {
						rows[i] = append(rows[i], dash(u.Phone), yesNo(u.Supervisor), localTime(u.Created))
					}
				}
				e.table(header, rows, fit{free: []int{3, 4}})
				return nil
			}
		}}
}

func userPasswd() *command {
	return &command{name: "passwd", args: "[NAME]", nargs: -1, summary: "change your password, or reset NAME's (admins)",
		help: `Without NAME, changes your own password: asks for the current one, then the new
one twice; your other sessions end. With NAME, an admin sets that person's
password; all of their sessions end. From a pipe, the lines are the current
password (own only) and the new one.`,
		setup: func(fs *flag.FlagSet) runFunc {
			return func(e *env, args []string) error {
				if len(args) > 1 {
					return usageErr("at most one user NAME")
				}
				c, err := e.client()
				if err != nil {
					return err
				}
				in := bufio.NewReader(e.stdin)
				if len(args) == 1 {
					pw, err := newPassword(e, in, "New password for "+args[0])
					if err != nil {
						return err
					}
					if err := c.ResetPassword(e.ctx, args[0], pw); err != nil {
						return err
					}
					if !e.json() {
						e.printf("Password of %s set; their sessions have ended.\n", args[0])
					}
					return nil
				}
				cur, err := readPassword(e, in, "Current password: ")
				if err != nil {
					return err
				}
				pw, err := newPassword(e, in, "")
				if err != nil {
					return err
				}
				if err := c.ChangePassword(e.ctx, cur, pw); err != nil {
					return err
				}
				if !e.json() {
					e.printf("Password changed; your other sessions have ended.\n")
				}
				return nil
			}
		}}
}

func userDisable() *command {
	return &command{name: "disable", args: "NAME", nargs: 1, summary: "stop a person logging in; their sessions end at once",
		setup: func(fs *flag.FlagSet) runFunc { return setDisabled(true) }}
}

func userEnable() *command {
	return &command{name: "enable", args: "NAME", nargs: 1, summary: "let a disabled person log in again",
		setup: func(fs *flag.FlagSet) runFunc { return setDisabled(false) }}
}

func setDisabled(disabled bool) runFunc {
	return func(e *env, args []string) error {
		c, err := e.client()
		if err != nil {
			return err
		}
		u, err := c.SetUserDisabled(e.ctx, args[0], disabled)
		if err != nil {
			return err
		}
		if e.json() {
			return e.printJSON(u)
		}
		if disabled {
			e.printf("Disabled %s: they cannot log in, and their sessions have ended.\n", u.Name)
		} else {
			e.printf("Enabled %s: they may log in again.\n", u.Name)
		}
		return nil
	}
}

func userRemove() *command {
	return &command{name: "rm", args: "NAME", nargs: 1, summary: "remove a person; their sessions end (the audit trail keeps their name)",
		setup: func(fs *flag.FlagSet) runFunc {
			return func(e *env, args []string) error {
				c, err := e.client()
				if err != nil {
					return err
				}
				if err := c.RemoveUser(e.ctx, args[0]); err != nil {
					return err
				}
				if !e.json() {
					e.printf("Removed user %s.\n", args[0])
				}
				return nil
			}
		}}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
