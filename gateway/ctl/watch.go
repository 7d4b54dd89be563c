package ctl

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/anxin-care/anxin/gateway/apiclient"
)

// reconnectDelay is how long watch waits before following a closed stream
// again (the gateway's own "retry:" advice is 2 s).
var reconnectDelay = 2 * time.Second

func deviceWatch() *command {
	return &command{name: "watch", args: "ID", nargs: 1,
		summary: "follow one device live: events, reassurance, health, refusals and alarms",
		help: `For standing in the room during a walk test: each thing the device does is one
line, with the local time. Runs until interrupted (Ctrl-C) or, with --count,
until that many lines were printed. A stream the gateway closes is followed
again after a pause. With -o json each message is one JSON line:
{"event": …, "data": …}.`,
		setup: func(fs *flag.FlagSet) runFunc {
			count := fs.Int("count", 0, "stop after `N` messages (0: never)")
			return func(e *env, args []string) error {
				c, err := e.client()
				if err != nil {
					return err
				}
				seen := 0
				errEnough := errors.New("enough")
				for {
					err := c.Watch(e.ctx, args[0], func(ev apiclient.WatchEvent) error {
						if e.json() {
							b, _ := json.Marshal(map[string]any{"event": ev.Event, "data": ev.Data})
							e.printf("%s\n", b)
						} else {
							e.printf("%s\n", watchLine(ev, e.now()))
						}
						seen++
						if *count > 0 && seen >= *count {
							return errEnough
						}
						return nil
					})
					switch {
					case errors.Is(err, errEnough), e.ctx.Err() != nil:
						return nil
					case !errors.Is(err, apiclient.ErrStreamClosed):
						return err
					}
					fmt.Fprintf(e.stderr, "anxinctl: the gateway closed the stream; following again in %s\n", reconnectDelay)
					select {
					case <-e.ctx.Done():
						return nil
					case <-time.After(reconnectDelay):
					}
				}
			}
		}}
}

// watchLine renders one message as a line for people:
//
//	14:03:07  event     call.press  seq 12
//	14:03:07  alarm     P1 call raised  A-20261123-…  (walk test)
//	14:03:07  reassure  received  seq 12  alarm A-20261123-…
//	14:03:09  health    online  battery 87%  rssi -67 dBm  fw 1.4.2
//	14:03:12  rejected  unknown_type: event type "call.presss" is not known
func watchLine(ev apiclient.WatchEvent, now time.Time) string {
	var m map[string]any
	json.Unmarshal(ev.Data, &m)
	at, text := now, ""
	switch ev.Event {
	case "event":
		at = timeField(m, "received", now)
		text = fmt.Sprintf("%s  seq %v", str(m["type"]), num(m["seq"]))
		if d, ok := m["data"].(map[string]any); ok && len(d) > 0 {
			text += "  " + compact(d)
		}
	case "reassure":
		text = fmt.Sprintf("%s  seq %v  alarm %s", str(m["state"]), num(m["seq"]), str(m["alarm"]))
	case "health":
		at = timeField(m, "last_seen", now)
		state := "offline"
		if m["online"] == true {
			state = "online"
		}
		parts := []string{state}
		if r, ok := m["readings"].(map[string]any); ok {
			if v, ok := r["battery"]; ok {
				parts = append(parts, fmt.Sprintf("battery %v%%", num(v)))
			}
			if v, ok := r["rssi"]; ok {
				parts = append(parts, fmt.Sprintf("rssi %v dBm", num(v)))
			}
			if v, ok := r["linkquality"]; ok {
				parts = append(parts, fmt.Sprintf("lqi %v", num(v)))
			}
		}
		if fw := str(m["fw"]); fw != "" {
			parts = append(parts, "fw "+fw)
		}
		text = strings.Join(parts, "  ")
	case "rejected":
		text = str(m["reason"])
		if d := str(m["detail"]); d != "" {
			text += ": " + d
		}
	case "alarm":
		a, _ := m["alarm"].(map[string]any)
		entry, _ := m["entry"].(map[string]any)
		at = timeField(entry, "at", now)
		text = fmt.Sprintf("%s %s %s  %s", str(a["priority"]), str(a["type"]), str(entry["action"]), str(a["id"]))
		if n := str(entry["note"]); n != "" {
			text += "  " + n
		}
		if a["test"] == true {
			text += "  (walk test)"
		} else if a["test_mode"] == true {
			text += "  (walk test, given to operators)"
		}
	default:
		text = string(ev.Data)
	}
	return fmt.Sprintf("%s  %-8s  %s", at.Local().Format("15:04:05"), ev.Event, text)
}

func timeField(m map[string]any, key string, def time.Time) time.Time {
	if t, err := time.Parse(time.RFC3339Nano, str(m[key])); err == nil {
		return t
	}
	return def
}

func str(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// num prints a JSON number without a needless ".0" or exponent.
func num(v any) any {
	if f, ok := v.(float64); ok && f == float64(int64(f)) {
		return int64(f)
	}
	return v
}

// compact shows a small map as k=v pairs, sorted.
func compact(m map[string]any) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%v", k, num(m[k]))
	}
	return strings.Join(parts, " ")
}
