package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/anxin-care/anxin/alerting"
	"github.com/anxin-care/anxin/gateway/state"
)

// sseFrame is one message of a stream as a client reads it.
type sseFrame struct{ id, event, data string }

// streamOf serves the alarm stream of h to a reader of role.
func streamOf(t *testing.T, h *Hub, role state.Role) string {
	srv := &server{Options: Options{Now: time.Now, StreamWriteTimeout: 5 * time.Second}, hub: h,
		log: slog.New(slog.DiscardHandler), streams: newStreamMetrics(prometheus.NewRegistry())}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		srv.handleStream(w, withScope(r, everything), state.Session{User: "li", Role: role})
	}))
	t.Cleanup(ts.Close)
	t.Cleanup(h.Close) // before ts.Close, which waits for the streams to end
	return ts.URL
}

// open connects to the stream with the given Last-Event-ID header and
// query; its frames with data arrive on the channel, in order.
func open(t *testing.T, url, header, query string) <-chan sseFrame {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if query != "" {
		url += "?last_event_id=" + query
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	if header != "" {
		req.Header.Set("Last-Event-ID", header)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("stream: %v %v", err, resp)
	}
	ch := make(chan sseFrame, 64)
	go func() {
		defer resp.Body.Close()
		defer close(ch)
		sc := bufio.NewScanner(resp.Body)
		var f sseFrame
		for sc.Scan() {
			field, value, _ := strings.Cut(sc.Text(), ": ")
			switch field {
			case "id":
				f.id = value
			case "event":
				f.event = value
			case "data":
				f.data = value
			case "":
				if f.data != "" {
					ch <- f
				}
				f = sseFrame{}
			}
		}
	}()
	return ch
}

// raise publishes a change of alarm id (a walk test or not) on h.
func raise(h *Hub, id string, test bool) {
	h.PublishChange(alerting.Change{Alarm: &alerting.Alarm{ID: id, Device: "d-" + id, Test: test},
		Entry: alerting.Entry{Action: "raised"}})
}

// read collects frames as "id event alarm" up to and including the one
// about alarm sentinel.
func read(t *testing.T, ch <-chan sseFrame, sentinel string) []string {
	t.Helper()
	var got []string
	for {
		select {
		case f, ok := <-ch:
			if !ok {
				t.Fatalf("stream ended after %v", got)
			}
			var m StreamMessage
			json.Unmarshal([]byte(f.data), &m)
			a := f.data
			if m.Alarm != nil {
				a = m.Alarm.ID
			}
			got = append(got, f.id+" "+f.event+" "+a)
			if a == sentinel {
				return got
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no %s within 5 s after %v", sentinel, got)
		}
	}
}

// TestStreamResumeWindow: with a window of 3 frames, a client that missed
// up to 3 gets them and then the live ones; one that missed more, or whose
// id is not of this hub, is told to reload, then gets the live ones. The
// header wins over the query parameter. Each case ends on a live sentinel
// alarm, so that "nothing else came" is checked once the stream caught up.
func TestStreamResumeWindow(t *testing.T) {
	reload := func(reason string) string { return fmt.Sprintf("b00t-5 reload {\"reason\":%q}", reason) }
	for _, c := range []struct {
		name, header, query string
		want                []string
	}{
		{"missed the window", "b00t-2", "", []string{"b00t-3 alarm A3", "b00t-4 alarm A4", "b00t-5 alarm A5"}},
		{"missed one, by query", "", "b00t-4", []string{"b00t-5 alarm A5"}},
		{"missed none", "b00t-5", "", nil},
		{"header before query", "b00t-4", "b00t-1", []string{"b00t-5 alarm A5"}},
		{"older than the window", "b00t-1", "", []string{reload(reloadExpired)}},
		{"another boot", "0123456789ab-4", "", []string{reload(reloadUnknown)}},
		{"not an id", "4", "", []string{reload(reloadUnknown)}},
		{"from the future", "b00t-9", "", []string{reload(reloadUnknown)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := NewHub(WithWindow(3))
			h.boot = "b00t"
			url := streamOf(t, h, state.RoleOperator)
			for i := 1; i <= 5; i++ {
				raise(h, fmt.Sprint("A", i), false)
			}
			ch := open(t, url, c.header, c.query)
			raise(h, "L", false)
			got := read(t, ch, "L")
			want := append(c.want, "b00t-6 alarm L")
			if !slices.Equal(got, want) {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// TestStreamResumeAudience: the frames a client missed are filtered by its
// role as the live ones are.
func TestStreamResumeAudience(t *testing.T) {
	h := NewHub()
	h.boot = "b00t"
	url := streamOf(t, h, state.RoleInstaller)
	raise(h, "R1", false)
	raise(h, "T1", true)
	raise(h, "R2", false)
	ch := open(t, url, "b00t-0", "")
	raise(h, "R3", false)
	raise(h, "T2", true)
	got := read(t, ch, "T2")
	want := []string{"b00t-2 alarm T1", "b00t-5 alarm T2"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// TestStreamStartsAtPosition: a fresh client gets the current position as
// an id without data before any alarm, so that even a drop before its first
// alarm resumes without a gap.
func TestStreamStartsAtPosition(t *testing.T) {
	h := NewHub()
	h.boot = "b00t"
	url := streamOf(t, h, state.RoleOperator)
	raise(h, "A1", false)
	raise(h, "A2", false)
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	var lines []string
	for sc.Scan() && !strings.HasPrefix(sc.Text(), "id: ") {
		lines = append(lines, sc.Text())
	}
	if sc.Text() != "id: b00t-2" || !slices.Contains(lines, "retry: 2000") {
		t.Fatalf("stream starts %q then %q, want retry: 2000 and id: b00t-2", lines, sc.Text())
	}
}

// TestHubDropsReaderThatFallsBehind: a subscriber that takes nothing
// while streamBuffer+1 changes are published is dropped at the one that
// does not fit: the hub never waits for it, its backlog is let go at once
// (its stream ends at the frame it is writing), it is marked overflowed
// for the metric and the log, and a reader that keeps up is untouched.
func TestHubDropsReaderThatFallsBehind(t *testing.T) {
	h := NewHub()
	behind := h.subscribe(allAlarms, audienceOf(state.RoleAdmin), everything)
	keeping := h.subscribe(allAlarms, audienceOf(state.RoleAdmin), everything)
	got := 0
	for i := range streamBuffer + 1 {
		raise(h, fmt.Sprintf("A-%d", i), false)
		select {
		case <-keeping.ch:
			got++
		default:
			t.Fatalf("the reader that keeps up has nothing after change %d", i)
		}
	}
	if _, open := <-behind.ch; open {
		t.Fatal("the reader that fell behind still has frames or an open stream")
	}
	if !behind.overflowed.Load() || keeping.overflowed.Load() {
		t.Fatalf("overflowed: behind %v, keeping up %v", behind.overflowed.Load(), keeping.overflowed.Load())
	}
	if !h.Watched(allAlarms) || got != streamBuffer+1 {
		t.Fatalf("the reader that keeps up: subscribed %v, %d frames", h.Watched(allAlarms), got)
	}
	h.unsubscribe(allAlarms, behind) // what serveSSE's defer does: no double close
	h.Close()
}
