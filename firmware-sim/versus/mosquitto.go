package versus

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/anxin-care/anxin/devices"
	firmwaresim "github.com/anxin-care/anxin/firmware-sim"
)

// mosquittoServer is Debian's Mosquitto as a user would set it up for
// this job (loopback, no persistence, TCP_NODELAY, anyone may connect),
// with the minimal responder in its own process beside it.
type mosquittoServer struct {
	bin, dir, addr, conf string
	mosq, resp           *proc
	telemetry            atomic.Int64
	mu                   sync.Mutex
	subs                 []mqtt.Client
}

func startMosquitto(ctx context.Context, bin, dir string) (*mosquittoServer, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	_, port, _ := strings.Cut(addr, ":")
	s := &mosquittoServer{bin: bin, dir: dir, addr: addr, conf: filepath.Join(dir, "mosquitto.conf")}
	conf := fmt.Sprintf("listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nset_tcp_nodelay true\n"+
		"max_queued_messages 100000\nlog_dest stderr\nlog_type error\nlog_type warning\n", port)
	if err := os.WriteFile(s.conf, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	if _, _, err := s.start(ctx, nil); err != nil {
		s.close()
		return nil, err
	}
	// The telemetry counter is the one subscriber Mosquitto relays to.
	c, err := s.subscriber(ctx, "versus-telemetry", devices.NativePrefix+"+/"+string(devices.ChannelTelemetry), 0,
		func(mqtt.Client, mqtt.Message) { s.telemetry.Add(1) })
	if err != nil {
		s.close()
		return nil, err
	}
	s.keep(c)
	return s, nil
}

func (s *mosquittoServer) start(ctx context.Context, started func()) (startedAt, readyAt time.Time, err error) {
	startedAt = time.Now()
	stamp := startedAt.UnixNano()
	if s.mosq, err = startProc(s.bin, filepath.Join(s.dir, fmt.Sprintf("mosquitto-%d.log", stamp)), nil, "-c", s.conf); err != nil {
		return startedAt, time.Time{}, err
	}
	if started != nil {
		started()
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := waitPort(wctx, s.addr); err != nil {
		return startedAt, time.Time{}, fmt.Errorf("mosquitto: %w\n%s", err, s.mosq.tail())
	}
	readyAt = time.Now()
	self, err := os.Executable()
	if err != nil {
		return startedAt, readyAt, err
	}
	s.resp, err = startProc(self, filepath.Join(s.dir, fmt.Sprintf("responder-%d.log", stamp)), []string{responderEnv + "=" + s.broker()})
	return startedAt, readyAt, err
}

func (s *mosquittoServer) name() string   { return "mosquitto" }
func (s *mosquittoServer) broker() string { return "tcp://" + s.addr }
func (s *mosquittoServer) pids() []int    { return []int{s.mosq.pid(), s.resp.pid()} }

// provision: Mosquitto lets anyone in, so any password will do.
func (s *mosquittoServer) provision(_ context.Context, fleet firmwaresim.Fleet) ([]firmwaresim.Credentials, error) {
	out := make([]firmwaresim.Credentials, len(fleet.Devices))
	for i, d := range fleet.Devices {
		out[i] = firmwaresim.Credentials{ID: d.ID, Password: "unused"}
	}
	return out, nil
}

func (s *mosquittoServer) subscriber(ctx context.Context, id, topic string, qos byte, h mqtt.MessageHandler) (mqtt.Client, error) {
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(s.broker()).SetClientID(id).SetCleanSession(true).
		SetOrderMatters(false).SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(20 * time.Millisecond).
		SetMaxReconnectInterval(100 * time.Millisecond).
		SetOnConnectHandler(func(c mqtt.Client) { c.Subscribe(topic, qos, h) }))
	tok := c.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if err := tok.Error(); err != nil {
		return nil, fmt.Errorf("mosquitto subscriber %s: %w", id, err)
	}
	return c, nil
}

func (s *mosquittoServer) keep(c mqtt.Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subs = append(s.subs, c)
}

// operatorStream is a second subscriber to every device event: what an
// operator's screen would hang off without anxin.
func (s *mosquittoServer) operatorStream(ctx context.Context, seen func(string, uint64)) error {
	c, err := s.subscriber(ctx, fmt.Sprintf("versus-operator-%d", time.Now().UnixNano()),
		devices.NativePrefix+"+/"+string(devices.ChannelEvent), 1, func(_ mqtt.Client, m mqtt.Message) {
			dev, _, _ := strings.Cut(strings.TrimPrefix(m.Topic(), devices.NativePrefix), "/")
			var ev struct {
				Seq uint64 `json:"seq"`
			}
			if json.Unmarshal(m.Payload(), &ev) == nil {
				seen(dev, ev.Seq)
			}
		})
	if err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		c.Disconnect(0)
	}()
	return nil
}

func (s *mosquittoServer) restart(ctx context.Context, started func()) (time.Time, time.Time, error) {
	s.resp.stop()
	s.mosq.stop()
	return s.start(ctx, started)
}

func (s *mosquittoServer) counted(context.Context) (float64, error) {
	return float64(s.telemetry.Load()), nil
}

func (s *mosquittoServer) close() {
	s.mu.Lock()
	for _, c := range s.subs {
		c.Disconnect(0)
	}
	s.mu.Unlock()
	s.resp.stop()
	s.mosq.stop()
}
