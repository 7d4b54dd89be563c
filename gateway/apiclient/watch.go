package apiclient

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
)

// ErrStreamClosed is returned by Watch when the gateway ends the stream
// (it restarted, or the watcher fell behind); watch again to go on.
var ErrStreamClosed = errors.New("the gateway closed the stream")

// WatchEvent is one message of a device's watch stream.
type WatchEvent struct {
	Event string          // event, reassure, health, rejected or alarm
	ID    string          // the SSE id, if the gateway sent one
	Data  json.RawMessage // JSON, as the gateway sent it
}

// Watch follows GET /api/v1/devices/{id}/watch, a Server-Sent Events
// stream, and calls fn for each message until ctx is done (ctx.Err()), the
// gateway closes the stream (ErrStreamClosed) or fn returns an error
// (that error). Comment lines, such as the gateway's pings, are skipped.
func (c *Client) Watch(ctx context.Context, id string, fn func(WatchEvent) error) error {
	req, err := http.NewRequestWithContext(ctx, "GET", c.BaseURL+"/api/v1/devices/"+esc(id)+"/watch", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		e := &Error{Status: resp.StatusCode}
		var body struct{ Error string }
		if json.Unmarshal(b, &body) == nil && body.Error != "" {
			e.Message = body.Error
		} else {
			e.Message = "watch " + id + ": HTTP " + resp.Status
		}
		return e
	}
	err = readSSE(resp.Body, fn)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// readSSE parses an event stream (the WHATWG format: "field: value" lines,
// a blank line ends a message, multi-line data joined by newlines).
func readSSE(r io.Reader, fn func(WatchEvent) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var ev WatchEvent
	var data []string
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if len(data) > 0 {
				ev.Data = json.RawMessage(strings.Join(data, "\n"))
				if ev.Event == "" {
					ev.Event = "message"
				}
				if err := fn(ev); err != nil {
					return err
				}
			}
			ev, data = WatchEvent{}, nil
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			ev.Event = value
		case "data":
			data = append(data, value)
		case "id":
			ev.ID = value
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return ErrStreamClosed
}
