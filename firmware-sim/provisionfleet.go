package firmwaresim

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// importChunk is how many rows one import request carries: the gateway
// takes at most 10,000.
const importChunk = 10_000

// ProvisionFleet creates a fleet on a gateway: its sites (parents first) and
// residents through the API, where one exists already it is kept, then its
// devices through the bulk import, 10,000 rows a request. It returns the
// passwords the gateway issued, in the fleet's order.
func ProvisionFleet(ctx context.Context, o ProvisionOptions, f Fleet) ([]Credentials, error) {
	if o.Client == nil {
		o.Client = http.DefaultClient
	}
	for _, s := range f.Sites {
		body := map[string]string{"id": s.ID, "name": s.Name, "level": s.Level, "parent": s.Parent}
		if err := apiPost(ctx, o, "/api/v1/sites", "application/json", mustJSON(body), nil, true); err != nil {
			return nil, fmt.Errorf("site %s: %w", s.ID, err)
		}
	}
	for _, r := range f.Residents {
		// The registry wants a birth year and an emergency contact; the
		// fleet file says neither, so every resident gets the same made-up ones.
		body := map[string]any{"id": r.ID, "name": r.Name, "home": r.Home, "birth_year": 1945,
			"contacts": []map[string]string{{"name": "Family of " + r.Name, "phone": "+8613800000000", "relation": "family"}}}
		if err := apiPost(ctx, o, "/api/v1/residents", "application/json", mustJSON(body), nil, true); err != nil {
			return nil, fmt.Errorf("resident %s: %w", r.ID, err)
		}
	}
	out := make([]Credentials, 0, len(f.Devices))
	for start := 0; start < len(f.Devices); start += importChunk {
		chunk := f.Devices[start:min(start+importChunk, len(f.Devices))]
		var buf bytes.Buffer
		cw := csv.NewWriter(&buf)
		_ = cw.Write([]string{"id", "kind", "site", "resident"})
		for _, d := range chunk {
			_ = cw.Write([]string{d.ID, string(d.Kind), d.Site, d.Resident})
		}
		cw.Flush()
		var res struct {
			Created []Credentials `json:"created"`
		}
		if err := apiPost(ctx, o, "/api/v1/devices/import", "text/csv", buf.Bytes(), &res, false); err != nil {
			return out, fmt.Errorf("import devices %d-%d: %w", start+1, start+len(chunk), err)
		}
		out = append(out, res.Created...)
	}
	return out, nil
}

// apiPost posts body; a 409 (it exists) is success when existsOK.
func apiPost(ctx context.Context, o ProvisionOptions, path, ctype string, body []byte, out any, existsOK bool) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(o.API, "/")+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", ctype)
	if o.Token != "" {
		req.Header.Set("Authorization", "Bearer "+o.Token)
	}
	resp, err := o.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	switch {
	case resp.StatusCode == http.StatusConflict && existsOK:
		return nil
	case resp.StatusCode/100 != 2:
		return fmt.Errorf("gateway answered %s: %s", resp.Status, truncate(bytes.TrimSpace(b), 300))
	case out != nil:
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("decode answer: %w", err)
		}
	}
	return nil
}
