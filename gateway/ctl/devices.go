package ctl

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/anxin-care/anxin/gateway/apiclient"
)

const deviceKindsHelp = "call_button, pull_cord, smoke_detector, gas_detector, safety_band, bed_sensor or edge_box"

func deviceAdd() *command {
	return &command{name: "add", args: "ID --kind KIND [--site SITE] [--resident ID]", nargs: 1,
		summary: "provision a device and print its MQTT settings and password, shown only this once",
		help: `A native anxin device connects with its id and the password printed here. A
Zigbee2MQTT device is found by its friendly name (--format zigbee2mqtt --ref
NAME), a vendor's by the id its topic carries (--format vendor_json:VENDOR).

  anxinctl device add btn-101 --kind call_button --site qs-12-bed1 --resident r-0012

An edge box is a device too, at the home or institution it serves; the
devices behind it name it with --edge:

  anxinctl device add box-1 --kind edge_box --site home-12
  anxinctl device add btn-7 --kind call_button --site home-12-bedroom --edge box-1`,
		setup: func(fs *flag.FlagSet) runFunc {
			var d apiclient.NewDevice
			fs.StringVar(&d.Kind, "kind", "", "device `KIND`: "+deviceKindsHelp)
			deviceFlags(fs, &d.Vendor, &d.Model, &d.Ref)
			fs.StringVar(&d.Format, "format", "", "wire `FORMAT`: native, zigbee2mqtt or vendor_json:VENDOR (default native)")
			fs.StringVar(&d.Site, "site", "", "the room or bed `SITE` where it is installed")
			fs.StringVar(&d.Resident, "resident", "", "the resident `ID` who wears or uses it")
			fs.StringVar(&d.Location, "location", "", "where exactly, as `TEXT`, e.g. \"by the bed\"")
			fs.StringVar(&d.Supervision, "supervision", "", "supervision `CLASS`: native, zigbee_battery or zigbee_mains (default by kind and format)")
			fs.StringVar(&d.Edge, "edge", "", "the edge `BOX` (kind edge_box) the device reaches central through")
			fs.BoolVar(&d.Test, "test", false, "start in walk-test mode (it ends by itself after 2h)")
			fs.BoolVar(&d.Installed, "installed", false, "supervise it from now rather than from its first message")
			fs.BoolVar(&d.Checkin, "checkin", false, "a check-in button (平安钟): a press is the resident's daily check-in, not a call")
			return func(e *env, args []string) error {
				d.ID = args[0]
				c, err := e.client()
				if err != nil {
					return err
				}
				p, err := c.AddDevice(e.ctx, d)
				if err != nil {
					return err
				}
				if e.json() {
					return e.printJSON(p)
				}
				printProvisioned(e.stdout, p, "provisioned")
				return nil
			}
		}}
}

func deviceFlags(fs *flag.FlagSet, vendor, model, ref *string) {
	fs.StringVar(vendor, "vendor", "", "the maker's `NAME`, e.g. Heiman")
	fs.StringVar(model, "model", "", "the `MODEL`, e.g. CB-200")
	fs.StringVar(ref, "ref", "", "adapter reference `REF`: Zigbee2MQTT friendly name or vendor device id (default: the id)")
}

// printProvisioned shows a new device and what to configure in it.
func printProvisioned(w io.Writer, p apiclient.Provisioned, what string) {
	fmt.Fprintf(w, "Device %s (%s) %s", p.ID, p.Kind, what)
	if p.SitePath != "" {
		fmt.Fprintf(w, " at %s", p.SitePath)
	}
	if p.ResidentName != "" {
		fmt.Fprintf(w, " for %s", p.ResidentName)
	}
	fmt.Fprintln(w, ".")
	if p.Replaces != "" {
		fmt.Fprintf(w, "It replaces %s, which no longer connects; its alarms stay in this installation's history.\n", p.Replaces)
	}
	if p.Format != "native" {
		fmt.Fprintf(w, "It reaches anxin through its %s adapter as %q; the credentials below are for a direct connection only.\n", p.Format, p.Ref)
	}
	fmt.Fprint(w, "\nMQTT settings (the password is shown only this once):\n")
	writeTable(w, nil, [][]string{
		{"  broker", p.MQTT.Broker},
		{"  client id", p.MQTT.ClientID},
		{"  username", p.MQTT.Username},
		{"  password", p.MQTT.Password},
		{"  publish", p.MQTT.Topics["event"] + ", " + p.MQTT.Topics["telemetry"]},
		{"  status", p.MQTT.Topics["status"] + " (retained; also the will)"},
		{"  subscribe", p.MQTT.Topics["cmd"]},
	})
}

func deviceList() *command {
	return &command{name: "ls", args: "[--site SITE] [--resident ID] [--all]", nargs: 0,
		summary: "list devices with their health",
		setup: func(fs *flag.FlagSet) runFunc {
			var f apiclient.DeviceFilter
			fs.StringVar(&f.Site, "site", "", "only devices at or under this `SITE`")
			fs.StringVar(&f.Resident, "resident", "", "only devices of this resident `ID`")
			fs.BoolVar(&f.All, "all", false, "also the retired devices (replaced or removed)")
			return func(e *env, _ []string) error {
				c, err := e.client()
				if err != nil {
					return err
				}
				list, err := c.Devices(e.ctx, f)
				if err != nil {
					return err
				}
				if e.json() {
					return e.printJSON(list)
				}
				now := e.now()
				rows := make([][]string, len(list))
				for i, d := range list {
					rows[i] = []string{d.ID, d.Kind, dash(d.State), dash(d.SitePath), dash(d.ResidentName), online(d),
						lastSeen(d, now), battery(d.Health), signal(d.Health), dash(d.Health.Firmware)}
					if e.wide() {
						rows[i] = append(rows[i], dash(d.Vendor), dash(d.Model), d.Format+refText(d), dash(d.Location))
					}
					rows[i] = append(rows[i], deviceNote(d))
				}
				header := []string{"ID", "KIND", "STATE", "SITE", "RESIDENT", "ONLINE", "LAST SEEN", "BATTERY", "SIGNAL", "FIRMWARE"}
				if e.wide() {
					header = append(header, "VENDOR", "MODEL", "FORMAT", "LOCATION")
				}
				// The site path, the note and the resident may be cut to fit;
				// firmware, signal, online and battery left out.
				e.table(append(header, ""), rows, fit{free: []int{3, len(header), 4}, optional: []int{9, 8, 5, 7}})
				return nil
			}
		}}
}

func online(d apiclient.Device) string {
	switch {
	case d.Health.LastSeen.IsZero():
		return "-"
	case d.Health.Online:
		return "yes"
	}
	return "no"
}

func onlineText(d apiclient.Device, now time.Time) string {
	if d.Health.LastSeen.IsZero() {
		return "not heard from since the gateway started"
	}
	return online(d) + ", last seen " + lastSeen(d, now)
}

func lastSeen(d apiclient.Device, now time.Time) string {
	if d.Health.LastSeen.IsZero() {
		return "-"
	}
	return ago(d.Health.LastSeen, now)
}

func battery(h apiclient.Health) string {
	if v, ok := h.Readings["battery"]; ok {
		return strconv.FormatFloat(v, 'f', 0, 64) + "%"
	}
	return "-"
}

// signal shows the RSSI of a native device or the link quality of a Zigbee one.
func signal(h apiclient.Health) string {
	if v, ok := h.Readings["rssi"]; ok {
		return strconv.FormatFloat(v, 'f', 0, 64) + " dBm"
	}
	if v, ok := h.Readings["linkquality"]; ok {
		return "lqi " + strconv.FormatFloat(v, 'f', 0, 64)
	}
	return "-"
}

func deviceNote(d apiclient.Device) string {
	switch {
	case d.ReplacedBy != "":
		return "replaced by " + d.ReplacedBy
	case d.TestMode:
		return "walk test until " + localTime(d.TestUntil)
	case d.ModelStatus == "generic":
		return "generic rules (no model record)"
	case d.ModelStatus != "":
		return "model " + d.ModelStatus
	}
	return ""
}

func deviceShow() *command {
	return &command{name: "show", args: "ID", nargs: 1, summary: "show a device, its health, history and recent alarms",
		setup: func(fs *flag.FlagSet) runFunc {
			limit := fs.Int("alarms", 10, "how many recent alarms to show")
			return func(e *env, args []string) error {
				c, err := e.client()
				if err != nil {
					return err
				}
				d, err := c.Device(e.ctx, args[0])
				if err != nil {
					return err
				}
				hist, err := c.DeviceAlarms(e.ctx, d.ID, *limit)
				if err != nil && !apiclient.IsStatus(err, 403) {
					return err
				}
				if e.json() {
					return e.printJSON(map[string]any{"device": d, "history": hist.History, "alarms": hist.Alarms})
				}
				now := e.now()
				rows := [][]string{
					{"Device", d.ID},
					{"Kind", d.Kind},
					{"Vendor / model", dash(strings.TrimSpace(d.Vendor + " " + d.Model))},
					{"Format", d.Format + refText(d)},
					{"Site", dash(d.SitePath) + idText(d.Site)},
					{"Resident", dash(d.ResidentName) + idText(d.Resident)},
					{"Location", dash(d.Location)},
					{"State", stateText(d)},
					{"Supervision", d.Supervision},
					{"Edge box", dash(d.Edge)},
					{"Walk test", testText(d)},
					{"Online", onlineText(d, now)},
					{"Battery / signal", battery(d.Health) + " / " + signal(d.Health)},
					{"Firmware", dash(d.Health.Firmware)},
					{"Provisioned", localTime(d.Created) + " by " + d.By},
				}
				if d.Replaces != "" {
					rows = append(rows, []string{"Replaces", d.Replaces})
				}
				if d.ReplacedBy != "" {
					rows = append(rows, []string{"Replaced by", d.ReplacedBy + " on " + localTime(d.Retired)})
				}
				if len(hist.History) > 1 {
					rows = append(rows, []string{"Installation", strings.Join(hist.History, " ← ")})
				}
				writeTable(e.stdout, nil, rows)
				if len(hist.Alarms) > 0 {
					e.printf("\nRecent alarms:\n")
					arows := make([][]string, len(hist.Alarms))
					for i, a := range hist.Alarms {
						arows[i] = []string{"  " + localTime(a.Raised), a.Priority, a.Type, a.State, a.Device, a.ID}
					}
					writeTable(e.stdout, nil, arows)
				}
				return nil
			}
		}}
}

func refText(d apiclient.Device) string {
	if d.Ref == "" {
		return ""
	}
	return fmt.Sprintf(" (ref %q)", d.Ref)
}

func idText(id string) string {
	if id == "" {
		return ""
	}
	return " (" + id + ")"
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func deviceRemove() *command {
	return &command{name: "rm", args: "ID", nargs: 1, summary: "retire a device: it can no longer connect and is not supervised; its open alarms are cancelled (device_removed); its record and alarms stay (ls --all), its id is never reused",
		setup: func(fs *flag.FlagSet) runFunc {
			return func(e *env, args []string) error {
				c, err := e.client()
				if err != nil {
					return err
				}
				if err := c.RemoveDevice(e.ctx, args[0]); err != nil {
					return err
				}
				if !e.json() {
					e.printf("Removed device %s.\n", args[0])
				}
				return nil
			}
		}}
}

func deviceReplace() *command {
	return &command{name: "replace", args: "OLD [--new-id NEW]", nargs: 1,
		summary: "swap the hardware under an installation, keeping site, resident and history",
		help: `With --new-id, NEW takes over OLD's kind, site, resident, format, reference,
supervision class and walk-test mode; OLD is kept, retired, so that its record
and alarms stay findable (device show NEW lists them). Without --new-id the id
stays and only the password changes: for new hardware set up under the old name.
Either way the old hardware's password stops working at once.`,
		setup: func(fs *flag.FlagSet) runFunc {
			var r apiclient.Replacement
			fs.StringVar(&r.NewID, "new-id", "", "the new device's `ID` (default: keep OLD's)")
			deviceFlags(fs, &r.Vendor, &r.Model, &r.Ref)
			return func(e *env, args []string) error {
				c, err := e.client()
				if err != nil {
					return err
				}
				p, err := c.ReplaceDevice(e.ctx, args[0], r)
				if err != nil {
					return err
				}
				if e.json() {
					return e.printJSON(p)
				}
				printProvisioned(e.stdout, p, "now in service")
				return nil
			}
		}}
}

func stateText(d apiclient.Device) string {
	switch {
	case d.State == "commissioning":
		return "commissioning (not supervised until first heard or marked installed)"
	case d.State == "active" && !d.Installed.IsZero():
		return "active since " + localTime(d.Installed)
	}
	return dash(d.State)
}

func deviceInstalled() *command {
	return &command{name: "install", args: "ID [--undo]", nargs: 1,
		summary: "mark a device installed: supervised from now, before it is first heard",
		setup: func(fs *flag.FlagSet) runFunc {
			undo := fs.Bool("undo", false, "put the device back to commissioning (taken down again)")
			return func(e *env, args []string) error {
				c, err := e.client()
				if err != nil {
					return err
				}
				d, err := c.SetInstalled(e.ctx, args[0], !*undo)
				if err != nil {
					return err
				}
				if e.json() {
					return e.printJSON(d)
				}
				e.printf("Device %s: %s.\n", d.ID, stateText(d))
				return nil
			}
		}}
}

func deviceTest() *command {
	return &command{name: "test", args: "on|off ID", nargs: 2, summary: "switch a device's walk test on or off",
		help: `While a device is in walk test, its alarms go to installers (device watch),
not to operators. It ends by itself after --for (2h unless given, at most
24h); switch it off when the installation is done. A P1 alarm that nobody
watches or acknowledges within a minute goes to operators after all,
marked as a walk-test alarm.`,
		setup: func(fs *flag.FlagSet) runFunc {
			dur := fs.Duration("for", 0, "how long the walk test lasts (default 2h, at most 24h)")
			return func(e *env, args []string) error {
				if args[0] != "on" && args[0] != "off" {
					return usageErr("%q: want on or off", args[0])
				}
				c, err := e.client()
				if err != nil {
					return err
				}
				d, err := c.SetTest(e.ctx, args[1], args[0] == "on", *dur)
				if err != nil {
					return err
				}
				if e.json() {
					return e.printJSON(d)
				}
				if d.TestMode {
					e.printf("Walk test on for %s until %s: its alarms go to installers. Watch with `anxinctl device watch %[1]s`.\n",
						d.ID, localTime(d.TestUntil))
				} else {
					e.printf("Walk test off for %s: its alarms go to operators again.\n", d.ID)
				}
				return nil
			}
		}}
}

func testText(d apiclient.Device) string {
	if !d.TestMode {
		return "off"
	}
	return "on until " + localTime(d.TestUntil)
}
