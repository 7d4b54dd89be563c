package firmwaresim

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/anxin-care/anxin/devices"
)

// A fleet file is the registry's device import CSV (POST
// /api/v1/devices/import, anxinctl device import): a header naming the
// columns, then one device a row. The simulator reads id, kind, site and
// resident and ignores the rest. Room sites are named building_room
// (home-12_kitchen, institution-2_room-3; a site id allows no '.' or '/'),
// so a scenario can say home-12/kitchen. The sites and residents the rows name must exist before
// the import; GenerateFleet writes them beside the fleet as
// NAME.sites.csv (id,name,level,parent) and NAME.residents.csv
// (id,name,home), and ProvisionFleet creates all three in that order.

// FleetDevice is one row of a fleet file.
type FleetDevice struct {
	ID       string
	Kind     devices.Kind
	Site     string // room site, e.g. home-12_kitchen; may be empty
	Resident string
}

// roomSep separates a room site's building from its room.
const roomSep = "_"

// Building is the site's part before the first '_', "" without a site.
func (d FleetDevice) Building() string { b, _, _ := strings.Cut(d.Site, roomSep); return b }

// Room is the site's part after the first '_'.
func (d FleetDevice) Room() string { _, r, _ := strings.Cut(d.Site, roomSep); return r }

// FleetSite is one site the fleet needs, parents before children.
type FleetSite struct{ ID, Name, Level, Parent string }

// FleetResident is one resident the fleet needs.
type FleetResident struct{ ID, Name, Home string }

// Fleet is what a fleet file and its companions describe.
type Fleet struct {
	Sites     []FleetSite
	Residents []FleetResident
	Devices   []FleetDevice
}

// FleetSpec sizes a generated fleet.
type FleetSpec struct {
	Homes        int // each: kitchen, bedroom and bathroom; one resident
	Institutions int
	Rooms        int // per institution; each room one resident
}

// Fleet generation limits: the import takes 10,000 rows a request, a fleet
// may take several.
const maxFleetDevices = 1_000_000

// GenerateFleet builds a county's worth of homes and institutions: every
// home has a call button by the bed, a smoke detector and a gas detector in
// the kitchen, a pull cord in the bathroom and a band on its resident;
// every institution room has a call button, a pull cord, a bed sensor and
// a band for its resident. Ids are stable, so two runs make the same file.
func GenerateFleet(s FleetSpec) (Fleet, error) {
	if s.Homes < 0 || s.Institutions < 0 || s.Rooms < 0 || s.Homes+s.Institutions == 0 {
		return Fleet{}, fmt.Errorf("%w: a fleet needs homes or institutions, none negative", ErrInvalidConfig)
	}
	if n := 5*s.Homes + 4*s.Institutions*s.Rooms; n > maxFleetDevices {
		return Fleet{}, fmt.Errorf("%w: %d devices; at most %d", ErrInvalidConfig, n, maxFleetDevices)
	}
	if s.Institutions > 0 && s.Rooms <= 0 {
		return Fleet{}, fmt.Errorf("%w: institutions need rooms", ErrInvalidConfig)
	}
	f := Fleet{Sites: []FleetSite{
		{ID: "sim-region", Name: "Sim region", Level: "region"},
		{ID: "sim-county", Name: "Sim county", Level: "county", Parent: "sim-region"},
		{ID: "sim-township", Name: "Sim township", Level: "township", Parent: "sim-county"},
	}}
	const homesPerVillage = 100
	for h := 1; h <= s.Homes; h++ {
		village := fmt.Sprintf("sim-village-%d", (h-1)/homesPerVillage+1)
		if (h-1)%homesPerVillage == 0 {
			f.Sites = append(f.Sites, FleetSite{ID: village, Name: village, Level: "village", Parent: "sim-township"})
		}
		home := fmt.Sprintf("home-%d", h)
		f.Sites = append(f.Sites, FleetSite{ID: home, Name: home, Level: "home", Parent: village})
		for _, room := range []string{"bedroom", "kitchen", "bathroom"} {
			f.Sites = append(f.Sites, FleetSite{ID: home + roomSep + room, Name: room, Level: "room", Parent: home})
		}
		res := "r-" + home
		f.Residents = append(f.Residents, FleetResident{ID: res, Name: "Resident of " + home, Home: home + roomSep + "bedroom"})
		f.Devices = append(f.Devices,
			FleetDevice{ID: home + "-btn", Kind: devices.KindCallButton, Site: home + roomSep + "bedroom", Resident: res},
			FleetDevice{ID: home + "-band", Kind: devices.KindSafetyBand, Site: home + roomSep + "bedroom", Resident: res},
			FleetDevice{ID: home + "-smoke", Kind: devices.KindSmokeDetector, Site: home + roomSep + "kitchen"},
			FleetDevice{ID: home + "-gas", Kind: devices.KindGasDetector, Site: home + roomSep + "kitchen"},
			FleetDevice{ID: home + "-cord", Kind: devices.KindPullCord, Site: home + roomSep + "bathroom", Resident: res})
	}
	for i := 1; i <= s.Institutions; i++ {
		inst := fmt.Sprintf("institution-%d", i)
		f.Sites = append(f.Sites, FleetSite{ID: inst, Name: inst, Level: "institution", Parent: "sim-township"})
		for r := 1; r <= s.Rooms; r++ {
			room := fmt.Sprintf("%s%sroom-%d", inst, roomSep, r)
			res := fmt.Sprintf("r-%s-%d", inst, r)
			f.Sites = append(f.Sites, FleetSite{ID: room, Name: fmt.Sprintf("room %d", r), Level: "room", Parent: inst})
			f.Residents = append(f.Residents, FleetResident{ID: res, Name: "Resident of " + room, Home: room})
			pre := fmt.Sprintf("%s-r%d", inst, r)
			f.Devices = append(f.Devices,
				FleetDevice{ID: pre + "-btn", Kind: devices.KindCallButton, Site: room, Resident: res},
				FleetDevice{ID: pre + "-cord", Kind: devices.KindPullCord, Site: room, Resident: res},
				FleetDevice{ID: pre + "-bed", Kind: devices.KindBedSensor, Site: room, Resident: res},
				FleetDevice{ID: pre + "-band", Kind: devices.KindSafetyBand, Site: room, Resident: res})
		}
	}
	return f, nil
}

// fleetColumns is the header GenerateFleet writes: the import's own.
var fleetColumns = []string{"id", "kind", "vendor", "model", "format", "ref", "site", "resident", "test"}

// WriteFleet writes the devices in the import CSV shape.
func WriteFleet(w io.Writer, f Fleet) error {
	cw := csv.NewWriter(w)
	writeFleetRows(cw, f)
	cw.Flush()
	return cw.Error()
}

func writeFleetRows(cw *csv.Writer, f Fleet) {
	_ = cw.Write(fleetColumns)
	for _, d := range f.Devices {
		_ = cw.Write([]string{d.ID, string(d.Kind), "Anxin", profileOf(d.Kind).model, "native", "", d.Site, d.Resident, "false"})
	}
}

// WriteFleetFiles writes path (the devices) and its sites and residents
// companions (SitesPath, ResidentsPath).
func WriteFleetFiles(path string, f Fleet) error {
	write := func(p string, fill func(*csv.Writer)) error {
		file, err := os.Create(p)
		if err != nil {
			return err
		}
		cw := csv.NewWriter(file)
		fill(cw)
		cw.Flush()
		return errors.Join(cw.Error(), file.Close())
	}
	err := write(path, func(cw *csv.Writer) { writeFleetRows(cw, f) })
	if err == nil {
		err = write(SitesPath(path), func(cw *csv.Writer) {
			_ = cw.Write([]string{"id", "name", "level", "parent"})
			for _, s := range f.Sites {
				_ = cw.Write([]string{s.ID, s.Name, s.Level, s.Parent})
			}
		})
	}
	if err == nil {
		err = write(ResidentsPath(path), func(cw *csv.Writer) {
			_ = cw.Write([]string{"id", "name", "home"})
			for _, r := range f.Residents {
				_ = cw.Write([]string{r.ID, r.Name, r.Home})
			}
		})
	}
	if err != nil {
		return fmt.Errorf("write fleet: %w", err)
	}
	return nil
}

// SitesPath and ResidentsPath name a fleet file's companions.
func SitesPath(fleet string) string     { return strings.TrimSuffix(fleet, ".csv") + ".sites.csv" }
func ResidentsPath(fleet string) string { return strings.TrimSuffix(fleet, ".csv") + ".residents.csv" }

// ReadFleetFile reads a fleet file and, when they exist, its companions.
func ReadFleetFile(path string) (Fleet, error) {
	var f Fleet
	file, err := os.Open(path)
	if err != nil {
		return f, fmt.Errorf("fleet file: %w", err)
	}
	defer file.Close()
	if f.Devices, err = ParseFleet(file); err != nil {
		return f, fmt.Errorf("fleet file %s: %w", path, err)
	}
	err = readTable(SitesPath(path), []string{"id", "name", "level", "parent"}, func(r []string) {
		f.Sites = append(f.Sites, FleetSite{ID: r[0], Name: r[1], Level: r[2], Parent: r[3]})
	})
	if err == nil {
		err = readTable(ResidentsPath(path), []string{"id", "name", "home"}, func(r []string) {
			f.Residents = append(f.Residents, FleetResident{ID: r[0], Name: r[1], Home: r[2]})
		})
	}
	return f, err
}

// readTable reads a companion CSV with exactly the columns want; a missing
// file is fine (the sites may exist already).
func readTable(path string, want []string, row func([]string)) error {
	file, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer file.Close()
	cr := csv.NewReader(file)
	cr.FieldsPerRecord = len(want)
	header, err := cr.Read()
	if err != nil || !slices.Equal(header, want) {
		return fmt.Errorf("%s: want the header %s", path, strings.Join(want, ","))
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		row(rec)
	}
}

// ParseFleet reads the import CSV shape: a header with at least id and
// kind, in any order. Errors name the line.
func ParseFleet(r io.Reader) ([]FleetDevice, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord, cr.TrimLeadingSpace = 0, true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("line 1: a header row is required (id,kind,…): %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	if _, ok := col["id"]; !ok {
		return nil, errors.New("line 1: the header has no id column")
	}
	if _, ok := col["kind"]; !ok {
		return nil, errors.New("line 1: the header has no kind column")
	}
	get := func(rec []string, name string) string {
		if i, ok := col[name]; ok {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	var out []FleetDevice
	seen := map[string]bool{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err // csv errors carry their line
		}
		line, _ := cr.FieldPos(0)
		d := FleetDevice{ID: get(rec, "id"), Kind: devices.Kind(get(rec, "kind")), Site: get(rec, "site"), Resident: get(rec, "resident")}
		if err := devices.ValidateID(d.ID); err != nil {
			return nil, fmt.Errorf("line %d: id: %w", line, err)
		}
		if _, err := devices.LookupKind(d.Kind); err != nil {
			return nil, fmt.Errorf("line %d: kind: %w", line, err)
		}
		if seen[d.ID] {
			return nil, fmt.Errorf("line %d: device %s listed twice", line, d.ID)
		}
		if len(out) == maxFleetDevices {
			return nil, fmt.Errorf("line %d: more than %d devices", line, maxFleetDevices)
		}
		seen[d.ID] = true
		out = append(out, d)
	}
	if len(out) == 0 {
		return nil, errors.New("no devices: the file has a header and nothing else")
	}
	return out, nil
}
