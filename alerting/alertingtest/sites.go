package alertingtest

import (
	"slices"

	"github.com/anxin-care/anxin/alerting"
)

// Sites is a site tree with names, built from a list of sites.
type Sites struct {
	parents alerting.SiteMap
	names   map[string]string
}

// Site is one node of a test tree.
type Site struct {
	ID, Parent, Name string
}

// NewSites builds a tree.
func NewSites(sites ...Site) *Sites {
	s := &Sites{parents: alerting.SiteMap{}, names: map[string]string{}}
	for _, x := range sites {
		s.parents[x.ID] = x.Parent
		s.names[x.ID] = x.Name
	}
	return s
}

// Parent implements alerting.SiteTree.
func (s *Sites) Parent(site string) (string, bool) { return s.parents.Parent(site) }

// Location returns the names of the sites from the root down to site,
// leaving out unnamed ones (the region).
func (s *Sites) Location(site string) []string {
	var out []string
	for _, id := range alerting.Path(s, site) {
		if n := s.names[id]; n != "" {
			out = append(out, n)
		}
	}
	slices.Reverse(out)
	return out
}

// Site ids of Qingshan, the county network of the tests.
const (
	Region        = "region"
	County        = "qs-county"      // 青山县 county centre
	Town          = "qs-town"        // 青山镇 township centre
	Village       = "qs-village"     // 青山村 village station
	Home12        = "qs-v12"         // 12号, a home care bed in the village
	Home12Bedroom = "qs-v12-bedroom" // its bedroom
	Home12Kitchen = "qs-v12-kitchen" // its kitchen
	Baishi        = "bs-village"     // 白石村, a village without a station
	Baishi3       = "bs-v3"          // 3号 in 白石村
	Baishi3Living = "bs-v3-living"   // its living room
	Institution   = "qs-home"        // 青山镇敬老院, an institution with its own duty room
	Room101       = "qs-home-101"    // 101室
	Room102       = "qs-home-102"    // 102室
	Room102Bed1   = "qs-home-102-1"  // 102室 1床
)

// Qingshan returns the county–township–village tree of the tests:
//
//	region
//	└── 青山县 (county centre)
//	    └── 青山镇 (township centre)
//	        ├── 青山村 (village station) ── 12号 ── 卧室, 厨房
//	        ├── 白石村 (no station)      ── 3号  ── 客厅
//	        └── 青山镇敬老院 (duty room)  ── 101室; 102室 ── 1床
func Qingshan() *Sites {
	return NewSites(
		Site{Region, "", ""},
		Site{County, Region, "青山县"},
		Site{Town, County, "青山镇"},
		Site{Village, Town, "青山村"},
		Site{Home12, Village, "12号"},
		Site{Home12Bedroom, Home12, "卧室"},
		Site{Home12Kitchen, Home12, "厨房"},
		Site{Baishi, Town, "白石村"},
		Site{Baishi3, Baishi, "3号"},
		Site{Baishi3Living, Baishi3, "客厅"},
		Site{Institution, Town, "青山镇敬老院"},
		Site{Room101, Institution, "101室"},
		Site{Room102, Institution, "102室"},
		Site{Room102Bed1, Room102, "1床"},
	)
}
