package httpapi

import (
	"reflect"

	"context"
	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/gateway/registry"
	"github.com/anxin-care/anxin/gateway/state"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPIYAML())
	if err != nil {
		t.Fatalf("openapi.yaml does not load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.yaml is not valid OpenAPI 3: %v", err)
	}
	return doc
}

// TestOpenAPIValid: the description is valid OpenAPI 3, and the JSON
// served is the same document.
func TestOpenAPIValid(t *testing.T) {
	loadOpenAPI(t)
	js, err := OpenAPIJSON()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(js)
	if err != nil {
		t.Fatalf("served JSON does not load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("served JSON is not valid: %v", err)
	}
}

// TestOpenAPIDescribesEveryRoute: every route the API serves is described,
// and the description names no route the API does not serve.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	doc := loadOpenAPI(t)
	var served []string
	for _, h := range (&server{}).routeTable() {
		served = append(served, h.pattern)
	}
	// The routes outside the login table (routes, and the gateway's ingest).
	served = append(served,
		"POST /api/v1/login", "GET /api/v1/openapi.json", "GET /healthz", "GET /readyz", "GET /metrics",
		"POST /ingest/v1/{integration}", "GET /ingest/v1/{integration}")

	var described []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			described = append(described, method+" "+path)
		}
	}
	slices.Sort(served)
	slices.Sort(described)
	for _, r := range served {
		if !slices.Contains(described, r) {
			t.Errorf("route %s is not described in openapi.yaml", r)
		}
	}
	for _, r := range described {
		if !slices.Contains(served, r) {
			t.Errorf("openapi.yaml describes %s, which the API does not serve", r)
		}
	}
}

// TestOpenAPIOperations: every operation has an id, a summary, and an
// error answer; every path parameter is declared.
func TestOpenAPIOperations(t *testing.T) {
	doc := loadOpenAPI(t)
	param := regexp.MustCompile(`\{([a-z_]+)\}`)
	ids := map[string]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			if op.OperationID == "" || op.Summary == "" {
				t.Errorf("%s: needs operationId and summary", where)
			}
			if prev, dup := ids[op.OperationID]; dup {
				t.Errorf("%s: operationId %s used by %s too", where, op.OperationID, prev)
			}
			ids[op.OperationID] = where
			if strings.HasPrefix(path, "/api/") && op.Responses.Default() == nil && path != "/api/v1/openapi.json" {
				t.Errorf("%s: no default (error) response", where)
			}
			for _, m := range param.FindAllStringSubmatch(path, -1) {
				if item.Parameters.GetByInAndName("path", m[1]) == nil && op.Parameters.GetByInAndName("path", m[1]) == nil {
					t.Errorf("%s: path parameter %s not declared", where, m[1])
				}
			}
		}
	}
}

// TestOpenAPISchemasMatchWireTypes: every JSON field the API writes in its
// main types is a property of the schema that describes it, so a field
// added to a type and not to openapi.yaml fails here.
func TestOpenAPISchemasMatchWireTypes(t *testing.T) {
	doc := loadOpenAPI(t)
	pairs := []struct {
		schema string
		typ    any
		skip   []string // fields deliberately left undescribed, with the reason beside them
	}{
		{"Alarm", alerting.Alarm{}, nil},
		{"AlarmView", AlarmView{}, nil},
		{"AlarmDetail", AlarmDetail{}, nil},
		{"NobodyReached", alerting.NobodyReached{}, nil},
		{"LocationStep", LocationStep{}, nil},
		{"PlanStep", registry.PlanStep{}, nil},
		{"Me", Me{}, nil},
		{"WallSummary", WallSummary{}, nil},
		{"WallToken", state.WallToken{}, []string{"key"}}, // internal: where its session is
		{"Within", Within{}, nil},
		{"EdgeBox", EdgeBox{}, nil},
		{"TimelineEntry", alerting.Entry{}, nil},
		{"Device", DeviceView{}, []string{"password_hash"}}, // cleared by Device.Public
		{"NewDevice", NewDevice{}, nil},
		{"DevicePatch", DevicePatch{}, nil},
		{"ProvisionedDevice", ProvisionedDevice{}, []string{"password_hash"}},
		{"Health", registry.Health{}, nil},
		{"Site", SiteView{}, nil},
		{"SiteNode", registry.SiteNode{}, []string{"time_zone", "address", "created", "created_by", "updated"}}, // as Site
		{"Resident", ResidentView{}, nil},
		{"NewResident", NewResident{}, nil},
		{"Contact", registry.Contact{}, nil},
		{"Wellbeing", registry.Wellbeing{}, nil},
		{"Session", state.Session{}, nil},
		{"LoginResponse", loginResponse{}, nil},
		{"Profile", state.Profile{}, nil},
		{"User", state.User{}, []string{"password_hash"}}, // always empty in answers
		{"Operator", alerting.Operator{}, nil},
		{"Duty", DutyView{}, nil},
		{"ImportResult", ImportResult{}, nil},
		{"SLAReport", SLAReportView{}, nil},
		{"SLARow", SLARowView{}, nil},
		{"SLAShare", SLAShareView{}, nil},
		{"SLAStat", SLAStatView{}, nil},
		{"Error", FieldErrorBody{}, nil},
	}
	for _, p := range pairs {
		t.Run(p.schema, func(t *testing.T) {
			ref := doc.Components.Schemas[p.schema]
			if ref == nil || ref.Value == nil {
				t.Fatalf("no schema %s", p.schema)
			}
			props := schemaProperties(ref.Value)
			for _, name := range jsonFields(reflect.TypeOf(p.typ)) {
				if !props[name] && !slices.Contains(p.skip, name) {
					t.Errorf("%T writes JSON field %q, which schema %s does not describe", p.typ, name, p.schema)
				}
			}
		})
	}
}

// schemaProperties are the property names of s and of what it allOf's.
func schemaProperties(s *openapi3.Schema) map[string]bool {
	out := map[string]bool{}
	for name := range s.Properties {
		out[name] = true
	}
	for _, sub := range s.AllOf {
		if sub.Value != nil {
			for name := range schemaProperties(sub.Value) {
				out[name] = true
			}
		}
	}
	return out
}

// jsonFields are the JSON names of t's fields, embedded structs flattened.
func jsonFields(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if ft := f.Type; f.Anonymous && tag == "" {
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				out = append(out, jsonFields(ft)...)
				continue
			}
		}
		if tag == "" {
			tag = f.Name
		}
		out = append(out, tag)
	}
	return out
}
