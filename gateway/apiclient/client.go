// Package apiclient is a typed Go client of anxin's HTTP API (/api/v1):
// login, the site tree, residents, devices (add, patch, replace, walk test,
// CSV import), the audit trail, and a device's live watch stream.
//
// Its types mirror the API's JSON, not the gateway's Go types, so that a
// client such as anxinctl does not link the broker, the store and the alarm
// engine. anxinctl's tests run the real binary against a real gateway, so
// a drift between the two fails a test.
//
// A Client is safe for concurrent use once built. Every error of the API
// comes back as an *Error carrying the HTTP status, the message, the field
// at fault and, for an import, every bad row.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client talks to one gateway with one token.
type Client struct {
	BaseURL string // e.g. http://127.0.0.1:8080
	Token   string
	HTTP    *http.Client // nil is http.DefaultClient
}

// New returns a client of the gateway at base.
func New(base, token string) *Client {
	return &Client{BaseURL: strings.TrimRight(base, "/"), Token: token}
}

// Error is an answer of the API other than 2xx.
type Error struct {
	Status  int
	Message string
	Field   string     // the field at fault, when the API named one
	Rows    []RowError // an import's bad rows
}

func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("HTTP %d", e.Status)
	}
	return e.Message
}

// IsStatus reports whether err is an *Error with that HTTP status.
func IsStatus(err error, status int) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == status
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// do sends a request with a JSON body (unless body is an io.Reader, sent
// as is with contentType) and decodes a JSON answer into out.
func (c *Client) do(ctx context.Context, method, path string, body any, contentType string, out any) error {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case io.Reader:
		rd = b
	default:
		buf, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd, contentType = bytes.NewReader(buf), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, rd)
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		return answerError(method, path, resp.StatusCode, data)
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: answer is not the JSON expected: %w", method, path, err)
		}
	}
	return nil
}

// answerError is the *Error of an answer other than 2xx.
func answerError(method, path string, status int, data []byte) *Error {
	e := &Error{Status: status}
	var body struct {
		Error  string     `json:"error"`
		Field  string     `json:"field"`
		Errors []RowError `json:"errors"`
	}
	if json.Unmarshal(data, &body) == nil {
		e.Message, e.Field, e.Rows = body.Error, body.Field, body.Errors
	} else {
		e.Message = strings.TrimSpace(string(data))
	}
	if e.Message == "" {
		e.Message = fmt.Sprintf("%s %s: HTTP %d", method, path, status)
	}
	return e
}

func esc(s string) string { return url.PathEscape(s) }

// Login exchanges a user name and password for a session; it also sets c.Token.
func (c *Client) Login(ctx context.Context, user, password string) (Session, error) {
	var s Session
	err := c.do(ctx, "POST", "/api/v1/login", map[string]string{"user": user, "password": password}, "", &s)
	if err == nil {
		c.Token = s.Token
	}
	return s, err
}

// Logout ends the client's session.
func (c *Client) Logout(ctx context.Context) error {
	return c.do(ctx, "POST", "/api/v1/logout", nil, "", nil)
}

// Sites lists sites, optionally those under parent ("" for every site).
func (c *Client) Sites(ctx context.Context, parent string) ([]Site, error) {
	var out struct{ Sites []Site }
	path := "/api/v1/sites"
	if parent != "" {
		path += "?parent=" + url.QueryEscape(parent)
	}
	return out.Sites, c.do(ctx, "GET", path, nil, "", &out)
}

// AddSite creates a site.
func (c *Client) AddSite(ctx context.Context, s NewSite) (Site, error) {
	var out Site
	return out, c.do(ctx, "POST", "/api/v1/sites", s, "", &out)
}

// RemoveSite deletes a site without children, devices or residents.
func (c *Client) RemoveSite(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/api/v1/sites/"+esc(id), nil, "", nil)
}

// Tree returns the subtree at root, or every tree when root is "".
func (c *Client) Tree(ctx context.Context, root string) ([]*SiteNode, error) {
	var out struct{ Tree []*SiteNode }
	path := "/api/v1/sites?tree=1"
	if root != "" {
		path = "/api/v1/sites/" + esc(root) + "/tree"
	}
	return out.Tree, c.do(ctx, "GET", path, nil, "", &out)
}

// Residents lists residents, optionally those living at or under a site.
func (c *Client) Residents(ctx context.Context, home string) ([]Resident, error) {
	var out struct{ Residents []Resident }
	path := "/api/v1/residents"
	if home != "" {
		path += "?home=" + url.QueryEscape(home)
	}
	return out.Residents, c.do(ctx, "GET", path, nil, "", &out)
}

// Resident returns one resident.
func (c *Client) Resident(ctx context.Context, id string) (Resident, error) {
	var r Resident
	return r, c.do(ctx, "GET", "/api/v1/residents/"+esc(id), nil, "", &r)
}

// AddResident registers a resident.
func (c *Client) AddResident(ctx context.Context, r NewResident) (Resident, error) {
	var out Resident
	return out, c.do(ctx, "POST", "/api/v1/residents", r, "", &out)
}

// PatchResident changes the fields of a resident that patch names (the
// body of PATCH /api/v1/residents/{id}).
func (c *Client) PatchResident(ctx context.Context, id string, patch map[string]any) (Resident, error) {
	var out Resident
	return out, c.do(ctx, "PATCH", "/api/v1/residents/"+esc(id), patch, "", &out)
}

// SetPlan replaces a resident's response plan (an empty plan removes it).
func (c *Client) SetPlan(ctx context.Context, id string, p Plan) (Resident, error) {
	var out Resident
	if p == nil {
		p = Plan{}
	}
	return out, c.do(ctx, "PUT", "/api/v1/residents/"+esc(id)+"/plan", p, "", &out)
}

// RemoveResident deletes a resident no device refers to.
func (c *Client) RemoveResident(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/api/v1/residents/"+esc(id), nil, "", nil)
}

// DeviceFilter selects devices; zero values select everything in service.
type DeviceFilter struct {
	Site     string // at or under this site
	Resident string
	All      bool // also the retired devices (replaced or removed)
}

// Devices lists devices with their health.
func (c *Client) Devices(ctx context.Context, f DeviceFilter) ([]Device, error) {
	q := url.Values{}
	if f.Site != "" {
		q.Set("site", f.Site)
	}
	if f.Resident != "" {
		q.Set("resident", f.Resident)
	}
	if f.All {
		q.Set("state", "all")
	}
	path := "/api/v1/devices"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out struct{ Devices []Device }
	return out.Devices, c.do(ctx, "GET", path, nil, "", &out)
}

// EdgeBoxes lists the edge boxes, those at or under site when it is not "".
func (c *Client) EdgeBoxes(ctx context.Context, site string) ([]EdgeBox, error) {
	path := "/api/v1/edge-boxes"
	if site != "" {
		path += "?" + url.Values{"site": {site}}.Encode()
	}
	var out struct {
		EdgeBoxes []EdgeBox `json:"edge_boxes"`
	}
	return out.EdgeBoxes, c.do(ctx, "GET", path, nil, "", &out)
}

// Device returns one device.
func (c *Client) Device(ctx context.Context, id string) (Device, error) {
	var d Device
	return d, c.do(ctx, "GET", "/api/v1/devices/"+esc(id), nil, "", &d)
}

// AddDevice provisions a device; the answer holds its password, shown this once.
func (c *Client) AddDevice(ctx context.Context, d NewDevice) (Provisioned, error) {
	var out Provisioned
	return out, c.do(ctx, "POST", "/api/v1/devices", d, "", &out)
}

// RemoveDevice deletes a device; its alarms stay in the history.
func (c *Client) RemoveDevice(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/api/v1/devices/"+esc(id), nil, "", nil)
}

// ReplaceDevice swaps the hardware under an installation; the answer holds
// the new device's password, shown this once.
func (c *Client) ReplaceDevice(ctx context.Context, id string, r Replacement) (Provisioned, error) {
	var out Provisioned
	return out, c.do(ctx, "POST", "/api/v1/devices/"+esc(id)+"/replace", r, "", &out)
}

// SetInstalled ends a device's commissioning (installed true: supervised
// from now) or puts it back to commissioning.
func (c *Client) SetInstalled(ctx context.Context, id string, installed bool) (Device, error) {
	var out Device
	return out, c.do(ctx, "PATCH", "/api/v1/devices/"+esc(id), map[string]any{"installed": installed}, "", &out)
}

// SetTest switches a device's walk-test mode; it lasts for d, or the
// gateway's default (2 h) when d is 0, and ends by itself.
func (c *Client) SetTest(ctx context.Context, id string, on bool, d time.Duration) (Device, error) {
	body := map[string]any{"on": on}
	if on && d != 0 {
		body["duration"] = d.String()
	}
	var out Device
	return out, c.do(ctx, "POST", "/api/v1/devices/"+esc(id)+"/test", body, "", &out)
}

// DeviceAlarms returns the alarms of an installation: the device's and
// those of the devices it replaced, newest first.
func (c *Client) DeviceAlarms(ctx context.Context, id string, limit int) (DeviceAlarms, error) {
	var out DeviceAlarms
	return out, c.do(ctx, "GET", "/api/v1/devices/"+esc(id)+"/alarms?limit="+strconv.Itoa(max(limit, 1)), nil, "", &out)
}

// ImportOptions control Import.
type ImportOptions struct {
	Partial bool // import the good rows even when others are bad
	DryRun  bool // check only
	// Edge puts every row with an empty edge column (a box's own row
	// excepted) behind this edge box.
	Edge string
}

// Import sends a device CSV file. When rows are bad (and not Partial) the
// error is an *Error whose Rows list them.
func (c *Client) Import(ctx context.Context, csv io.Reader, o ImportOptions) (ImportResult, error) {
	q := url.Values{}
	if o.Partial {
		q.Set("partial", "true")
	}
	if o.DryRun {
		q.Set("dry_run", "true")
	}
	if o.Edge != "" {
		q.Set("edge", o.Edge)
	}
	path := "/api/v1/devices/import"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out ImportResult
	return out, c.do(ctx, "POST", path, csv, "text/csv; charset=utf-8", &out)
}

// Audit returns the audit trail newest first, of one object ("device:btn-1") or all.
func (c *Client) Audit(ctx context.Context, object string, limit int) ([]AuditEntry, error) {
	q := url.Values{}
	if object != "" {
		q.Set("object", object)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out struct{ Entries []AuditEntry }
	return out.Entries, c.do(ctx, "GET", "/api/v1/audit?"+q.Encode(), nil, "", &out)
}
