package mqttlisten_test

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/anxin-care/anxin/gateway/mqttlisten"
)

// TestCloseWhileClientsChurn: the broker closes, every time, while clients
// keep connecting and disconnecting (mochi's own listener can hang here).
func TestCloseWhileClientsChurn(t *testing.T) {
	for round := range 5 {
		srv := mqtt.New(&mqtt.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err := srv.AddHook(new(allowAll), nil); err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.AddListener(mqttlisten.New("t", ln, srv)); err != nil {
			t.Fatal(err)
		}
		if err := srv.Serve(); err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; ; n++ {
					select {
					case <-stop:
						return
					default:
					}
					c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + ln.Addr().String()).
						SetClientID(fmt.Sprintf("c-%d-%d", i, n)).SetConnectTimeout(time.Second).SetAutoReconnect(false))
					if tok := c.Connect(); tok.WaitTimeout(time.Second) && tok.Error() == nil {
						c.Disconnect(0)
					}
				}
			}()
		}
		time.Sleep(100 * time.Millisecond)
		closed := make(chan error, 1)
		go func() { closed <- srv.Close() }()
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: the broker did not close within 10 s while clients churned", round)
		}
		close(stop)
		wg.Wait()
	}
}

type allowAll struct{ mqtt.HookBase }

func (allowAll) ID() string { return "allow" }

func (allowAll) Provides(b byte) bool { return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck }

func (allowAll) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }

func (allowAll) OnACLCheck(*mqtt.Client, string, bool) bool { return true }
