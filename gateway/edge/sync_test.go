package edge

import (
	"errors"
	"strings"
	"testing"
)

func TestDecodeSync(t *testing.T) {
	for _, tc := range []struct {
		name, payload, wantErr string
	}{
		{"ack", `{"type":"ack","device":"btn-1","seq":3,"by":"nurse","at":1732345678123}`, ""},
		{"resolve", `{"type":"resolve","device":"btn-1","seq":3,"by":"nurse","at":1,"outcome":"assisted","note":"ok"}`, ""},
		{"unknown type", `{"type":"delete","device":"btn-1","seq":3,"by":"nurse","at":1}`, `type "delete"`},
		{"bad device", `{"type":"ack","device":"a/b","seq":3,"by":"nurse","at":1}`, "device"},
		{"no seq", `{"type":"ack","device":"btn-1","by":"nurse","at":1}`, "seq is missing"},
		{"no by", `{"type":"ack","device":"btn-1","seq":1,"at":1}`, "by must be"},
		{"resolve without outcome", `{"type":"resolve","device":"btn-1","seq":1,"by":"n","at":1}`, "outcome"},
		{"empty note", `{"type":"note","device":"btn-1","seq":1,"by":"n","at":1}`, "note is empty"},
		{"unknown field", `{"type":"ack","device":"btn-1","seq":1,"by":"n","at":1,"x":1}`, "unknown field"},
		{"trailing", `{"type":"ack","device":"btn-1","seq":1,"by":"n","at":1} {}`, "trailing"},
		{"not json", `ack`, "bad sync"},
		{"oversized", `{"note":"` + strings.Repeat("x", 5000) + `"}`, "limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeSync([]byte(tc.payload))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrBadSync) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err %v, want ErrBadSync naming %q", err, tc.wantErr)
			}
		})
	}
}

func FuzzDecodeSync(f *testing.F) {
	f.Add([]byte(`{"type":"ack","device":"btn-1","seq":3,"by":"nurse","at":1732345678123}`))
	f.Add([]byte(`{"type":"resolve","device":"btn-1","seq":3,"by":"nurse","at":1,"outcome":"assisted","note":"ok"}`))
	f.Add([]byte(`{"type":"note","device":"x","seq":18446744073709551615,"by":"n","at":-1,"note":"\u0000"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeSync(b)
		if err != nil {
			if !errors.Is(err, ErrBadSync) {
				t.Fatalf("error %v does not wrap ErrBadSync", err)
			}
			return
		}
		if s.Seq == 0 || s.By == "" || s.Type == "" {
			t.Fatalf("accepted an incomplete sync %+v", s)
		}
	})
}
