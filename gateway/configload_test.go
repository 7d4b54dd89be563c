package gateway

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// loadAndValidate is what `anxin check-config` does.
func loadAndValidate(path string) (Config, error) {
	c, err := LoadConfig(path)
	if err != nil {
		return c, err
	}
	return c, c.Validate()
}

// TestConfigErrorsPointIntoTheFile: each mistake is reported as
// FILE:LINE:COL: PATH: what is wrong, at the key that is wrong; those
// Validate finds keep its wording, which names the field its own way.
func TestConfigErrorsPointIntoTheFile(t *testing.T) {
	const webhook = "notifiers:\n  webhooks:\n    county:\n"
	tests := []struct {
		name, yaml string
		want       []string // one per error, without the "FILE:" in front
	}{
		{"unknown top-level field", "mqtt_addr: \":1883\"\nmqtt_adr: \":1884\"\n",
			[]string{`2:1: mqtt_adr: unknown field (did you mean mqtt_addr?)`}},
		{"unknown nested field", webhook + "      url: https://a.example/\n      secert: abcdefghijklmnopq\n",
			[]string{`5:7: notifiers.webhooks.county.secert: unknown field (did you mean secret?)`}},
		{"every unknown field, not only the first", "a: 1\nlog_level: info\nb: 2\n",
			[]string{`1:1: a: unknown field`, `3:1: b: unknown field`}},
		{"duplicate key", "log_level: info\nlog_level: debug\n",
			[]string{`2:1: log_level: given twice (first at line 1)`}},
		{"wrong kind", "event_burst: lots\n",
			[]string{`1:14: event_burst: want a whole number, got a string`}},
		{"a list where a mapping belongs", "notifiers: [a, b]\n",
			[]string{`1:12: notifiers: want a mapping of fields, got a list`}},
		{"bad duration", "session_ttl: forever\n",
			[]string{`1:14: session_ttl: duration "forever": time: invalid duration "forever"`}},
		{"bad priority in a list", "escalation_policies:\n  - priority: P9\n",
			[]string{`2:15: escalation_policies[0].priority: `}},
		{"bad webhook url, from Validate", webhook + "      url: ftp://a.example/\n      secret: abcdefghijklmnopq\n",
			[]string{`4:7: notifiers.webhooks.county: bad notifier config: webhook url: `}},
		{"short webhook secret, from Validate", webhook + "      url: https://a.example/\n      secret: short\n",
			[]string{`5:7: notifiers.webhooks.county: bad notifier config: webhook secret: `}},
		{"bad address, from Validate", "# the LAN\nhttp_addr: \"8080\"\n",
			[]string{`2:1: http_addr: "8080": want host:port`}},
		{"bad zone, from Validate", "time_zone: Mars/Olympus\n",
			[]string{`1:1: time_zone: "Mars/Olympus": unknown time zone Mars/Olympus`}},
		{"unknown channel, from Validate", "site_channels:\n  qs-town: [\"robot:nope\"]\n",
			[]string{`2:13: site_channels.qs-town[0] "robot:nope": no such notifier`}},
		{"unset environment variable", "log_level: ${ANXIN_TEST_UNSET}\n",
			[]string{`1:12: log_level: environment variable ANXIN_TEST_UNSET is not set`}},
		{"secret and its file", webhook + "      url: https://a.example/\n      secret: abcdefghijklmnopq\n      secret_file: x\n",
			[]string{`6:7: notifiers.webhooks.county.secret_file: give secret or secret_file, not both`}},
		{"missing secret file", webhook + "      url: https://a.example/\n      secret_file: /nonexistent/anxin-secret\n",
			[]string{`5:20: notifiers.webhooks.county.secret_file: open /nonexistent/anxin-secret: no such file or directory`}},
		{"_file on a field that is no secret", webhook + "      url_file: /etc/hostname\n",
			[]string{`4:7: notifiers.webhooks.county.url_file: unknown field`}},
		{"YAML syntax: a tab indents", "notifiers:\n\twebhooks: {}\n",
			[]string{`2: found character that cannot start any token`}},
		{"JSON syntax", `{"mqtt_addr": ":1883",`,
			[]string{`1: did not find expected node content`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "anxin.yaml")
			writeTestFile(t, path, tt.yaml)
			_, err := loadAndValidate(path)
			if err == nil {
				t.Fatal("no error")
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Fatalf("%d error lines, want %d:\n%v", len(lines), len(tt.want), err)
			}
			for i, want := range tt.want {
				if !strings.HasPrefix(lines[i], path+":"+want) {
					t.Errorf("error line %d:\n  %s\nwant it to start with\n  %s:%s", i+1, lines[i], path, want)
				}
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Errorf("error is not a *ConfigError: %T", err)
			}
		})
	}
}

// TestConfigJSONStillReads: a JSON config, tabs and all, reads as YAML.
func TestConfigJSONStillReads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "anxin.json")
	writeTestFile(t, path, "{\n\t\"mqtt_addr\": \":1883\",\n\t\"event_rate\": 5.5,\n\t\"escalation\": {\"P2\": {\"steps\": [{\"after\": 90, \"targets\": [\"supervisor\"]}]}},\n"+
		"\t\"adapters\": [{\"type\": \"zigbee2mqtt\", \"config\": {\"base_topic\": \"z2m\"}}]\n}\n")
	c, err := loadAndValidate(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.EventRate != 5.5 || time.Duration(c.Escalation["P2"].Steps[0].After) != 90*time.Second {
		t.Fatalf("read %+v", c)
	}
	if got := string(c.Adapters[0].Config); got != `{"base_topic":"z2m"}` {
		t.Fatalf("adapter config %s", got)
	}
}

// TestConfigSecretsFromEnvAndFiles: ${NAME} and <secret>_file, relative to
// the config's directory, with the trailing newline of a file dropped.
func TestConfigSecretsFromEnvAndFiles(t *testing.T) {
	dir := t.TempDir()
	writeTestFile(t, filepath.Join(dir, "secrets", "county"), "county-secret-from-a-file\n")
	writeTestFile(t, filepath.Join(dir, "secrets", "z2m"), "bridge-password-from-a-file\r\n")
	writeTestFile(t, filepath.Join(dir, "token"), "influx-token")
	t.Setenv("ANXIN_TEST_KEY", "wecom-key-from-env")
	t.Setenv("ANXIN_TEST_HOST", "alarms.example.cn")
	path := filepath.Join(dir, "anxin.yaml")
	writeTestFile(t, path, `
notifiers:
  webhooks:
    county:
      url: https://${ANXIN_TEST_HOST}/anxin
      secret_file: secrets/county
  wecom:
    town: {key: "${ANXIN_TEST_KEY}"}
  dingtalk:
    county: {access_token_file: `+filepath.Join(dir, "token")+`, secret: "SEC$${not-expanded}"}
bridges:
  - {user: z2m, password_file: secrets/z2m, topics: ["zigbee2mqtt/#"]}
time_series:
  influxdb: {token_file: token}
`)
	c, err := loadAndValidate(path)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ name, got, want string }{
		{"webhook url", c.Notifiers.Webhooks["county"].URL, "https://alarms.example.cn/anxin"},
		{"webhook secret", c.Notifiers.Webhooks["county"].Secret, "county-secret-from-a-file"},
		{"wecom key", c.Notifiers.WeCom["town"].Key, "wecom-key-from-env"},
		{"dingtalk token", c.Notifiers.DingTalk["county"].AccessToken, "influx-token"},
		{"dingtalk secret", c.Notifiers.DingTalk["county"].Secret, "SEC${not-expanded}"},
		{"bridge password", c.Bridges[0].Password, "bridge-password-from-a-file"},
		{"influx token", c.TimeSeries.InfluxDB.Token, "influx-token"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %q, want %q", ch.name, ch.got, ch.want)
		}
	}

	// A secret read from a file that Validate refuses is reported at its
	// _file key (line 6), and its value is not in the error.
	writeTestFile(t, filepath.Join(dir, "secrets", "county"), "shortsecret\n")
	_, err = loadAndValidate(path)
	if err == nil || !strings.HasPrefix(err.Error(), path+":6:7: notifiers.webhooks.county: bad notifier config: webhook secret: ") || strings.Contains(err.Error(), "shortsecret") {
		t.Fatalf("error %v, want one at 6:7 naming secret_file and not showing the secret", err)
	}
}

// TestEverySecretHasAFileTwin: every field of the config whose name says
// it is a secret is in secretFields, so that it has a _file twin.
func TestEverySecretHasAFileTwin(t *testing.T) {
	secretish := func(name string) bool {
		for _, w := range []string{"secret", "password", "token", "key"} {
			if name == w || strings.HasSuffix(name, "_"+w) {
				return true
			}
		}
		return false
	}
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type, path string)
	walk = func(typ reflect.Type, path string) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Map {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || seen[typ] {
			return
		}
		seen[typ] = true
		for name, idx := range jsonFields(typ) {
			f := typ.FieldByIndex(idx)
			if secretish(name) && f.Type.Kind() == reflect.String && !slices.Contains(secretFields[typ], name) {
				t.Errorf("%s.%s (%s.%s) looks like a secret but has no _file twin: add it to secretFields", path, name, typ, f.Name)
			}
			walk(f.Type, path+"."+name)
		}
	}
	walk(reflect.TypeFor[Config](), "config")
	for typ, names := range secretFields {
		for _, n := range names {
			if _, ok := jsonFields(typ)[n]; !ok {
				t.Errorf("secretFields: %s has no field %q", typ, n)
			}
		}
	}
}

func TestExpandEnv(t *testing.T) {
	env := map[string]string{"A": "x", "EMPTY": ""}
	getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct{ in, want, err string }{
		{"plain", "plain", ""},
		{"pa$$word$", "pa$$word$", ""},
		{"${A}-${A}", "x-x", ""},
		{"[${EMPTY}]", "[]", ""},
		{"$${A}", "${A}", ""},
		{"${B}", "", "environment variable B is not set"},
		{"${A", "", "has no closing }"},
		{"${1A}", "", "not an environment variable name"},
	}
	for _, tt := range tests {
		got, err := expandEnv(tt.in, getenv)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("expandEnv(%q) error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("expandEnv(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func writeTestFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}
