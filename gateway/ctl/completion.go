package ctl

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// Shell completion is generated from the command table: command words,
// each command's flags, the values of flags that take a fixed set
// (--kind, --level…), and ids fetched live from the gateway through the
// hidden `anxinctl __ids devices|sites|residents` (quiet when not logged in).

// flagValues lists what a flag's value may be: words, or @sites,
// @residents, @files; a value flag not listed completes nothing.
var flagValues = map[string]string{
	"kind":          "call_button pull_cord smoke_detector gas_detector safety_band bed_sensor edge_box",
	"level":         "region county township village community home institution room bed",
	"format":        "native zigbee2mqtt vendor_json:",
	"supervision":   "native zigbee_battery zigbee_mains",
	"sex":           "female male",
	"language":      "zh-CN ug en",
	"o":             "json",
	"group-by":      "county township village home",
	"site":          "@sites",
	"parent":        "@sites",
	"home":          "@sites",
	"resident":      "@residents",
	"edge":          "@devices",
	"passwords-out": "@files",
}

// positional says what each positional argument of a leaf completes to.
var positional = map[string][]string{
	"site tree":      {"@sites"},
	"site rm":        {"@sites"},
	"resident show":  {"@residents"},
	"resident rm":    {"@residents"},
	"device show":    {"@devices"},
	"device rm":      {"@devices"},
	"device replace": {"@devices"},
	"device watch":   {"@devices"},
	"device test":    {"on off", "@devices"},
	"device import":  {"@files"},
	"completion":     {"bash zsh"},
}

func completionCommand() *command {
	return &command{name: "completion", args: "bash|zsh", nargs: 1, summary: "print a shell completion script",
		help: `  source <(anxinctl completion bash)     # in ~/.bashrc
  source <(anxinctl completion zsh)      # in ~/.zshrc, after compinit`,
		setup: func(fs *flag.FlagSet) runFunc {
			return func(e *env, args []string) error {
				switch args[0] {
				case "bash":
					writeBashCompletion(e.stdout, rootCommand())
				case "zsh":
					writeZshCompletion(e.stdout, rootCommand())
				default:
					return usageErr("%q: want bash or zsh", args[0])
				}
				return nil
			}
		}}
}

// leaf is one command for the completion scripts.
type leaf struct {
	path       string
	flags      []string // "--kind", "-o"
	valueFlags []string // flags that take a value
	subs       []string // command words below a group
}

func leaves(c *command, path []string, out *[]leaf) {
	p := strings.Join(path, " ")
	if len(c.subs) > 0 {
		l := leaf{path: p}
		for _, s := range c.subs {
			if !s.hidden {
				l.subs = append(l.subs, s.name)
			}
		}
		if len(path) == 0 {
			l.subs = append(l.subs, "help")
		}
		*out = append(*out, l)
		for _, s := range c.subs {
			leaves(s, append(path, s.name), out)
		}
		return
	}
	fs := newFlagSet(c, path, &env{})
	c.setup(fs)
	l := leaf{path: p}
	fs.VisitAll(func(f *flag.Flag) {
		name := "--" + f.Name
		if len(f.Name) == 1 {
			name = "-" + f.Name
		}
		l.flags = append(l.flags, name)
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !b.IsBoolFlag() {
			l.valueFlags = append(l.valueFlags, name)
		}
	})
	*out = append(*out, l)
}

func allValueFlags(ls []leaf) []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range ls {
		for _, f := range l.valueFlags {
			if !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	return out
}

func writeBashCompletion(w io.Writer, root *command) {
	var ls []leaf
	leaves(root, nil, &ls)
	vf := allValueFlags(ls)
	fmt.Fprintf(w, `# bash completion for anxinctl. Load it with
#   source <(anxinctl completion bash)
# or save it as /etc/bash_completion.d/anxinctl.
_anxinctl_ids() { anxinctl __ids "$1" 2>/dev/null; }
_anxinctl() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"
    local words=() i w skip=0 list="" n
    for ((i = 1; i < COMP_CWORD; i++)); do
        w="${COMP_WORDS[i]}"
        if ((skip)); then skip=0; continue; fi
        case "$w" in
            %s) skip=1 ;;
            -*) ;;
            *) words+=("$w") ;;
        esac
    done
    local cmd="${words[*]}"
    case "$prev" in
`, strings.Join(vf, "|"))
	for _, f := range vf {
		fmt.Fprintf(w, "        %s) %s ;;\n", f, bashValues(flagValues[strings.TrimLeft(f, "-")], true))
	}
	fmt.Fprint(w, "    esac\n    case \"$cmd\" in\n")
	for i := len(ls) - 1; i >= 0; i-- { // leaves before their groups
		l := ls[i]
		if l.subs != nil {
			fmt.Fprintf(w, "        %q) list=%q ;;\n", l.path, strings.Join(l.subs, " "))
			continue
		}
		fmt.Fprintf(w, "        %q|%q*)\n", l.path, l.path+" ")
		fmt.Fprintf(w, "            if [[ \"$cur\" == -* ]]; then list=%q\n", strings.Join(l.flags, " "))
		fmt.Fprintf(w, "            else\n                n=$(( ${#words[@]} - %d ))\n                case $n in\n", len(strings.Fields(l.path)))
		for j, v := range positional[l.path] {
			fmt.Fprintf(w, "                    %d) %s ;;\n", j, bashValues(v, false))
		}
		fmt.Fprint(w, "                esac\n            fi ;;\n")
	}
	fmt.Fprint(w, `    esac
    COMPREPLY=($(compgen -W "$list" -- "$cur"))
}
complete -F _anxinctl anxinctl
`)
}

// bashValues is the bash code that completes a value spec; inFlag means a
// flag's value, where an unknown spec completes nothing.
func bashValues(spec string, inFlag bool) string {
	switch spec {
	case "@files":
		return `COMPREPLY=($(compgen -f -- "$cur")); return`
	case "@devices", "@sites", "@residents":
		return fmt.Sprintf(`list="$(_anxinctl_ids %s)"`, spec[1:])
	case "":
		if inFlag {
			return "COMPREPLY=(); return"
		}
		return `list=""`
	}
	if inFlag {
		return fmt.Sprintf(`COMPREPLY=($(compgen -W %q -- "$cur")); return`, spec)
	}
	return fmt.Sprintf("list=%q", spec)
}

func writeZshCompletion(w io.Writer, root *command) {
	var ls []leaf
	leaves(root, nil, &ls)
	vf := allValueFlags(ls)
	fmt.Fprintf(w, `#compdef anxinctl
# zsh completion for anxinctl. Load it with
#   source <(anxinctl completion zsh)
# after compinit, or save it as _anxinctl in a directory of your $fpath.
_anxinctl_ids() { anxinctl __ids "$1" 2>/dev/null; }
_anxinctl() {
  local -a w list
  local i skip=0 n
  for ((i = 2; i < CURRENT; i++)); do
    if ((skip)); then skip=0; continue; fi
    case "${words[i]}" in
      %s) skip=1 ;;
      -*) ;;
      *) w+=("${words[i]}") ;;
    esac
  done
  local cmd="${w[*]}" cur="${words[CURRENT]}" prev="${words[CURRENT-1]}"
  case "$prev" in
`, strings.Join(vf, "|"))
	for _, f := range vf {
		fmt.Fprintf(w, "    %s) %s ;;\n", f, zshValues(flagValues[strings.TrimLeft(f, "-")], true))
	}
	fmt.Fprint(w, "  esac\n  case \"$cmd\" in\n")
	for i := len(ls) - 1; i >= 0; i-- {
		l := ls[i]
		if l.subs != nil {
			fmt.Fprintf(w, "    %q) list=(%s) ;;\n", l.path, strings.Join(l.subs, " "))
			continue
		}
		fmt.Fprintf(w, "    %q|%q*)\n", l.path, l.path+" ")
		fmt.Fprintf(w, "      if [[ \"$cur\" == -* ]]; then list=(%s)\n", strings.Join(l.flags, " "))
		fmt.Fprintf(w, "      else\n        n=$(( ${#w} - %d ))\n        case $n in\n", len(strings.Fields(l.path)))
		for j, v := range positional[l.path] {
			fmt.Fprintf(w, "          %d) %s ;;\n", j, zshValues(v, false))
		}
		fmt.Fprint(w, "        esac\n      fi ;;\n")
	}
	fmt.Fprint(w, `  esac
  compadd -- "${list[@]}"
}
if [[ "${funcstack[1]}" == _anxinctl ]]; then
  _anxinctl "$@"
else
  compdef _anxinctl anxinctl
fi
`)
}

func zshValues(spec string, inFlag bool) string {
	switch spec {
	case "@files":
		return "_files; return"
	case "@devices", "@sites", "@residents":
		return fmt.Sprintf(`list=(${(f)"$(_anxinctl_ids %s)"})`, spec[1:])
	case "":
		if inFlag {
			return "return"
		}
		return "list=()"
	}
	if inFlag {
		return fmt.Sprintf("compadd -- %s; return", spec)
	}
	return fmt.Sprintf("list=(%s)", spec)
}
