package gateway

// Reading the config file.
//
// The file is YAML, so JSON (a subset of YAML) reads as before. It is
// parsed into a yaml.Node tree, which keeps each value's line and column,
// and then walked into Config by reflection over the same `json` tags and
// json.Unmarshaler/encoding.TextUnmarshaler methods that the JSON reading
// used: the config types of alerting, devices and timeseries carry no yaml
// tags and need none, and a duration or a priority reads the same in either
// spelling. A type with its own UnmarshalJSON (a duration, an adapter's raw
// config) is handed its value converted to JSON.
//
// What the walk adds to plain decoding:
//   - an unknown field, a duplicate key or a value of the wrong kind is an
//     error naming the file, line, column and the field's path
//     ("anxin.yaml:12:3: notifiers.webhooks.county.secretx: unknown field");
//     every such error in the file is reported, not only the first;
//   - "${NAME}" in any string value is replaced by the environment variable
//     NAME (unset is an error; "$${" writes a literal "${");
//   - every secret field has a twin "<field>_file" naming a file that holds
//     the secret (secretFields); a relative path is relative to the config
//     file's directory, and one trailing newline is dropped.
//
// Config.Validate runs after the walk; its errors say "config <path> …",
// and for a config read from a file they are given the position where that
// path (or the one key of it that the message names, such as "url") was
// written: "anxin.yaml:4:7: notifiers.webhooks.county: … webhook url: …"
// (configSource.locate).

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/anxin-care/anxin/alerting/notify"
	"github.com/anxin-care/anxin/gateway/edge"
	"github.com/anxin-care/anxin/gateway/state"
	"github.com/anxin-care/anxin/gateway/timeseries"
)

// secretFileSuffix makes the name of a secret field's twin that names a file.
const secretFileSuffix = "_file"

// maxConfigErrors bounds the errors one load reports.
const maxConfigErrors = 20

// secretFields are the config fields that hold secrets, by the struct that
// has them and their JSON name. Each has a "<name>_file" twin, and its
// value is never put in an error. TestEverySecretHasAFileTwin keeps this in
// step with the config types.
var secretFields = map[reflect.Type][]string{
	reflect.TypeFor[Bridge]():                    {"password"},
	reflect.TypeFor[Integration]():               {"token", "secret"},
	reflect.TypeFor[notify.WebhookConfig]():      {"secret"},
	reflect.TypeFor[notify.AlertmanagerConfig](): {"password", "bearer_token"},
	reflect.TypeFor[notify.WeComConfig]():        {"key"},
	reflect.TypeFor[notify.DingTalkConfig]():     {"access_token", "secret"},
	reflect.TypeFor[timeseries.InfluxConfig]():   {"token"},
	reflect.TypeFor[edge.CentralConfig]():        {"password"},
	reflect.TypeFor[state.PostgresConfig]():      {"dsn"},
}

// ConfigError is a mistake in a config file, at a line and column when it
// is known.
type ConfigError struct {
	File         string
	Line, Column int    // 0 when the mistake has no one place
	Path         string // the field, e.g. "notifiers.webhooks.county.url"; may be empty
	Msg          string
	Err          error // what the message came from, if anything

	pathInMsg bool // Msg names the field itself (an error of Validate)
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	b.WriteString(": ")
	if e.Path != "" && !e.pathInMsg {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

func (e *ConfigError) Unwrap() error { return e.Err }

// position is where a field was written.
type position struct{ line, col int }

// configSource remembers where each field of a config was written, so
// that Validate's errors can point there.
type configSource struct {
	file string
	pos  map[string]position
	name map[string]string // a path whose value came from a differently named key (secret_file)
}

// LoadConfig reads a YAML (or JSON) config file. It reports every unknown
// field, duplicate key and value of the wrong kind, each with its line and
// column; it does not validate (Validate does, pointing into the file).
func LoadConfig(path string) (Config, error) {
	var c Config
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	d := &configDecoder{
		src:    &configSource{file: path, pos: map[string]position{}, name: map[string]string{}},
		dir:    filepath.Dir(path),
		getenv: os.LookupEnv,
	}
	if err := d.decodeFile(b, &c); err != nil {
		return Config{}, err
	}
	c.src = d.src
	return c, nil
}

// FromFlag records that a flag has set the field at path (e.g.
// "mqtt_addr"), so that an error about it does not point into the file.
func (c *Config) FromFlag(path string) {
	if c.src != nil {
		delete(c.src.pos, path)
	}
}

type configDecoder struct {
	src    *configSource
	dir    string
	getenv func(string) (string, bool)
	errs   []error
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (d *configDecoder) decodeFile(b []byte, c *Config) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		line := 0
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = m[2]
		}
		return &ConfigError{File: d.src.file, Line: line, Msg: msg, Err: err}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil // an empty file: every default
	}
	d.decode(doc.Content[0], reflect.ValueOf(c).Elem(), "")
	return errors.Join(d.errs...)
}

func (d *configDecoder) fail(n *yaml.Node, path, format string, args ...any) {
	if len(d.errs) == maxConfigErrors {
		d.errs = append(d.errs, &ConfigError{File: d.src.file, Msg: "too many errors"})
	}
	if len(d.errs) > maxConfigErrors {
		return
	}
	d.errs = append(d.errs, &ConfigError{File: d.src.file, Line: n.Line, Column: n.Column, Path: path, Msg: fmt.Sprintf(format, args...)})
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// decode sets v from n; path names v for errors.
func (d *configDecoder) decode(n *yaml.Node, v reflect.Value, path string) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // as JSON null: the field keeps its zero value, its default
	}
	if v.CanAddr() && v.Addr().Type().Implements(jsonUnmarshaler) {
		d.decodeJSON(n, v, path)
		return
	}
	if v.CanAddr() && v.Addr().Type().Implements(textUnmarshaler) {
		s, ok := d.scalar(n, path)
		if !ok {
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			d.fail(n, path, "%v", err)
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, "want a list, got %s", kindOf(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			d.src.pos[p] = position{item.Line, item.Column}
			d.decode(item, s.Index(i), p)
		}
		v.Set(s)
	case reflect.String:
		if s, ok := d.scalar(n, path); ok {
			v.SetString(s)
		}
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		s, ok := d.scalar(n, path)
		if !ok {
			return
		}
		// Resolve the (expanded) text as YAML would a plain scalar, so that
		// "${RATE}" reads as a number but "20" in quotes stays a string.
		plain := &yaml.Node{Kind: yaml.ScalarNode, Value: s}
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 && !strings.Contains(n.Value, "${") {
			plain.Style = n.Style
		}
		if err := plain.Decode(v.Addr().Interface()); err != nil {
			d.fail(n, path, "want %s, got %s", kindName(v.Kind()), kindOf(plain))
		}
	case reflect.Interface:
		d.decodeJSON(n, v, path)
	default:
		d.fail(n, path, "cannot be set from a config file (%s)", v.Type())
	}
}

func (d *configDecoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "want a mapping of fields, got %s", kindOf(n))
		return
	}
	fields := jsonFields(v.Type())
	secrets := secretFields[v.Type()]
	given := map[string]bool{}
	for i := 0; i < len(n.Content); i += 2 {
		given[n.Content[i].Value] = true
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		name := k.Value
		p := joinPath(path, name)
		if prev, dup := seen[name]; dup {
			d.fail(k, p, "given twice (first at line %d)", prev.Line)
			continue
		}
		seen[name] = k
		if idx, ok := fields[name]; ok {
			d.src.pos[p] = position{k.Line, k.Column}
			d.decode(val, v.FieldByIndex(idx), p)
			continue
		}
		if base, ok := strings.CutSuffix(name, secretFileSuffix); ok && slices.Contains(secrets, base) {
			if given[base] {
				d.fail(k, p, "give %s or %s, not both", base, name)
				continue
			}
			d.decodeSecretFile(k, val, v.FieldByIndex(fields[base]), path, base)
			continue
		}
		d.fail(k, p, "unknown field%s", d.suggest(name, fields))
	}
}

// suggest names the known fields when there are few, to help with a typo.
func (d *configDecoder) suggest(name string, fields map[string][]int) string {
	var close []string
	for f := range fields {
		if strings.EqualFold(f, name) || levenshtein1(f, name) {
			close = append(close, f)
		}
	}
	if len(close) == 0 {
		return ""
	}
	slices.Sort(close)
	return fmt.Sprintf(" (did you mean %s?)", strings.Join(close, " or "))
}

// levenshtein1 reports whether a and b differ by one insertion, deletion,
// substitution or swap of neighbours.
func levenshtein1(a, b string) bool {
	if len(a) < len(b) {
		a, b = b, a
	}
	if len(a)-len(b) > 1 || a == b {
		return false
	}
	i := 0
	for i < len(b) && a[i] == b[i] {
		i++
	}
	switch {
	case len(a) != len(b):
		return a[i+1:] == b[i:]
	case i+1 < len(a) && a[i] == b[i+1] && a[i+1] == b[i] && a[i+2:] == b[i+2:]:
		return true
	default:
		return a[i+1:] == b[i+1:]
	}
}

// decodeSecretFile reads the secret of field base from the file that the
// key k (base_file) names, into v. The secret never appears in an error.
func (d *configDecoder) decodeSecretFile(k, val *yaml.Node, v reflect.Value, path, base string) {
	p := joinPath(path, k.Value)
	name, ok := d.scalar(val, p)
	if !ok {
		return
	}
	if name == "" {
		d.fail(val, p, "names no file")
		return
	}
	if !filepath.IsAbs(name) {
		name = filepath.Join(d.dir, name)
	}
	b, err := os.ReadFile(name)
	if err != nil {
		d.fail(val, p, "%v", err)
		return
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	if len(b) == 0 {
		d.fail(val, p, "%s is empty", name)
		return
	}
	d.src.pos[joinPath(path, base)] = position{k.Line, k.Column}
	d.src.name[joinPath(path, base)] = p
	v.SetString(string(b))
}

func (d *configDecoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "want a mapping, got %s", kindOf(n))
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	kt, et := v.Type().Key(), v.Type().Elem()
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		p := joinPath(path, k.Value)
		if prev, dup := seen[k.Value]; dup {
			d.fail(k, p, "given twice (first at line %d)", prev.Line)
			continue
		}
		seen[k.Value] = k
		key := reflect.New(kt).Elem()
		switch {
		case reflect.PointerTo(kt).Implements(textUnmarshaler):
			if err := key.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(k.Value)); err != nil {
				d.fail(k, p, "%v", err)
				continue
			}
		case kt.Kind() == reflect.String:
			key.SetString(k.Value)
		default:
			d.fail(k, p, "cannot be a key (%s)", kt)
			continue
		}
		d.src.pos[p] = position{k.Line, k.Column}
		elem := reflect.New(et).Elem()
		d.decode(val, elem, p)
		v.SetMapIndex(key, elem)
	}
}

// decodeJSON hands n, as JSON, to v's own UnmarshalJSON (or to
// encoding/json for an interface).
func (d *configDecoder) decodeJSON(n *yaml.Node, v reflect.Value, path string) {
	x, ok := d.generic(n, path)
	if !ok {
		return
	}
	b, err := json.Marshal(x)
	if err != nil {
		d.fail(n, path, "%v", err)
		return
	}
	if err := json.Unmarshal(b, v.Addr().Interface()); err != nil {
		d.fail(n, path, "%v", err)
	}
}

// generic is n as encoding/json would have decoded the same JSON into an any.
func (d *configDecoder) generic(n *yaml.Node, path string) (any, bool) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := joinPath(path, n.Content[i].Value)
			if _, dup := m[n.Content[i].Value]; dup {
				d.fail(n.Content[i], p, "given twice")
				return nil, false
			}
			d.src.pos[p] = position{n.Content[i].Line, n.Content[i].Column}
			x, ok := d.generic(n.Content[i+1], p)
			if !ok {
				return nil, false
			}
			m[n.Content[i].Value] = x
		}
		return m, true
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, item := range n.Content {
			x, ok := d.generic(item, fmt.Sprintf("%s[%d]", path, i))
			if !ok {
				return nil, false
			}
			s[i] = x
		}
		return s, true
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, true
		case "!!bool", "!!int", "!!float":
			var x any
			if err := n.Decode(&x); err != nil {
				d.fail(n, path, "%v", err)
				return nil, false
			}
			return x, true
		}
		return d.scalar(n, path)
	}
	d.fail(n, path, "want a value, got %s", kindOf(n))
	return nil, false
}

// scalar is n's text with ${NAME} references replaced.
func (d *configDecoder) scalar(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "want a single value, got %s", kindOf(n))
		return "", false
	}
	s, err := expandEnv(n.Value, d.getenv)
	if err != nil {
		d.fail(n, path, "%v", err)
		return "", false
	}
	return s, true
}

// expandEnv replaces each ${NAME} in s by the environment variable NAME,
// and $${ by a literal ${. Any other $ stays as it is, so that an inline
// password with a $ in it needs no escaping.
func expandEnv(s string, getenv func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		if i > 0 && s[i-1] == '$' {
			b.WriteString(s[:i]) // the first $ of $${ is the escape: keep one $
			b.WriteString("{")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", fmt.Errorf("%q has no closing }", s[i:])
		}
		name := s[i+2 : i+end]
		if !envName.MatchString(name) {
			return "", fmt.Errorf("${%s}: not an environment variable name (write $${ for a literal ${)", name)
		}
		val, ok := getenv(name)
		if !ok {
			return "", fmt.Errorf("environment variable %s is not set", name)
		}
		b.WriteString(val)
		s = s[i+end+1:]
	}
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// jsonFields maps the JSON names of t's fields to their indexes, as
// encoding/json would (fields of embedded structs without a name promoted).
func jsonFields(t reflect.Type) map[string][]int {
	out := map[string][]int{}
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || f.Anonymous && f.Tag.Get("json") == "" {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		if _, taken := out[name]; !taken || len(f.Index) < len(out[name]) {
			out[name] = f.Index
		}
	}
	return out
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func kindOf(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.ShortTag() {
	case "!!str":
		return "a string"
	case "!!int", "!!float":
		return "a number"
	case "!!bool":
		return "true or false"
	}
	return "a " + strings.TrimPrefix(n.ShortTag(), "!!")
}

func kindName(k reflect.Kind) string {
	switch k {
	case reflect.Bool:
		return "true or false"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number, not negative"
	}
	return "a whole number"
}

// pathToken is the path that a Validate error names after "config ".
var pathToken = regexp.MustCompile(`^[A-Za-z0-9_.\-\[\]]+`)

// locate gives err, an error of Validate that names a field as
// "config <path> …", the file, line and column where that field was
// written. When the path is a mapping and the rest of the message names
// exactly one of its keys ("webhook url …"), it points at that key. The
// message itself is kept: tests and people match on its wording.
func (s *configSource) locate(err error) error {
	msg := err.Error()
	rest, ok := strings.CutPrefix(msg, "config ")
	if !ok {
		rest, _ = strings.CutPrefix(msg, "config: ")
		return &ConfigError{File: s.file, Msg: rest, Err: err}
	}
	tok := pathToken.FindString(rest)
	path := ""
	for p := tok; p != ""; p = trimPathStep(p) {
		if _, ok := s.pos[p]; ok {
			path = p
			break
		}
	}
	if path == "" {
		return &ConfigError{File: s.file, Msg: rest, Err: err}
	}
	// The message stays as Validate wrote it (it names the field its own
	// way); only the position is added, of the deepest field it names.
	field := path
	if child := s.namedChild(path, strings.TrimPrefix(rest, path)); child != "" {
		field = child
	}
	pos := s.pos[field]
	if n, ok := s.name[field]; ok {
		field = n
	}
	return &ConfigError{File: s.file, Line: pos.line, Column: pos.col, Path: field, Msg: rest, Err: err, pathInMsg: true}
}

// trimPathStep drops the last ".name" or "[i]" of p.
func trimPathStep(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

var word = regexp.MustCompile(`[a-z_]+`)

func (s *configSource) namedChild(path, msg string) string {
	var found string
	for _, w := range word.FindAllString(msg, -1) {
		c := path + "." + w
		if _, ok := s.pos[c]; ok && c != found {
			if found != "" {
				return ""
			}
			found = c
		}
	}
	return found
}
