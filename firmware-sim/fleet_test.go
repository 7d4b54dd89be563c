package firmwaresim_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	firmwaresim "github.com/anxin-care/anxin/firmware-sim"
)

func TestParseDevices(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []firmwaresim.Credentials
		wantErr string
	}{
		{name: "header, comments, blanks", in: "id,password\n# ward 3\n\ncb-1,s3cret\n",
			want: []firmwaresim.Credentials{{ID: "cb-1", Password: "s3cret"}}},
		{name: "four fields", in: "cb-1,s3cret\ncb-2,pw,call_button,x\n", wantErr: "line 2"},
		{name: "anxinctl passwords file", in: "id,password,mqtt_broker\ncb-1,s3cret,tcp://gw:1883\n",
			want: []firmwaresim.Credentials{{ID: "cb-1", Password: "s3cret"}}},
		{name: "plain", in: "cb-1,s3cret\ncb-2, other\n",
			want: []firmwaresim.Credentials{{ID: "cb-1", Password: "s3cret"}, {ID: "cb-2", Password: "other"}}},
		{name: "bad id", in: "cb/1,x\n", wantErr: "line 1"},
		{name: "duplicate", in: "cb-1,x\ncb-1,y\n", wantErr: "listed twice"},
		{name: "empty", in: "# nothing\n", wantErr: "no devices"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := firmwaresim.ParseDevices(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestDevicesFileRoundTrip(t *testing.T) {
	creds := []firmwaresim.Credentials{{ID: "a-1", Password: "p,with,commas"}, {ID: "a-2", Password: `q"uote`}}
	path := filepath.Join(t.TempDir(), "fleet.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := firmwaresim.WriteDevices(f, creds); err != nil {
		t.Fatal(err)
	}
	f.Close()
	got, err := firmwaresim.ReadDevicesFile(path)
	if err != nil || !reflect.DeepEqual(got, creds) {
		t.Errorf("read back %v, %v; want %v", got, err, creds)
	}
}

func TestFleetIDs(t *testing.T) {
	if got := firmwaresim.FleetIDs("sim-", 3); !reflect.DeepEqual(got, []string{"sim-0001", "sim-0002", "sim-0003"}) {
		t.Errorf("FleetIDs = %v", got)
	}
	if got := firmwaresim.FleetIDs("s", 12345); got[0] != "s00001" {
		t.Errorf("first of 12345 = %s, want s00001", got[0])
	}
}

func TestProvision(t *testing.T) {
	var kinds []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/devices" || r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		var body struct{ ID, Kind string }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.ID == "bad" {
			http.Error(w, `{"error":"id taken"}`, http.StatusConflict)
			return
		}
		kinds = append(kinds, body.Kind)
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]string{"id": body.ID, "password": "pw-" + body.ID})
	}))
	defer api.Close()

	o := firmwaresim.ProvisionOptions{API: api.URL + "/", Token: "tok", Kind: "smoke_detector", IDs: []string{"s-1", "s-2"}}
	got, err := firmwaresim.Provision(t.Context(), o)
	want := []firmwaresim.Credentials{{ID: "s-1", Password: "pw-s-1"}, {ID: "s-2", Password: "pw-s-2"}}
	if err != nil || !reflect.DeepEqual(got, want) || !reflect.DeepEqual(kinds, []string{"smoke_detector", "smoke_detector"}) {
		t.Errorf("got %v, %v (kinds %v); want %v", got, err, kinds, want)
	}

	o.IDs = []string{"s-3", "bad", "s-4"}
	got, err = firmwaresim.Provision(t.Context(), o)
	if err == nil || !strings.Contains(err.Error(), "409") || len(got) != 1 {
		t.Errorf("got %v, %v; want s-3 and a 409 error for bad", got, err)
	}
}
