package jsonerr

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestDescribe(t *testing.T) {
	type inner struct {
		Phone string `json:"phone"`
	}
	type body struct {
		Online   *bool     `json:"online"`
		Count    int       `json:"count"`
		Seq      uint64    `json:"seq"`
		Contacts []inner   `json:"contacts"`
		At       time.Time `json:"at"`
	}
	cases := []struct{ in, want string }{
		{`{"online":"yes"}`, `field "online" must be true or false, not a string`},
		{`{"count":1.5}`, `field "count" must be a whole number, not a number`},
		{`{"seq":-1}`, `field "seq" must be a whole number not below 0, not a number`},
		{`{"contacts":{}}`, `field "contacts" must be a list, not an object`},
		{`{"contacts":[{"phone":1}]}`, `field "contacts.phone" must be a string, not a number`},
		{`[1]`, `the JSON text must be an object, not a list`},
		{`{"count":`, `the JSON text ends too soon`},
		{`{"count":x}`, `not valid JSON at byte 10: invalid character 'x' looking for beginning of value`},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			var b body
			got := Describe(json.Unmarshal([]byte(c.in), &b))
			if got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
			if strings.Contains(got, "Go ") || strings.Contains(got, "struct") {
				t.Errorf("Go syntax left in %q", got)
			}
		})
	}
	d := json.NewDecoder(strings.NewReader(`{"colour":1}`))
	d.DisallowUnknownFields()
	if got := Describe(d.Decode(&body{})); got != `unknown field "colour"` {
		t.Errorf("unknown field: %s", got)
	}
}
