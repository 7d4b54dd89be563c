package versus

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/anxin-care/anxin/devices"
)

// responderEnv names the broker a re-executed binary should answer on:
// the responder runs as its own process so that its CPU and memory are
// counted with Mosquitto's, as a user's own responder would be.
const responderEnv = "ANXIN_VERSUS_RESPONDER"

// MaybeRunResponder turns this process into the minimal responder when the
// environment asks for it, and never returns then. Call it first thing in
// main (and TestMain).
func MaybeRunResponder() {
	broker := os.Getenv(responderEnv)
	if broker == "" {
		return
	}
	if err := runResponder(broker); err != nil {
		fmt.Fprintf(os.Stderr, "responder: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// runResponder is what a user would build by hand next to Mosquitto: one
// paho client that answers every device event with a "received" on the
// device's cmd topic, at QoS 1 both ways.
func runResponder(broker string) error {
	var c mqtt.Client
	opts := mqtt.NewClientOptions().AddBroker(broker).SetClientID("versus-responder").
		SetCleanSession(true).SetAutoReconnect(true).SetConnectRetry(true).
		SetConnectRetryInterval(20 * time.Millisecond).SetMaxReconnectInterval(100 * time.Millisecond).
		SetOrderMatters(false).
		SetOnConnectHandler(func(c mqtt.Client) {
			c.Subscribe(devices.NativePrefix+"+/"+string(devices.ChannelEvent), 1, func(c mqtt.Client, m mqtt.Message) {
				dev, _, _ := strings.Cut(strings.TrimPrefix(m.Topic(), devices.NativePrefix), "/")
				var ev struct {
					Seq uint64 `json:"seq"`
				}
				if json.Unmarshal(m.Payload(), &ev) != nil || ev.Seq == 0 {
					return
				}
				body := fmt.Sprintf(`{"type":"reassure","seq":%d,"alarm":"m-%s-%d","state":"received"}`, ev.Seq, dev, ev.Seq)
				c.Publish(devices.Topic(dev, devices.ChannelCmd), 1, false, body)
			})
		})
	c = mqtt.NewClient(opts)
	c.Connect()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	c.Disconnect(0)
	return nil
}
