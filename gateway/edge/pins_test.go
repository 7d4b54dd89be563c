package edge

import (
	"errors"
	"strings"
	"testing"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/anxin-care/anxin/gateway/state"
)

// busyPin is a pin another program holds: the kernel refuses to give it.
type busyPin struct{ gpiotest.Pin }

func (p *busyPin) In(gpio.Pull, gpio.Edge) error { return errors.New("device or resource busy") }

// TestOpenPins: a pin that does not exist, or that another program holds,
// stops the box at start with an error naming the field and the pin.
func TestOpenPins(t *testing.T) {
	busy := &busyPin{Pin: gpiotest.Pin{N: "GPIO5", Num: 5}}
	if err := gpioreg.Register(busy); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gpioreg.Unregister("GPIO5") })
	db, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tc := range []struct {
		name    string
		pins    PinsConfig
		wantErr []string
	}{
		{"no such pin", PinsConfig{LED: "GPIO99"}, []string{"edge.pins.led", `"GPIO99"`, "Pi header"}},
		{"busy pin", PinsConfig{Button: "GPIO5"}, []string{"edge.pins.button", "GPIO5", "busy", "another program"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{BoxID: "box-1", ButtonDevice: "btn-1", Pins: tc.pins}
			_, err := Open(cfg, Deps{Store: db})
			if err == nil {
				t.Fatal("opened")
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestConfigValidate: mistakes name their field.
func TestConfigValidate(t *testing.T) {
	ok := Config{BoxID: "box-1", ButtonDevice: "btn-1", Central: CentralConfig{URL: "ssl://central:8883", Password: "p"},
		Pins: PinsConfig{Button: "GPIO17", LED: "GPIO27"}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		change  func(*Config)
		wantErr string
	}{
		{"bad box id", func(c *Config) { c.BoxID = "box/1" }, "edge.box_id"},
		{"no url", func(c *Config) { c.Central.URL = "" }, "edge.central.url"},
		{"bad scheme", func(c *Config) { c.Central.URL = "http://x:1" }, "edge.central.url"},
		{"no password", func(c *Config) { c.Central.Password = "" }, "edge.central.password"},
		{"same pin twice", func(c *Config) { c.Pins.Buzzer = "GPIO17" }, "GPIO17 is already"},
		{"button without device", func(c *Config) { c.ButtonDevice = "" }, "edge.button_device"},
		{"long press under debounce", func(c *Config) { c.Pins.LongPress = 1; c.Pins.Debounce = 2 }, "long_press"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.change(&c)
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err %v, want one naming %q", err, tc.wantErr)
			}
		})
	}
}
