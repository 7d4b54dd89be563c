package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anxin-care/anxin/gateway/apiclient"
)

// watchServer plays the gateway's side of GET /api/v1/devices/{id}/watch
// (the contract in gateway/httpapi/watch.go): the first connection sends two
// messages and closes, the second sends the rest and stays open.
func watchServer(t *testing.T) *httptest.Server {
	at := time.Date(2026, 11, 23, 6, 3, 7, 0, time.UTC).Format(time.RFC3339Nano)
	first := []string{
		"event: event\ndata: " + `{"device":"btn-1","seq":12,"type":"call.press","received":"` + at + `"}`,
		"event: alarm\ndata: " + `{"alarm":{"id":"A-1","device":"btn-1","type":"call","priority":"P1","state":"raised","test":true},` +
			`"entry":{"at":"` + at + `","actor":"device:btn-1","action":"raised","state":"raised"}}`,
	}
	second := []string{
		"event: reassure\ndata: " + `{"type":"reassure","seq":12,"alarm":"A-1","state":"received"}`,
		"event: health\ndata: " + `{"online":true,"last_seen":"` + at + `","fw":"1.4.2","readings":{"battery":87,"rssi":-67}}`,
		"event: rejected\ndata: " + `{"reason":"unknown_type","detail":"event type \"call.presss\" is not known"}`,
	}
	var conns atomic.Int32
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"log in first"}`)
			return
		}
		if r.URL.Path != "/api/v1/devices/btn-1/watch" {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error":"device not found: nope"}`)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "retry: 2000\n: connected\n\n")
		n := conns.Add(1)
		msgs := first
		if n > 1 {
			msgs = second
		}
		for _, m := range msgs {
			fmt.Fprintf(w, "%s\n\n: ping\n\n", m)
			w.(http.Flusher).Flush()
		}
		if n > 1 {
			<-r.Context().Done()
		}
	}))
}

func TestWatch(t *testing.T) {
	reconnectDelay = 10 * time.Millisecond
	srv := watchServer(t)
	defer srv.Close()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code := Run(ctx, []string{"device", "watch", "btn-1", "--count", "5", "--server", srv.URL, "--token", "tok"}, nil, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	clock := time.Date(2026, 11, 23, 6, 3, 7, 0, time.UTC).Local().Format("15:04:05")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{
		clock + "  event     call.press  seq 12",
		clock + "  alarm     P1 call raised  A-1  (walk test)",
		"  reassure  received  seq 12  alarm A-1",
		clock + "  health    online  battery 87%  rssi -67 dBm  fw 1.4.2",
		`  rejected  unknown_type: event type "call.presss" is not known`,
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), out.String())
	}
	for i, w := range want {
		if !strings.HasSuffix(lines[i], w) && !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d = %q, want %q", i+1, lines[i], w)
		}
	}
	if !strings.Contains(errOut.String(), "following again") {
		t.Errorf("stderr does not say the stream was followed again: %q", errOut.String())
	}

	t.Run("json", func(t *testing.T) {
		var out bytes.Buffer
		code := Run(ctx, []string{"device", "watch", "btn-1", "--count", "2", "-o", "json", "--server", srv.URL, "--token", "tok"}, nil, &out, &errOut)
		var m struct {
			Event string
			Data  json.RawMessage
		}
		first, _, _ := strings.Cut(out.String(), "\n")
		if code != 0 || json.Unmarshal([]byte(first), &m) != nil || m.Event == "" || len(m.Data) == 0 {
			t.Fatalf("exit %d, %q", code, out.String())
		}
	})
	t.Run("unknown device", func(t *testing.T) {
		var out, errOut bytes.Buffer
		if code := Run(ctx, []string{"device", "watch", "nope", "--server", srv.URL, "--token", "tok"}, nil, &out, &errOut); code != 1 ||
			!strings.Contains(errOut.String(), "device not found: nope") {
			t.Fatalf("exit %d, %q", code, errOut.String())
		}
	})
	t.Run("interrupted", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		var out bytes.Buffer
		if code := Run(ctx, []string{"device", "watch", "btn-1", "--server", srv.URL, "--token", "tok"}, nil, &out, &errOut); code != 0 {
			t.Fatalf("exit %d after Ctrl-C, want 0", code)
		}
	})
}

// TestWatchLineHandedOver: a walk-test alarm given to operators because
// nobody watched it says so on the installer's watch.
func TestWatchLineHandedOver(t *testing.T) {
	data := `{"alarm":{"id":"A-1","priority":"P1","type":"call","test_mode":true},` +
		`"entry":{"at":"2026-11-23T06:04:07Z","action":"test_unwatched","note":"walk-test alarm not watched"}}`
	line := watchLine(apiclient.WatchEvent{Event: "alarm", Data: json.RawMessage(data)}, time.Now())
	if !strings.Contains(line, "P1 call test_unwatched  A-1") || !strings.HasSuffix(line, "(walk test, given to operators)") {
		t.Fatalf("watch line %q", line)
	}
}
