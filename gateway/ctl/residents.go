package ctl

import (
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/anxin-care/anxin/gateway/apiclient"
)

func residentAdd() *command {
	return &command{name: "add", args: "ID --name NAME --born YEAR --home SITE --contact NAME,PHONE,RELATION…", nargs: 1,
		summary: "register a resident",
		help: `A resident needs a name, a year of birth, where they live (a home, room or bed
site) and 1 to 5 emergency contacts; with fewer than 3 the record is marked
incomplete. Repeat --contact and --condition for more than one, or list them
in one value: contacts separated by ';', conditions by ','. Full-width
punctuation (，；、) and spaces are taken as their ASCII ones.

  anxinctl resident add r-0012 --name 王秀英 --born 1941 --sex female \
    --home qs-12-bedroom --condition 高血压 --contact 李明,13800001234,儿子`,
		setup: func(fs *flag.FlagSet) runFunc {
			var r apiclient.NewResident
			var contacts, conditions multiFlag
			fs.StringVar(&r.Name, "name", "", "the resident's `NAME`")
			fs.IntVar(&r.BirthYear, "born", 0, "`YEAR` of birth")
			fs.StringVar(&r.Sex, "sex", "", "`SEX`: female or male")
			fs.StringVar(&r.Language, "language", "", "language `TAG`: zh-CN, ug, en… (default zh-CN)")
			fs.StringVar(&r.Home, "home", "", "the home, room or bed `SITE` where they live")
			fs.Var(&contacts, "contact", "emergency contact `NAME,PHONE,RELATION` (repeat for more)")
			fs.Var(&conditions, "condition", "a health `CONDITION` operators should know (repeat for more)")
			return func(e *env, args []string) error {
				r.ID = args[0]
				for _, v := range conditions {
					r.Conditions = append(r.Conditions, splitList(v)...)
				}
				for _, v := range contacts {
					cs, err := splitContacts(v)
					if err != nil {
						return err
					}
					r.Contacts = append(r.Contacts, cs...)
				}
				c, err := e.client()
				if err != nil {
					return err
				}
				res, err := c.AddResident(e.ctx, r)
				if err != nil {
					return err
				}
				if e.json() {
					return e.printJSON(res)
				}
				e.printf("Added resident %s %s (born %d), living at %s.\n", res.ID, res.Name, res.BirthYear, res.HomePath)
				for _, w := range res.Warnings {
					e.printf("Warning: %s.\n", w)
				}
				return nil
			}
		}}
}

func residentList() *command {
	return &command{name: "ls", args: "[--home SITE]", nargs: 0, summary: "list residents",
		setup: func(fs *flag.FlagSet) runFunc {
			home := fs.String("home", "", "only those living at or under this `SITE`")
			return func(e *env, _ []string) error {
				c, err := e.client()
				if err != nil {
					return err
				}
				list, err := c.Residents(e.ctx, *home)
				if err != nil {
					return err
				}
				if e.json() {
					return e.printJSON(list)
				}
				rows := make([][]string, len(list))
				for i, r := range list {
					contacts := strconv.Itoa(len(r.Contacts))
					if r.Incomplete {
						contacts += " (incomplete)"
					}
					rows[i] = []string{r.ID, r.Name, strconv.Itoa(r.Age), dash(r.Sex), r.Language, contacts, r.HomePath}
					if e.wide() {
						rows[i] = append(rows[i], dash(strings.Join(r.Conditions, ", ")), careText(r))
					}
				}
				header := []string{"ID", "NAME", "AGE", "SEX", "LANGUAGE", "CONTACTS", "HOME"}
				if e.wide() {
					header = append(header, "CONDITIONS", "WELLBEING")
				}
				e.table(header, rows, fit{free: []int{6, 1}, optional: []int{4, 3}})
				return nil
			}
		}}
}

func residentShow() *command {
	return &command{name: "show", args: "ID", nargs: 1, summary: "show a resident, their contacts and devices",
		setup: func(fs *flag.FlagSet) runFunc {
			return func(e *env, args []string) error {
				c, err := e.client()
				if err != nil {
					return err
				}
				r, err := c.Resident(e.ctx, args[0])
				if err != nil {
					return err
				}
				devs, err := c.Devices(e.ctx, apiclient.DeviceFilter{Resident: r.ID})
				if err != nil {
					return err
				}
				if e.json() {
					return e.printJSON(map[string]any{"resident": r, "devices": devs})
				}
				writeTable(e.stdout, nil, [][]string{
					{"Resident", r.ID},
					{"Name", r.Name},
					{"Born", fmt.Sprintf("%d (age %d)", r.BirthYear, r.Age)},
					{"Sex", dash(r.Sex)},
					{"Language", r.Language},
					{"Conditions", dash(strings.Join(r.Conditions, ", "))},
					{"Home", fmt.Sprintf("%s (%s)", r.HomePath, r.Home)},
					{"Wellbeing", careText(r)},
				})
				for _, w := range r.Warnings {
					e.printf("Warning: %s.\n", w)
				}
				e.printf("\nEmergency contacts:\n")
				rows := make([][]string, len(r.Contacts))
				for i, ct := range r.Contacts {
					rows[i] = []string{"  " + ct.Name, ct.Relation, ct.Phone}
				}
				writeTable(e.stdout, nil, rows)
				e.printf("\nDevices:\n")
				if len(devs) == 0 {
					e.printf("  none\n")
				}
				rows = rows[:0]
				for _, d := range devs {
					rows = append(rows, []string{"  " + d.ID, d.Kind, d.SitePath})
				}
				writeTable(e.stdout, nil, rows)
				return nil
			}
		}}
}

func residentRemove() *command {
	return &command{name: "rm", args: "ID", nargs: 1, summary: "remove a resident no device refers to",
		setup: func(fs *flag.FlagSet) runFunc {
			return func(e *env, args []string) error {
				c, err := e.client()
				if err != nil {
					return err
				}
				if err := c.RemoveResident(e.ctx, args[0]); err != nil {
					return err
				}
				if !e.json() {
					e.printf("Removed resident %s.\n", args[0])
				}
				return nil
			}
		}}
}

func residentCare() *command {
	return &command{name: "care", args: "ID [--no-activity HOURS] [--window HH:MM-HH:MM] [--checkin-by HH:MM] [--away-until TIME|--back] [--off]", nargs: 1,
		summary: "set a resident's wellbeing rules (主动关爱) or mark them away",
		help: `Rules given replace the resident's rules; --off removes them. A rule raises a P2
alarm about the resident's home: no sign of life from their devices for HOURS
inside the daily window (default 07:00-22:00 in Asia/Shanghai), or no check-in
press by HH:MM. While away (until TIME, RFC 3339) nothing fires.

  anxinctl resident care r-0012 --no-activity 6 --checkin-by 09:30
  anxinctl resident care r-0012 --away-until 2026-12-05T18:00:00+08:00`,
		setup: func(fs *flag.FlagSet) runFunc {
			var w apiclient.Wellbeing
			var window, away string
			fs.Float64Var(&w.NoActivityHours, "no-activity", 0, "`HOURS` without a sign of life inside the window that raise an alarm")
			fs.StringVar(&window, "window", "", "the daily `WINDOW` HH:MM-HH:MM in which silence counts (default 07:00-22:00)")
			fs.StringVar(&w.CheckinBy, "checkin-by", "", "a daily check-in press expected by `HH:MM`")
			fs.BoolVar(&w.CheckinShortPress, "checkin-short-press", false, "a short press (under 1 s) on the resident's call button is the check-in, not a call; longer presses still call")
			fs.StringVar(&w.TimeZone, "tz", "", "time `ZONE` of the window and check-in (default Asia/Shanghai)")
			fs.StringVar(&away, "away-until", "", "mark the resident away until `TIME` (RFC 3339)")
			back := fs.Bool("back", false, "the resident is back: clear away")
			off := fs.Bool("off", false, "remove the resident's rules")
			return func(e *env, args []string) error {
				patch := map[string]any{}
				rules := false
				fs.Visit(func(f *flag.Flag) {
					switch f.Name {
					case "no-activity", "window", "checkin-by", "checkin-short-press", "tz":
						rules = true
					}
				})
				if window != "" {
					start, end, ok := strings.Cut(window, "-")
					if !ok {
						return usageErr("--window %q: want HH:MM-HH:MM", window)
					}
					w.WindowStart, w.WindowEnd = start, end
				}
				switch {
				case *off && rules:
					return usageErr("--off removes the rules: give no rule with it")
				case *off:
					patch["wellbeing"] = map[string]any{}
				case rules:
					patch["wellbeing"] = w
				}
				switch {
				case *back && away != "":
					return usageErr("give --away-until or --back, not both")
				case *back:
					patch["away_until"] = ""
				case away != "":
					patch["away_until"] = away
				}
				if len(patch) == 0 {
					return usageErr("nothing to change: give a rule, --off, --away-until or --back")
				}
				c, err := e.client()
				if err != nil {
					return err
				}
				r, err := c.PatchResident(e.ctx, args[0], patch)
				if err != nil {
					return err
				}
				if e.json() {
					return e.printJSON(r)
				}
				e.printf("Resident %s %s: %s.\n", r.ID, r.Name, careText(r))
				return nil
			}
		}}
}

// careText says what a resident's wellbeing rules are.
func careText(r apiclient.Resident) string {
	var parts []string
	if w := r.Wellbeing; w != nil {
		if w.NoActivityHours > 0 {
			parts = append(parts, fmt.Sprintf("alarm after %gh without activity within %s-%s", w.NoActivityHours, w.WindowStart, w.WindowEnd))
		}
		if w.CheckinBy != "" {
			s := "check-in expected by " + w.CheckinBy
			if w.CheckinShortPress {
				s += " (a short call press counts)"
			}
			parts = append(parts, s)
		}
		if len(parts) > 0 {
			parts[len(parts)-1] += " (" + w.TimeZone + ")"
		}
	}
	if !r.AwayUntil.IsZero() {
		parts = append(parts, "away until "+localTime(r.AwayUntil))
	}
	if len(parts) == 0 {
		return "no rules"
	}
	return strings.Join(parts, "; ")
}
