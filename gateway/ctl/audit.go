package ctl

import (
	"flag"

	"github.com/anxin-care/anxin/gateway/apiclient"
)

func auditCommand() *command {
	return &command{name: "audit", args: "[--object KIND:ID] [--limit N]", nargs: 0,
		summary: "show who changed what in the registry, newest first",
		help: `OBJECT is device:ID, site:ID, resident:ID or user:NAME. With -o json each entry
carries the object before and after the change.`,
		setup: func(fs *flag.FlagSet) runFunc {
			object := fs.String("object", "", "only changes to this `OBJECT`, e.g. device:btn-1")
			limit := fs.Int("limit", 50, "at most `N` entries")
			return func(e *env, _ []string) error {
				c, err := e.client()
				if err != nil {
					return err
				}
				entries, err := c.Audit(e.ctx, *object, *limit)
				if err != nil {
					return err
				}
				if e.json() {
					return e.printJSON(entries)
				}
				rows := make([][]string, len(entries))
				for i, a := range entries {
					rows[i] = []string{a.At.Local().Format("2006-01-02 15:04:05"), a.Who, a.Action, a.Object, a.Note}
				}
				e.table([]string{"WHEN", "WHO", "ACTION", "OBJECT", "NOTE"}, rows, fit{free: []int{4, 3}})
				return nil
			}
		}}
}

// idsCommand prints ids one per line for the completion scripts; it is
// quiet on any error (not logged in, gateway down), so completion is too.
func idsCommand() *command {
	return &command{name: "__ids", args: "devices|sites|residents", nargs: 1, hidden: true,
		summary: "list ids for shell completion",
		setup: func(fs *flag.FlagSet) runFunc {
			return func(e *env, args []string) error {
				c, err := e.client()
				if err != nil {
					return nil
				}
				var ids []string
				switch args[0] {
				case "devices":
					list, _ := c.Devices(e.ctx, apiclient.DeviceFilter{})
					for _, d := range list {
						ids = append(ids, d.ID)
					}
				case "sites":
					list, _ := c.Sites(e.ctx, "")
					for _, s := range list {
						ids = append(ids, s.ID)
					}
				case "residents":
					list, _ := c.Residents(e.ctx, "")
					for _, r := range list {
						ids = append(ids, r.ID)
					}
				}
				for _, id := range ids {
					e.printf("%s\n", id)
				}
				return nil
			}
		}}
}
