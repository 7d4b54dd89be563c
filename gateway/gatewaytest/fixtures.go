package gatewaytest

// A small real site tree that tests share:
//
//	qingshan (region 青山市)
//	└── qs-county (county 青山县)
//	    └── qs-town (township 青山镇)
//	        └── qs-village (village 青山村)
//	            └── home-12 (home 12号)
//	                ├── home-12-bedroom (room 卧室)
//	                └── home-12-kitchen (room 厨房)
//
// and the resident wang-xy (王秀英, born 1941) who lives at home-12.
var SiteTree = []map[string]any{
	{"id": "qingshan", "name": "青山市", "level": "region"},
	{"id": "qs-county", "name": "青山县", "level": "county", "parent": "qingshan"},
	{"id": "qs-town", "name": "青山镇", "level": "township", "parent": "qs-county"},
	{"id": "qs-village", "name": "青山村", "level": "village", "parent": "qs-town"},
	{"id": "home-12", "name": "12号", "level": "home", "parent": "qs-village"},
	{"id": "home-12-bedroom", "name": "卧室", "level": "room", "parent": "home-12"},
	{"id": "home-12-kitchen", "name": "厨房", "level": "room", "parent": "home-12"},
}

// Resident is the resident of SiteTree's home.
var Resident = map[string]any{
	"id": "wang-xy", "name": "王秀英", "birth_year": 1941, "sex": "female", "language": "zh-CN",
	"conditions": []string{"高血压"}, "home": "home-12",
	"contacts": []map[string]string{
		{"name": "李娜", "phone": "13800000001", "relation": "女儿"},
		{"name": "李强", "phone": "13800000002", "relation": "儿子"},
		{"name": "张医生", "phone": "13800000003", "relation": "村医"},
	},
}

// SeedSites creates SiteTree and Resident through the API as admin.
func (g *Gateway) SeedSites() {
	g.t.Helper()
	for _, s := range SiteTree {
		var e struct{ Error string }
		if code := g.Admin.Do("POST", "/api/v1/sites", s, &e); code != 201 {
			g.t.Fatalf("add site %v: HTTP %d: %s", s["id"], code, e.Error)
		}
	}
	var e struct{ Error string }
	if code := g.Admin.Do("POST", "/api/v1/residents", Resident, &e); code != 201 {
		g.t.Fatalf("add resident: HTTP %d: %s", code, e.Error)
	}
}
