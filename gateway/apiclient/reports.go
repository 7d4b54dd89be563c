package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// SLAQuery selects a service-level report; zero values take the gateway's
// defaults (the last 7 days, every site, grouped by village).
type SLAQuery struct {
	// From and To are RFC 3339 times or dates ("2026-11-01", a day in the
	// gateway's time zone; To includes its whole day). They go to the
	// gateway as written, which checks them.
	From, To string
	Site     string // only alarms at or under this site
	GroupBy  string // county, township, village or home
}

func (q SLAQuery) path(format string) string {
	v := url.Values{}
	for k, s := range map[string]string{"from": q.From, "to": q.To, "site": q.Site, "group_by": q.GroupBy, "format": format} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if len(v) == 0 {
		return "/api/v1/reports/sla"
	}
	return "/api/v1/reports/sla?" + v.Encode()
}

// SLAReport is the service level of P1, P2 and P3 alarms in a period: in
// total, by site and by shift.
type SLAReport struct {
	From     time.Time  `json:"from"`
	To       time.Time  `json:"to"`
	Site     string     `json:"site,omitempty"`
	GroupBy  string     `json:"group_by"`
	TimeZone string     `json:"time_zone"`
	Shifts   []SLAShift `json:"shifts"`
	Total    []SLARow   `json:"total"`
	BySite   []SLARow   `json:"by_site"`
	ByShift  []SLARow   `json:"by_shift"`
}

// SLAShift is a named daily window in the gateway's time zone.
type SLAShift struct {
	Name  string `json:"name"`
	Start string `json:"start"`
	End   string `json:"end"`
}

// SLARow is one priority in one group (Site or Shift; neither in the totals).
type SLARow struct {
	Site      string   `json:"site,omitempty"`
	SiteName  string   `json:"site_name,omitempty"`
	SitePath  string   `json:"site_path,omitempty"`
	Shift     string   `json:"shift,omitempty"`
	Priority  string   `json:"priority"`
	Count     int      `json:"count"`
	Within60  SLAShare `json:"ack_within_60s"`
	Within180 SLAShare `json:"ack_within_180s"`
	Ack       SLAStat  `json:"time_to_ack"`
	Dispatch  SLAStat  `json:"time_to_dispatch"`
	Resolve   SLAStat  `json:"time_to_resolve"`
}

// SLAShare is how many of the alarms judged were acknowledged in time;
// Share and MeetsTarget are nil when none was judged.
type SLAShare struct {
	Met         int      `json:"met"`
	Of          int      `json:"of"`
	Share       *float64 `json:"share"`
	Target      float64  `json:"target"`
	MeetsTarget *bool    `json:"meets_target"`
}

// SLAStat is a median and 90th percentile in seconds, nil when N is 0.
type SLAStat struct {
	N       int      `json:"n"`
	MedianS *float64 `json:"median_s"`
	P90S    *float64 `json:"p90_s"`
}

// SLAReport returns the service-level report.
func (c *Client) SLAReport(ctx context.Context, q SLAQuery) (SLAReport, error) {
	var out SLAReport
	return out, c.do(ctx, "GET", q.path(""), nil, "", &out)
}

// SLAReportCSV copies the report as CSV, as the gateway writes it, to w.
func (c *Client) SLAReportCSV(ctx context.Context, q SLAQuery, w io.Writer) error {
	path := q.path("csv")
	req, err := http.NewRequestWithContext(ctx, "GET", c.BaseURL+path, nil)
	if err != nil {
		return err
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		// The same *Error as every other call; do reads JSON answers only.
		data, _ := io.ReadAll(resp.Body)
		e := &Error{Status: resp.StatusCode}
		var body struct {
			Error string `json:"error"`
			Field string `json:"field"`
		}
		if json.Unmarshal(data, &body) == nil && body.Error != "" {
			e.Message, e.Field = body.Error, body.Field
		} else if e.Message = strings.TrimSpace(string(data)); e.Message == "" {
			e.Message = fmt.Sprintf("GET %s: HTTP %d", path, resp.StatusCode)
		}
		return e
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return nil
}
