package ctl

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// runFunc runs a command with its positional arguments.
type runFunc func(e *env, args []string) error

// command is one word of anxinctl's command tree: a group (subs) or a
// leaf (setup).
type command struct {
	name    string
	args    string // synopsis after the name, e.g. "ID --kind KIND"
	summary string // one line, lower case, no full stop
	help    string // more, shown by --help
	nargs   int    // positional arguments a leaf takes; -1 to let run check
	setup   func(fs *flag.FlagSet) runFunc
	subs    []*command
	hidden  bool     // not listed (used by the completion scripts)
	outputs []string // -o formats it knows besides json, e.g. csv
}

func (c *command) find(name string) *command {
	for _, s := range c.subs {
		if s.name == name {
			return s
		}
	}
	return nil
}

// names lists the sub-commands' names, hidden ones left out.
func (c *command) names() []string {
	var out []string
	for _, s := range c.subs {
		if !s.hidden {
			out = append(out, s.name)
		}
	}
	return out
}

func rootCommand() *command {
	return &command{name: "anxinctl", summary: "install and administer anxin over its HTTP API", subs: []*command{
		loginCommand(),
		logoutCommand(),
		configCommand(),
		userCommand(),
		{name: "site", summary: "the site tree: region › county › township › village › home or institution › room › bed",
			subs: []*command{siteAdd(), siteList(), siteTree(), siteRemove()}},
		{name: "resident", summary: "the elders who use the devices",
			subs: []*command{residentAdd(), residentList(), residentShow(), residentCare(), residentRemove(),
				{name: "plan", summary: "a resident's response plan (预案): what to do per alarm type",
					subs: []*command{residentPlanSet(), residentPlanShow()}}}},
		{name: "device", summary: "provision, list, replace, import, walk-test and watch devices",
			subs: []*command{deviceAdd(), deviceList(), deviceShow(), deviceRemove(), deviceReplace(),
				deviceImport(), deviceInstalled(), deviceTest(), deviceWatch()}},
		{name: "edge", summary: "the edge boxes: their uplink, queue and software",
			subs: []*command{edgeList()}},
		auditCommand(),
		reportCommand(),
		backupCommand(),
		completionCommand(),
		idsCommand(),
	}}
}

// printUsage writes the usage of cmd, reached by path.
func printUsage(w io.Writer, cmd *command, path []string) {
	full := strings.TrimSpace("anxinctl " + strings.Join(path, " "))
	if len(cmd.subs) > 0 {
		fmt.Fprintf(w, "Usage: %s <command> [flags]\n\n%s.\n\nCommands:\n", full, capitalise(cmd.summary))
		rows := [][]string{}
		for _, s := range cmd.subs {
			if !s.hidden {
				rows = append(rows, []string{"  " + s.name, s.args, s.summary})
			}
		}
		if len(path) == 0 {
			rows = append(rows, []string{"  help", "[COMMAND…]", "show the usage of a command"})
		}
		writeTable(w, nil, rows)
		fmt.Fprintf(w, "\nRun `%s <command> --help` for a command's flags.\n", full)
		if len(path) == 0 {
			fmt.Fprint(w, "\nGlobal flags, accepted by every command:\n")
			printFlags(w, newFlagSet(cmd, nil, &env{}))
		}
		return
	}
	fmt.Fprintf(w, "Usage: %s %s\n\n%s.\n", full, strings.TrimSpace(cmd.args+" [flags]"), capitalise(cmd.summary))
	if cmd.help != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimRight(cmd.help, "\n"))
	}
	own := flag.NewFlagSet(full, flag.ContinueOnError)
	cmd.setup(own)
	if hasFlags(own) {
		fmt.Fprint(w, "\nFlags:\n")
		printFlags(w, own)
	}
	fmt.Fprint(w, "\nGlobal flags:\n")
	printFlags(w, newFlagSet(cmd, nil, &env{}))
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

func printFlags(w io.Writer, fs *flag.FlagSet) {
	var rows [][]string
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		dash := "--"
		if len(f.Name) == 1 {
			dash = "-"
		}
		left := "  " + dash + f.Name
		if name != "" {
			left += " " + name
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "[]" && f.DefValue != "0" {
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		rows = append(rows, []string{left, usage})
	})
	writeTable(w, nil, rows)
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
