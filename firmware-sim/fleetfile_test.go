package firmwaresim_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/anxin-care/anxin/devices"
	firmwaresim "github.com/anxin-care/anxin/firmware-sim"
)

func TestGenerateFleetRoundTrips(t *testing.T) {
	f, err := firmwaresim.GenerateFleet(firmwaresim.FleetSpec{Homes: 3, Institutions: 2, Rooms: 4})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(f.Devices), 3*5+2*4*4; got != want {
		t.Errorf("%d devices, want %d", got, want)
	}
	path := filepath.Join(t.TempDir(), "fleet.csv")
	if err := firmwaresim.WriteFleetFiles(path, f); err != nil {
		t.Fatal(err)
	}
	back, err := firmwaresim.ReadFleetFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Devices) != len(f.Devices) || len(back.Sites) != len(f.Sites) || len(back.Residents) != len(f.Residents) {
		t.Fatalf("read back %d devices, %d sites, %d residents; wrote %d, %d, %d",
			len(back.Devices), len(back.Sites), len(back.Residents), len(f.Devices), len(f.Sites), len(f.Residents))
	}
	smoke := back.Devices[2]
	if smoke.ID != "home-1-smoke" || smoke.Kind != devices.KindSmokeDetector || smoke.Building() != "home-1" || smoke.Room() != "kitchen" {
		t.Errorf("third device %+v, want home-1-smoke in home-1/kitchen", smoke)
	}
	// Parents come before children, so creating in file order works.
	seen := map[string]bool{}
	for _, s := range back.Sites {
		if s.Parent != "" && !seen[s.Parent] {
			t.Fatalf("site %s before its parent %s", s.ID, s.Parent)
		}
		seen[s.ID] = true
	}
}

func TestParseFleetErrorsNameTheLine(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"no header", "", "line 1: a header row is required"},
		{"no kind", "id,site\nb-1,x\n", "line 1: the header has no kind column"},
		{"bad kind", "id,kind\nb-1,toaster\n", "line 2: kind:"},
		{"bad id", "kind,id\ncall_button,b 1\n", "line 2: id:"},
		{"twice", "id,kind\nb-1,call_button\nb-1,call_button\n", "line 3: device b-1 listed twice"},
		{"empty", "id,kind\n", "no devices"},
		{"short row", "id,kind,site\nb-1,call_button\n", "line 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := firmwaresim.ParseFleet(strings.NewReader(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func FuzzParseFleet(f *testing.F) {
	f.Add("id,kind,vendor,model,format,ref,site,resident,test\nhome-1-btn,call_button,Anxin,CB-200,native,,home-1_bedroom,r-home-1,false\n")
	f.Add("\ufeffkind,id\nsmoke_detector,s-1\n")
	f.Fuzz(func(t *testing.T, in string) {
		fl, err := firmwaresim.ParseFleet(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, d := range fl {
			if devices.ValidateID(d.ID) != nil {
				t.Fatalf("accepted bad id %q", d.ID)
			}
		}
	})
}
