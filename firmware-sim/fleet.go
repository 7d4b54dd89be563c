package firmwaresim

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/anxin-care/anxin/devices"
)

// Credentials are what provisioning issues for one device.
type Credentials struct {
	ID       string `json:"id"`
	Password string `json:"password"`
}

// ReadDevicesFile reads a fleet's passwords: one "id,password" per line,
// or the id,password,mqtt_broker of anxinctl device import --passwords-out. Blank lines,
// lines starting with '#' and a header line "id,password" are skipped.
func ReadDevicesFile(path string) ([]Credentials, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("devices file: %w", err)
	}
	defer f.Close()
	creds, err := ParseDevices(f)
	if err != nil {
		return nil, fmt.Errorf("devices file %s: %w", path, err)
	}
	return creds, nil
}

// ParseDevices parses the devices file format of ReadDevicesFile.
func ParseDevices(r io.Reader) ([]Credentials, error) {
	cr := csv.NewReader(r)
	cr.Comment, cr.FieldsPerRecord, cr.TrimLeadingSpace = '#', -1, true
	var out []Credentials
	seen := map[string]bool{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		// anxinctl device import --passwords-out adds a third column, the broker.
		if (len(rec) == 2 || len(rec) == 3) && strings.EqualFold(rec[0], "id") && strings.EqualFold(rec[1], "password") {
			continue
		}
		if len(rec) != 2 && len(rec) != 3 {
			return nil, fmt.Errorf("line %d: want id,password[,mqtt_broker], got %d fields", line, len(rec))
		}
		c := Credentials{ID: strings.TrimSpace(rec[0]), Password: strings.TrimSpace(rec[1])}
		if err := devices.ValidateID(c.ID); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if seen[c.ID] {
			return nil, fmt.Errorf("line %d: device %s listed twice", line, c.ID)
		}
		seen[c.ID] = true
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no devices")
	}
	return out, nil
}

// WriteDevices writes creds in the devices file format.
func WriteDevices(w io.Writer, creds []Credentials) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"id", "password"}); err != nil {
		return err
	}
	for _, c := range creds {
		if err := cw.Write([]string{c.ID, c.Password}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// FleetIDs names n devices prefix0001, prefix0002, … (wider when n needs it).
func FleetIDs(prefix string, n int) []string {
	width := max(len(fmt.Sprint(n)), 4)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s%0*d", prefix, width, i+1)
	}
	return ids
}

// ProvisionOptions says where and how to create devices on a gateway.
type ProvisionOptions struct {
	API    string // gateway base URL, e.g. http://127.0.0.1:8080
	Token  string // bearer token of an installer or admin; never logged
	Kind   devices.Kind
	IDs    []string
	Client *http.Client // nil is http.DefaultClient
}

// Provision creates each device through the gateway's POST /api/v1/devices
// and returns the passwords it issued. It stops at the first failure and
// returns what was created so far with the error.
func Provision(ctx context.Context, o ProvisionOptions) ([]Credentials, error) {
	if o.Client == nil {
		o.Client = http.DefaultClient
	}
	if _, err := devices.LookupKind(o.Kind); err != nil {
		return nil, fmt.Errorf("%w: kind: %w", ErrInvalidConfig, err)
	}
	out := make([]Credentials, 0, len(o.IDs))
	for _, id := range o.IDs {
		c, err := provisionOne(ctx, o, id)
		if err != nil {
			return out, fmt.Errorf("provision %s: %w", id, err)
		}
		out = append(out, c)
	}
	return out, nil
}

func provisionOne(ctx context.Context, o ProvisionOptions, id string) (Credentials, error) {
	body := mustJSON(map[string]string{"id": id, "kind": string(o.Kind)})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(o.API, "/")+"/api/v1/devices", bytes.NewReader(body))
	if err != nil {
		return Credentials{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if o.Token != "" {
		req.Header.Set("Authorization", "Bearer "+o.Token)
	}
	resp, err := o.Client.Do(req)
	if err != nil {
		return Credentials{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return Credentials{}, fmt.Errorf("gateway answered %s: %s", resp.Status, truncate(bytes.TrimSpace(b), 200))
	}
	var c Credentials
	if err := json.Unmarshal(b, &c); err != nil || c.Password == "" {
		return Credentials{}, fmt.Errorf("gateway answer has no id and password: %s", truncate(b, 200))
	}
	if c.ID == "" {
		c.ID = id
	}
	return c, nil
}
