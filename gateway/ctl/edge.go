package ctl

import (
	"flag"
	"strconv"
)

func edgeList() *command {
	return &command{name: "ls", args: "[--site SITE]", nargs: 0,
		summary: "list edge boxes: site, uplink, queued messages, software, last seen",
		help: `UPLINK is connected; disconnected (no connection, still within its 90 s
window); offline (silent past its window: an edge.offline alarm is open for
its site and the devices behind it are not supervised until it is back); or
never (not heard since central started). QUEUED is what the box still holds
for central at its last heartbeat, with the age of the oldest message.`,
		setup: func(fs *flag.FlagSet) runFunc {
			site := fs.String("site", "", "only boxes at or under this `SITE`")
			return func(e *env, _ []string) error {
				c, err := e.client()
				if err != nil {
					return err
				}
				list, err := c.EdgeBoxes(e.ctx, *site)
				if err != nil {
					return err
				}
				if e.json() {
					return e.printJSON(list)
				}
				now := e.now()
				rows := make([][]string, len(list))
				for i, b := range list {
					queued := strconv.Itoa(b.QueueDepth)
					if !b.QueueOldest.IsZero() && b.QueueDepth > 0 {
						queued += " (oldest " + ago(b.QueueOldest, now) + ")"
					}
					seen := "-"
					if !b.LastSeen.IsZero() {
						seen = ago(b.LastSeen, now)
					}
					rows[i] = []string{b.ID, dash(b.SitePath) + idText(b.Site), b.Uplink, queued, dash(b.Firmware), seen,
						strconv.Itoa(b.Devices), dash(b.Alarm)}
				}
				writeTable(e.stdout, []string{"ID", "SITE", "UPLINK", "QUEUED", "SOFTWARE", "LAST SEEN", "DEVICES", "ALARM"}, rows)
				return nil
			}
		}}
}
