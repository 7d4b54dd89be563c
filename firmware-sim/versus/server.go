package versus

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	firmwaresim "github.com/anxin-care/anxin/firmware-sim"
)

// server is one side of the comparison.
type server interface {
	name() string
	broker() string
	// pids are the processes whose CPU and RSS count for this side; none
	// for a server at a given address.
	pids() []int
	// provision makes devices able to connect and returns their passwords.
	provision(ctx context.Context, fleet firmwaresim.Fleet) ([]firmwaresim.Credentials, error)
	// operatorStream starts what an operator watches and calls seen with
	// each device event's (device, seq) as it arrives.
	operatorStream(ctx context.Context, seen func(device string, seq uint64)) error
	// restart stops the server and starts it again, returning when it
	// was ready (anxin: /readyz answers 200; Mosquitto: its port accepts).
	// started is called as soon as the new process runs.
	restart(ctx context.Context, started func()) (startedAt, readyAt time.Time, err error)
	// counted is how many telemetry messages the server has taken in so
	// far (anxin: decoded; Mosquitto: relayed to a subscriber).
	counted(ctx context.Context) (float64, error)
	close()
}

// freeAddr finds a free loopback port.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitPort waits until addr accepts a connection.
func waitPort(ctx context.Context, addr string) error {
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s never accepted a connection: %w", addr, err)
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// proc is a child process with its log in a file.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

func startProc(name, logPath string, env []string, args ...string) (*proc, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int {
	if p == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// stop ends the process with SIGTERM, then SIGKILL after 10 s.
func (p *proc) stop() {
	if p == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// tail returns the end of the process's log, for an error message.
func (p *proc) tail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(bytes.TrimSpace(b))
}

// --- anxin ---

const adminPassword = "versus-admin-password"

// anxinServer is anxin started from a binary with a temporary data
// directory, or one already running at a given address.
type anxinServer struct {
	bin, dir, mqttAddr, httpAddr string
	args                         []string
	p                            *proc
	token                        string
	http                         *http.Client
}

// startAnxin starts bin with a fresh data directory under dir, a
// configuration that lets a device send eventRate events a second (the
// default throttle would measure itself), and an admin to provision with.
func startAnxin(ctx context.Context, bin, dir string, eventRate int) (*anxinServer, error) {
	s := &anxinServer{bin: bin, dir: dir, http: &http.Client{Timeout: 60 * time.Second}}
	data := filepath.Join(dir, "data")
	add := exec.CommandContext(ctx, bin, "user", "add", "-name", "admin", "-role", "admin", "-data-dir", data)
	add.Stdin = strings.NewReader(adminPassword + "\n")
	if out, err := add.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("anxin user add: %w: %s", err, bytes.TrimSpace(out))
	}
	cfg := filepath.Join(dir, "anxin.json")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, `{"event_rate": %d, "event_burst": %d}`, eventRate, eventRate), 0o600); err != nil {
		return nil, err
	}
	var err error
	if s.mqttAddr, err = freeAddr(); err != nil {
		return nil, err
	}
	if s.httpAddr, err = freeAddr(); err != nil {
		return nil, err
	}
	s.args = []string{"-config", cfg, "-data-dir", data, "-mqtt", s.mqttAddr, "-http", s.httpAddr, "-log-level", "warn"}
	if _, _, err := s.start(ctx, nil); err != nil {
		return nil, err
	}
	if err := s.login(ctx, "admin", adminPassword); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// anxinAt uses a running anxin; token is an admin's or installer's.
func anxinAt(ctx context.Context, mqttAddr, httpBase, token string) (*anxinServer, error) {
	s := &anxinServer{mqttAddr: mqttAddr, httpAddr: strings.TrimPrefix(httpBase, "http://"), token: token,
		http: &http.Client{Timeout: 60 * time.Second}}
	if err := s.waitReady(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *anxinServer) start(ctx context.Context, started func()) (startedAt, readyAt time.Time, err error) {
	startedAt = time.Now()
	if s.p, err = startProc(s.bin, filepath.Join(s.dir, fmt.Sprintf("anxin-%d.log", startedAt.UnixNano())), nil, s.args...); err != nil {
		return startedAt, time.Time{}, err
	}
	if started != nil {
		started()
	}
	if err := s.waitReady(ctx); err != nil {
		return startedAt, time.Time{}, err
	}
	return startedAt, time.Now(), nil
}

// waitReady polls /readyz every 2 ms until it answers 200.
func (s *anxinServer) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	c := &http.Client{Timeout: time.Second}
	for {
		resp, err := c.Get("http://" + s.httpAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if s.p != nil && s.p.exited() {
			return fmt.Errorf("anxin exited before it was ready:\n%s", s.p.tail())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("anxin at %s not ready: %w", s.httpAddr, ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func (s *anxinServer) login(ctx context.Context, user, pw string) error {
	body, _ := json.Marshal(map[string]string{"user": user, "password": pw})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+s.httpAddr+"/api/v1/login", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.http.Do(req)
	if err != nil {
		return fmt.Errorf("anxin login: %w", err)
	}
	defer resp.Body.Close()
	var out struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Token == "" {
		return fmt.Errorf("anxin login: %s, no token", resp.Status)
	}
	s.token = out.Token
	return nil
}

func (s *anxinServer) name() string   { return "anxin" }
func (s *anxinServer) broker() string { return "tcp://" + s.mqttAddr }
func (s *anxinServer) pids() []int    { return []int{s.p.pid()} }

func (s *anxinServer) provision(ctx context.Context, fleet firmwaresim.Fleet) ([]firmwaresim.Credentials, error) {
	return firmwaresim.ProvisionFleet(ctx, firmwaresim.ProvisionOptions{API: "http://" + s.httpAddr, Token: s.token, Client: s.http}, fleet)
}

// operatorStream reads GET /api/v1/stream (Server-Sent Events) as the
// console does and reports every alarm frame's device and seq.
func (s *anxinServer) operatorStream(ctx context.Context, seen func(string, uint64)) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.httpAddr+"/api/v1/stream", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		return fmt.Errorf("operator stream: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return fmt.Errorf("operator stream: %s", resp.Status)
	}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
		for sc.Scan() {
			data, ok := bytes.CutPrefix(sc.Bytes(), []byte("data: "))
			if !ok {
				continue
			}
			var m struct {
				Alarm struct {
					Device string `json:"device"`
					Seq    uint64 `json:"seq"`
				} `json:"alarm"`
			}
			if json.Unmarshal(data, &m) == nil && m.Alarm.Device != "" {
				seen(m.Alarm.Device, m.Alarm.Seq)
			}
		}
	}()
	return nil
}

func (s *anxinServer) restart(ctx context.Context, started func()) (time.Time, time.Time, error) {
	if s.p == nil {
		return time.Time{}, time.Time{}, errors.New("anxin was not started by this tool: give --anxin-bin to measure its restart")
	}
	s.p.stop()
	return s.start(ctx, started)
}

// counted reads anxin_telemetry_messages_total from /metrics.
func (s *anxinServer) counted(ctx context.Context) (float64, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.httpAddr+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := s.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("anxin metrics: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "anxin_telemetry_messages_total "); ok {
			var f float64
			_, err := fmt.Sscan(v, &f)
			return f, err
		}
	}
	return 0, errors.New("anxin metrics: no anxin_telemetry_messages_total")
}

func (s *anxinServer) close() { s.p.stop() }
