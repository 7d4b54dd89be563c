package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/anxin-care/anxin/alerting"
)

// DefaultTimeout bounds one attempt of a notifier whose config sets none.
const DefaultTimeout = 10 * time.Second

// maxResponse is how much of a response body a notifier reads.
const maxResponse = 64 << 10

// HTTPError is a response outside 2xx.
type HTTPError struct {
	Status int
	Body   string // the start of the response body, scrubbed of secrets (scrub)
	// RetryAfter is the receiver's Retry-After, zero when absent.
	RetryAfter time.Duration
}

func (e *HTTPError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("http status %d", e.Status)
	}
	return fmt.Sprintf("http status %d: %s", e.Status, e.Body)
}

// RobotError is a group robot's refusal: HTTP 200 with errcode ≠ 0.
type RobotError struct {
	Code    int
	Message string
}

func (e *RobotError) Error() string { return fmt.Sprintf("errcode %d: %s", e.Code, e.Message) }

// attemptInfo carries what an attempt learnt back to the retry stage.
type attemptInfo struct{ status int }

type attemptKey struct{}

func withAttemptInfo(ctx context.Context) (context.Context, *attemptInfo) {
	info := &attemptInfo{}
	return context.WithValue(ctx, attemptKey{}, info), info
}

func noteStatus(ctx context.Context, status int) {
	if info, ok := ctx.Value(attemptKey{}).(*attemptInfo); ok {
		info.status = status
	}
}

// retryStatus says whether a request that got status may succeed when
// sent again: 408, 429 and 5xx may; other 4xx will not.
func retryStatus(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

// post sends body as JSON and returns the 2xx response body. Errors never
// carry the URL, which holds the robots' keys and tokens, nor, scrubbed,
// an answer that echoes it.
func post(ctx context.Context, client *http.Client, timeout time.Duration, u string, header http.Header,
	body []byte) (retry bool, resp []byte, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return false, nil, redact(err)
	}
	req.Header = header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "anxin-notify/1")
	res, err := client.Do(req)
	if err != nil {
		// A network failure or timeout may pass; the caller's own
		// cancellation will be seen by the retry stage.
		return true, nil, redact(err)
	}
	defer res.Body.Close()
	noteStatus(ctx, res.StatusCode)
	resp, err = io.ReadAll(io.LimitReader(res.Body, maxResponse))
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxResponse))
	if res.StatusCode < 200 || res.StatusCode > 299 {
		he := &HTTPError{Status: res.StatusCode, Body: scrub(string(resp), u)}
		if s, perr := strconv.Atoi(res.Header.Get("Retry-After")); perr == nil && s > 0 {
			he.RetryAfter = time.Duration(s) * time.Second
		}
		return retryStatus(res.StatusCode), nil, he
	}
	if err != nil {
		return true, nil, fmt.Errorf("read response: %w", redact(err))
	}
	return false, resp, nil
}

// redact removes the URL from a url.Error.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", strings.ToLower(ue.Op), ue.Err)
	}
	return err
}

// validURL checks a configured base URL without echoing it.
func validURL(field, raw string) error {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return fmt.Errorf("%w: %s is empty", ErrBadConfig, field)
	case err != nil:
		return fmt.Errorf("%w: %s does not parse", ErrBadConfig, field)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%w: %s: scheme must be http or https", ErrBadConfig, field)
	case u.Host == "":
		return fmt.Errorf("%w: %s has no host", ErrBadConfig, field)
	}
	return nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func timeoutOf(d alerting.Duration) time.Duration { return orDefault(time.Duration(d), DefaultTimeout) }

func clientOr(c *http.Client) *http.Client { return orDefault(c, http.DefaultClient) }
