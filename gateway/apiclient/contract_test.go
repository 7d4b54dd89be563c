package apiclient_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/gateway"
	"github.com/anxin-care/anxin/gateway/apiclient"
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
		{apiclient.Site{}, gateway.SiteView{}, nil},
		{apiclient.NewSite{}, gateway.NewSite{}, nil},
		{apiclient.SiteNode{}, registry.SiteNode{}, []string{"path"}}, // a tree node's path is its ancestors
		{apiclient.Contact{}, registry.Contact{}, nil},
		{apiclient.Resident{}, registry.ResidentView{}, nil},
		{apiclient.NewResident{}, gateway.NewResident{}, nil},
		{apiclient.Health{}, registry.Health{}, nil},
		{apiclient.Device{}, gateway.DeviceView{}, nil},
		{apiclient.NewDevice{}, gateway.NewDevice{}, nil},
		{apiclient.Replacement{}, gateway.ReplaceRequest{}, nil},
		{apiclient.MQTTSettings{}, gateway.MQTTSettings{}, nil},
		{apiclient.Provisioned{}, gateway.ProvisionedDevice{}, nil},
		{apiclient.Alarm{}, alerting.Alarm{}, nil},
		{apiclient.RowError{}, gateway.ImportRowError{}, nil},
		{apiclient.Imported{}, gateway.ImportedDevice{}, nil},
		{apiclient.ImportResult{}, gateway.ImportResult{}, nil},
		{apiclient.AuditEntry{}, state.AuditEntry{}, nil},
		{apiclient.SLAReport{}, gateway.SLAReportView{}, nil},
		{apiclient.SLARow{}, gateway.SLARowView{}, nil},
		{apiclient.SLAShare{}, gateway.SLAShareView{}, nil},
		{apiclient.SLAStat{}, gateway.SLAStatView{}, nil},
		{apiclient.SLAShift{}, gateway.SLAShift{}, nil},
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
