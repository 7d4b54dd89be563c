package ctl

import (
	"flag"
	"fmt"
	"io"

	"github.com/anxin-care/anxin/gateway/apiclient"
)

const siteLevelsHelp = "region, county, township, village, community, home, institution, room or bed"

func siteAdd() *command {
	return &command{name: "add", args: "ID --name NAME --level LEVEL [--parent ID]", nargs: 1,
		summary: "add a site to the tree",
		help: `ID is a short slug (lower-case letters, digits, '-' and '_'), e.g. qs-village.
A site goes under a parent of the level above it: a county under a region, a
township under a county, a village or community under a township, a home under
a village or community, an institution under a county, township, village or
community, a room under a home or institution, a bed under a room. Only a
region has no parent.

  anxinctl site add qs-village --name 青山村 --level village --parent qs-town`,
		setup: func(fs *flag.FlagSet) runFunc {
			var s apiclient.NewSite
			fs.StringVar(&s.Name, "name", "", "the site's `NAME`, e.g. 青山村")
			fs.StringVar(&s.Level, "level", "", "`LEVEL`: "+siteLevelsHelp)
			fs.StringVar(&s.Parent, "parent", "", "the parent site's `ID`")
			fs.StringVar(&s.TimeZone, "tz", "", "IANA time `ZONE`, e.g. Asia/Urumqi (default: the parent's)")
			fs.StringVar(&s.Address, "address", "", "postal `ADDRESS`")
			return func(e *env, args []string) error {
				c, err := e.client()
				if err != nil {
					return err
				}
				s.ID = args[0]
				site, err := c.AddSite(e.ctx, s)
				if err != nil {
					return err
				}
				if e.json() {
					return e.printJSON(site)
				}
				e.printf("Added %s %s (%s): %s\n", site.Level, site.ID, site.Name, site.Path)
				return nil
			}
		}}
}

func siteList() *command {
	return &command{name: "ls", args: "[--parent ID]", nargs: 0, summary: "list sites",
		setup: func(fs *flag.FlagSet) runFunc {
			parent := fs.String("parent", "", "only the children of this site `ID`")
			return func(e *env, _ []string) error {
				c, err := e.client()
				if err != nil {
					return err
				}
				sites, err := c.Sites(e.ctx, *parent)
				if err != nil {
					return err
				}
				if e.json() {
					return e.printJSON(sites)
				}
				rows := make([][]string, len(sites))
				for i, s := range sites {
					rows[i] = []string{s.ID, s.Level, s.Name, s.Path}
				}
				e.table([]string{"ID", "LEVEL", "NAME", "PATH"}, rows, fit{free: []int{3, 2}})
				return nil
			}
		}}
}

func siteTree() *command {
	return &command{name: "tree", args: "[ID]", nargs: -1, summary: "show the site tree with device counts",
		help: "Without ID, every tree from its region down. The count is of devices in service\nat the site and below it.",
		setup: func(fs *flag.FlagSet) runFunc {
			return func(e *env, args []string) error {
				if len(args) > 1 {
					return usageErr("at most one site ID")
				}
				c, err := e.client()
				if err != nil {
					return err
				}
				root := ""
				if len(args) == 1 {
					root = args[0]
				}
				tree, err := c.Tree(e.ctx, root)
				if err != nil {
					return err
				}
				if e.json() {
					return e.printJSON(tree)
				}
				if len(tree) == 0 {
					e.printf("No sites yet: start with `anxinctl site add ID --name NAME --level region`.\n")
				}
				for _, n := range tree {
					printTree(e.stdout, n, "", "")
				}
				return nil
			}
		}}
}

// printTree draws a node and its children with box-drawing lines:
//
//	青山村 [qs-village] village · 2 devices
//	└── 12号 [qs-12] home · 2 devices
//	    ├── 卧室 [qs-12-bedroom] room · 1 device
func printTree(w io.Writer, n *apiclient.SiteNode, first, rest string) {
	fmt.Fprintf(w, "%s%s [%s] %s · %s\n", first, n.Name, n.ID, n.Level, plural(n.Devices, "device"))
	for i, c := range n.Children {
		if i == len(n.Children)-1 {
			printTree(w, c, rest+"└── ", rest+"    ")
		} else {
			printTree(w, c, rest+"├── ", rest+"│   ")
		}
	}
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func siteRemove() *command {
	return &command{name: "rm", args: "ID", nargs: 1, summary: "remove a site without children, devices or residents",
		setup: func(fs *flag.FlagSet) runFunc {
			return func(e *env, args []string) error {
				c, err := e.client()
				if err != nil {
					return err
				}
				if err := c.RemoveSite(e.ctx, args[0]); err != nil {
					return err
				}
				if !e.json() {
					e.printf("Removed site %s.\n", args[0])
				}
				return nil
			}
		}}
}
