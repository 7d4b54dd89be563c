package apiclient_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/gateway/apiclient"
	"github.com/anxin-care/anxin/gateway/httpapi"
	"github.com/anxin-care/anxin/gateway/registry"
	"github.com/anxin-care/anxin/gateway/state"
)

// The client declares its own wire types so that anxinctl does not link the
// gateway (broker, store). This test is the contract that keeps them true:
// every JSON field a client type reads or sends must exist, under the same
// name, in the gateway type it talks to.
func TestWireTypesMatchTheGateway(t *testing.T) {
	pairs := []struct {
		client, server any
		// answerOnly are client fields the server leaves out of this type:
		// they read as empty, which the client must take as "not given".
		answerOnly []string
	}{
		{apiclient.Site{}, httpapi.SiteView{}, nil},
		{apiclient.NewSite{}, httpapi.NewSite{}, nil},
		{apiclient.SiteNode{}, registry.SiteNode{}, []string{"path"}}, // a tree node's path is its ancestors
		{apiclient.Contact{}, registry.Contact{}, nil},
		{apiclient.PlanStep{}, registry.PlanStep{}, nil},
		{apiclient.Resident{}, httpapi.ResidentView{}, nil},
		{apiclient.NewResident{}, httpapi.NewResident{}, nil},
		{apiclient.Health{}, registry.Health{}, nil},
		{apiclient.Device{}, httpapi.DeviceView{}, nil},
		{apiclient.NewDevice{}, httpapi.NewDevice{}, nil},
		{apiclient.EdgeBox{}, httpapi.EdgeBox{}, nil},
		{apiclient.Replacement{}, httpapi.ReplaceRequest{}, nil},
		{apiclient.MQTTSettings{}, httpapi.MQTTSettings{}, nil},
		{apiclient.Provisioned{}, httpapi.ProvisionedDevice{}, nil},
		{apiclient.Alarm{}, alerting.Alarm{}, nil},
		{apiclient.RowError{}, httpapi.ImportRowError{}, nil},
		{apiclient.Imported{}, httpapi.ImportedDevice{}, nil},
		{apiclient.ImportResult{}, httpapi.ImportResult{}, nil},
		{apiclient.AuditEntry{}, state.AuditEntry{}, nil},
		{apiclient.SLAReport{}, httpapi.SLAReportView{}, nil},
		{apiclient.SLARow{}, httpapi.SLARowView{}, nil},
		{apiclient.SLAShare{}, httpapi.SLAShareView{}, nil},
		{apiclient.SLAStat{}, httpapi.SLAStatView{}, nil},
		{apiclient.SLAShift{}, httpapi.SLAShift{}, nil},
		{apiclient.User{}, state.User{}, nil},
		{apiclient.NewUser{}, httpapi.NewUser{}, nil},
		{apiclient.PasswordChange{}, httpapi.PasswordRequest{}, nil},
	}
	for _, p := range pairs {
		ct, st := reflect.TypeOf(p.client), reflect.TypeOf(p.server)
		t.Run(ct.Name(), func(t *testing.T) {
			server := jsonFields(st)
			for name := range jsonFields(ct) {
				if !server[name] && !slices.Contains(p.answerOnly, name) {
					t.Errorf("apiclient.%s has JSON field %q, which %s does not", ct.Name(), name, st)
				}
			}
		})
	}
}

// jsonFields returns the JSON names of a struct's fields, embedded ones included.
func jsonFields(t reflect.Type) map[string]bool {
	out := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			for n := range jsonFields(ft) {
				out[n] = true
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = true
	}
	return out
}
