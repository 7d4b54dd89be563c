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
			`config integrations.x: platform "aliyun": want one of ctwing, onenet`},
		{"short token", `{"integrations": {"x": {"platform": "ctwing", "token": "short", ` + rules + `}}}`,
			"config integrations.x: token must be at least 16 characters"},
		{"no token", `{"integrations": {"x": {"platform": "onenet", ` + rules + `}}}`,
			"config integrations.x: token must be at least 16 characters"},
		{"token and token_file", `{"integrations": {"x": {"platform": "ctwing", "token": "0123456789abcdef", "token_file": "` + tokenFile + `", ` + rules + `}}}`,
			"config integrations.x: give token or token_file, not both"},
		{"token_file missing", `{"integrations": {"x": {"platform": "ctwing", "token_file": "/nonexistent/token", ` + rules + `}}}`,
			"config integrations.x: token_file: open /nonexistent/token"},
		{"hmac without a secret", `{"integrations": {"x": {"platform": "ctwing", "auth": "hmac", "token": "0123456789abcdef", ` + rules + `}}}`,
			"config integrations.x: secret must be at least 16 characters"},
		{"onenet auth on ctwing", `{"integrations": {"x": {"platform": "ctwing", "auth": "onenet", "token": "0123456789abcdef", ` + rules + `}}}`,
			"config integrations.x: auth onenet is for platform onenet"},
		{"unknown auth", `{"integrations": {"x": {"platform": "ctwing", "auth": "basic", "token": "0123456789abcdef", ` + rules + `}}}`,
			`config integrations.x: auth "basic": want token, onenet or hmac`},
		{"no rules", `{"integrations": {"x": {"platform": "ctwing", "token": "0123456789abcdef"}}}`,
			"config integrations.x: vendor_json: the vendor rules are missing"},
		{"another topic", `{"integrations": {"x": {"platform": "ctwing", "token": "0123456789abcdef", "vendor_json": {"vendor": "nb", "topic": "nb/{device}", "rules": []}}}}`,
			`config integrations.x: vendor_json.topic must be "ingest/x/{device}"`},
		{"a bad rule", `{"integrations": {"x": {"platform": "ctwing", "token": "0123456789abcdef", "vendor_json": {"vendor": "nb", "rules": [{"field": "a", "event": "smoke.fire"}]}}}}`,
			"config integrations.x: vendor_json: "},
		{"a name no URL should carry", `{"integrations": {"a b": {"platform": "ctwing", "token": "0123456789abcdef", ` + rules + `}}}`,
			"config integrations.a b: the name must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.json")
			os.WriteFile(path, []byte(tt.json), 0o600)
			c, err := LoadConfig(path)
			if err == nil {
				err = c.Validate()
			}
			if err == nil || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("error %v, want one naming %q", err, tt.says)
			}
		})
	}
	good := `{"integrations": {"ctwing_smoke": {"platform": "ctwing", "token_file": "` + tokenFile + `", ` + rules + `}}}`
	path := filepath.Join(t.TempDir(), "c.json")
	os.WriteFile(path, []byte(good), 0o600)
	c, err := LoadConfig(path)
	if err == nil {
		err = c.Validate()
	}
	if err != nil {
		t.Fatalf("a good integration: %v", err)
	}
	ins, err := newIntegrations(c.Integrations)
	if in := ins["ctwing_smoke"]; err != nil || in == nil || in.secret != "a-token-from-a-file-0123" || in.ad.format != "vendor_json:nb" || in.auth != "token" {
		t.Fatalf("a good integration: %+v %v", in, err)
	}
}
