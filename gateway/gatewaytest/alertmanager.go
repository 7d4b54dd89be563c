package gatewaytest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Alertmanager is a real Prometheus Alertmanager (Debian's
// prometheus-alertmanager) on 127.0.0.1, with a temporary config and
// storage directory, for the life of a test. It routes every alert, grouped
// by alarm_id, to a webhook receiver of the test's own with
// send_resolved, so a test sees both what Alertmanager holds (Alerts) and
// what it tells its receivers (Notified), resolutions included.
type Alertmanager struct {
	URL string // e.g. http://127.0.0.1:41234
	t   testing.TB
	// user and password, when set, are what its web config asks of every
	// request (StartAlertmanagerBasicAuth).
	user, password string

	mu       sync.Mutex
	notified []AMWebhookAlert
}

// AMAlert is an alert as GET /api/v2/alerts lists it.
type AMAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
	Status      struct {
		State string `json:"state"` // active, suppressed, unprocessed
	} `json:"status"`
}

// AMWebhookAlert is an alert as Alertmanager's webhook receiver gets it.
type AMWebhookAlert struct {
	Status string            `json:"status"` // firing or resolved
	Labels map[string]string `json:"labels"`
	EndsAt time.Time         `json:"endsAt"`
}

// StartAlertmanager starts /usr/bin/prometheus-alertmanager (or one on
// $PATH); a missing one skips the test, or fails it with CI=true.
func StartAlertmanager(t testing.TB) *Alertmanager {
	t.Helper()
	return startAlertmanager(t, "", "", "")
}

// StartAlertmanagerBasicAuth starts an Alertmanager whose web config
// (--web.config.file) lets in only user with password; hash is password's
// bcrypt hash, as Alertmanager's basic_auth_users wants it.
func StartAlertmanagerBasicAuth(t testing.TB, user, password, hash string) *Alertmanager {
	t.Helper()
	return startAlertmanager(t, user, password, hash)
}

func startAlertmanager(t testing.TB, user, password, hash string) *Alertmanager {
	t.Helper()
	bin := "/usr/bin/prometheus-alertmanager"
	if _, err := os.Stat(bin); err != nil {
		bin = NeedBinary(t, "prometheus-alertmanager")
	}
	am := &Alertmanager{t: t, user: user, password: password}
	hook := httptest.NewServer(http.HandlerFunc(am.receive))
	t.Cleanup(hook.Close)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`route:
  receiver: test
  group_by: [alarm_id]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: test
    webhook_configs:
      - url: %s/hook
        send_resolved: true
`, hook.URL)
	if err := os.WriteFile(filepath.Join(dir, "alertmanager.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--config.file=" + filepath.Join(dir, "alertmanager.yml"),
		"--storage.path=" + filepath.Join(dir, "data"), "--cluster.listen-address=", "--log.level=warn"}
	if user != "" {
		web := fmt.Sprintf("basic_auth_users:\n  %s: %s\n", user, hash)
		if err := os.WriteFile(filepath.Join(dir, "web.yml"), []byte(web), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--web.config.file="+filepath.Join(dir, "web.yml"))
	}
	var lastErr error
	for range 3 { // the free port may be taken between finding and binding it
		addr := freePort(t)
		var logs bytes.Buffer
		cmd := exec.Command(bin, append(args, "--web.listen-address="+addr)...)
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", bin, err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		am.URL = "http://" + addr
		if lastErr = am.waitReady(exited); lastErr == nil {
			t.Cleanup(func() {
				_ = cmd.Process.Kill()
				<-exited
			})
			return am
		}
		_ = cmd.Process.Kill()
		<-exited
		lastErr = fmt.Errorf("%w\n%s", lastErr, logs.String())
	}
	t.Fatalf("alertmanager did not start: %v", lastErr)
	return nil
}

func freePort(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func (am *Alertmanager) waitReady(exited <-chan error) error {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("alertmanager exited: %v", err)
		default:
		}
		if res, err := am.get("/-/ready"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("alertmanager not ready at %s within 20s", am.URL)
}

// get is GET of path with the credentials its web config asks for.
func (am *Alertmanager) get(path string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodGet, am.URL+path, nil)
	if err != nil {
		return nil, err
	}
	if am.user != "" {
		req.SetBasicAuth(am.user, am.password)
	}
	return http.DefaultClient.Do(req)
}

func (am *Alertmanager) receive(w http.ResponseWriter, r *http.Request) {
	var msg struct {
		Alerts []AMWebhookAlert `json:"alerts"`
	}
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &msg); err != nil {
		am.t.Errorf("alertmanager's webhook body: %v: %s", err, body)
	}
	am.mu.Lock()
	am.notified = append(am.notified, msg.Alerts...)
	am.mu.Unlock()
}

// Alerts returns what GET /api/v2/alerts lists for the matchers, e.g.
// `alarm_id="A-1"` (active and unresolved alerts only: Alertmanager's API
// leaves out an alert whose endsAt has passed).
func (am *Alertmanager) Alerts(matchers ...string) []AMAlert {
	am.t.Helper()
	q := url.Values{"filter": matchers}
	res, err := am.get("/api/v2/alerts?" + q.Encode())
	if err != nil {
		am.t.Fatalf("GET /api/v2/alerts: %v", err)
	}
	defer res.Body.Close()
	var out []AMAlert
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		am.t.Fatalf("GET /api/v2/alerts: HTTP %d: %v", res.StatusCode, err)
	}
	return out
}

// Notified returns the alerts Alertmanager has sent its receiver so far.
func (am *Alertmanager) Notified() []AMWebhookAlert {
	am.mu.Lock()
	defer am.mu.Unlock()
	return append([]AMWebhookAlert(nil), am.notified...)
}
