package gateway

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestIntegrationConfigErrorsNameTheField: an integration the gateway
// could not serve is refused at load, naming the integration and field.
func TestIntegrationConfigErrorsNameTheField(t *testing.T) {
	rules := `"vendor_json": {"vendor": "nb", "rules": [{"field": "payload.smoke_state", "when": [1], "event": "smoke.alarm", "trigger": "enter"}]}`
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("a-token-from-a-file-0123\n"), 0o600)
	tests := []struct{ name, json, says string }{
		{"unknown platform", `{"integrations": {"x": {"platform": "aliyun", "token": "0123456789abcdef", ` + rules + `}}}`,
			`integrations.x.platform: "aliyun" is not one of ctwing, onenet`},
		{"short token", `{"integrations": {"x": {"platform": "ctwing", "token": "short", ` + rules + `}}}`,
			"integrations.x.token: must be at least 16 characters"},
		{"no token", `{"integrations": {"x": {"platform": "onenet", ` + rules + `}}}`,
			"integrations.x.token: must be at least 16 characters"},
		{"token and token_file", `{"integrations": {"x": {"platform": "ctwing", "token": "0123456789abcdef", "token_file": "` + tokenFile + `", ` + rules + `}}}`,
			"integrations.x.token_file: give token or token_file, not both"},
		{"token_file missing", `{"integrations": {"x": {"platform": "ctwing", "token_file": "/nonexistent/token", ` + rules + `}}}`,
			"integrations.x.token_file: open /nonexistent/token"},
		{"hmac without a secret", `{"integrations": {"x": {"platform": "ctwing", "auth": "hmac", "token": "0123456789abcdef", ` + rules + `}}}`,
			"integrations.x.secret: must be at least 16 characters"},
		{"onenet auth on ctwing", `{"integrations": {"x": {"platform": "ctwing", "auth": "onenet", "token": "0123456789abcdef", ` + rules + `}}}`,
			"integrations.x.auth: onenet is for platform onenet"},
		{"unknown auth", `{"integrations": {"x": {"platform": "ctwing", "auth": "basic", "token": "0123456789abcdef", ` + rules + `}}}`,
			`integrations.x.auth: "basic": want token, onenet or hmac`},
		{"no rules", `{"integrations": {"x": {"platform": "ctwing", "token": "0123456789abcdef"}}}`,
			"integrations.x.vendor_json: the vendor rules are missing"},
		{"another topic", `{"integrations": {"x": {"platform": "ctwing", "token": "0123456789abcdef", "vendor_json": {"vendor": "nb", "topic": "nb/{device}", "rules": []}}}}`,
			`integrations.x.vendor_json.topic: must be "ingest/x/{device}"`},
		{"a bad rule", `{"integrations": {"x": {"platform": "ctwing", "token": "0123456789abcdef", "vendor_json": {"vendor": "nb", "rules": [{"field": "a", "event": "smoke.fire"}]}}}}`,
			`integrations.x.vendor_json: adapter "vendor_json": vendor "nb" rule 1: event type "smoke.fire"`},
		{"a name no URL should carry", `{"integrations": {"a b": {"platform": "ctwing", "token": "0123456789abcdef", ` + rules + `}}}`,
			"integrations.a b: the name must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadValidated(t, filepath.Join(t.TempDir(), "c.json"), tt.json)
			if err == nil || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("error %v, want one naming %q", err, tt.says)
			}
		})
	}
	good := `{"integrations": {"ctwing_smoke": {"platform": "ctwing", "token_file": "` + tokenFile + `", ` + rules + `}}}`
	c, err := loadValidated(t, filepath.Join(t.TempDir(), "c.json"), good)
	if err != nil {
		t.Fatalf("a good integration: %v", err)
	}
	ins, err := newIntegrations(c.Integrations)
	if in := ins["ctwing_smoke"]; err != nil || in == nil || in.secret != "a-token-from-a-file-0123" || in.ad.format != "vendor_json:nb" || in.auth != "token" {
		t.Fatalf("a good integration: %+v %v", in, err)
	}
}

// TestIntegrationConfigYAML: the README's example reads, its tokens from
// files beside the config.
func TestIntegrationConfigYAML(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "secrets"), 0o700)
	os.WriteFile(filepath.Join(dir, "secrets", "ctwing"), []byte("ctwing-token-0123456789\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "secrets", "onenet"), []byte("onenet-token-0123456789\n"), 0o600)
	yml := `integrations:
  ctwing_smoke:
    platform: ctwing
    token_file: secrets/ctwing
    vendor_json:
      vendor: ctwing_nb_smoke
      time: {field: timestamp, unit: ms}
      rules:
        - {field: payload.smoke_state, when: [1], event: smoke.alarm, trigger: enter, clear: smoke.clear}
        - {field: payload.battery_value, telemetry: battery}
  onenet_smoke:
    platform: onenet
    token_file: secrets/onenet
    vendor_json:
      vendor: onenet_nb_smoke
      rules:
        - {field: data.params.smoke_state.value, when: [1], event: smoke.alarm, trigger: enter, clear: smoke.clear}
        - {field: data.params.battery_percentage.value, telemetry: battery}
`
	c, err := loadValidated(t, filepath.Join(dir, "anxin.yaml"), yml)
	if err != nil {
		t.Fatal(err)
	}
	ins, err := newIntegrations(c.Integrations)
	if err != nil || ins["ctwing_smoke"].secret != "ctwing-token-0123456789" || ins["onenet_smoke"].auth != "onenet" ||
		ins["onenet_smoke"].ad.format != "vendor_json:onenet_nb_smoke" {
		t.Fatalf("integrations %+v %v", ins, err)
	}
}
