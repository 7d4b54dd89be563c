package gateway

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExampleConfigLoads(t *testing.T) {
	c, err := LoadConfig(filepath.Join("..", "deploy", "anxin.example.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "/var/lib/anxin" {
		t.Fatalf("data_dir %q", c.DataDir)
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	tests := []struct{ name, json, says string }{
		{"typo in a field name", `{"mqtt_adr": ":1883"}`, "mqtt_adr"},
		{"bad address", `{"http_addr": "8080"}`, "http_addr"},
		{"bad zone", `{"time_zone": "Mars/Olympus"}`, "time_zone"},
		{"bad priority", `{"escalation": {"P7": {"steps": []}}}`, "P7"},
		{"steps out of order", `{"escalation": {"P1": {"steps": [{"after": "60s", "targets": ["a"]}, {"after": "30s", "targets": ["b"]}]}}}`, "step 2"},
		{"step without targets", `{"escalation": {"P1": {"steps": [{"after": "60s"}]}}}`, "no targets"},
		{"bad duration", `{"session_ttl": "forever"}`, "forever"},
		{"bad log level", `{"log_level": "loud"}`, "log_level"},
		{"tls without a certificate", `{"mqtt_tls_addr": ":8883"}`, "tls_cert_file"},
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
}
