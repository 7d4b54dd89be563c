package pahostore_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/anxin-care/anxin/internal/pahostore"
)

func publish(id uint16, payload string) *packets.PublishPacket {
	p := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
	p.TopicName, p.Qos, p.MessageID, p.Payload = "anxin/v1/cb-1/event", 1, id, []byte(payload)
	return p
}

// TestGetReturnsACopy: marking what Get returned (as paho's resume sets
// DUP) does not touch the packet that was put, nor the next Get.
func TestGetReturnsACopy(t *testing.T) {
	s := pahostore.New()
	orig := publish(7, `{"seq":1}`)
	s.Put("o.7", orig)
	got := s.Get("o.7").(*packets.PublishPacket)
	got.Dup = true
	if orig.Dup {
		t.Fatal("setting DUP on the copy changed the packet that was put")
	}
	again := s.Get("o.7").(*packets.PublishPacket)
	if again.Dup || again.MessageID != 7 || string(again.Payload) != `{"seq":1}` || again.TopicName != orig.TopicName {
		t.Fatalf("second Get = %+v", again)
	}
	if s.Get("o.8") != nil {
		t.Fatal("Get of an unknown key is not nil")
	}
}

// TestAllKeepsPutOrder: keys come back in the order first put, whatever
// their message ids, and a key put again keeps its place.
func TestAllKeepsPutOrder(t *testing.T) {
	s := pahostore.New()
	ids := []uint16{65535, 1, 300, 2, 10}
	var want []string
	for _, id := range ids {
		k := fmt.Sprintf("o.%d", id)
		s.Put(k, publish(id, "x"))
		want = append(want, k)
	}
	s.Put("o.1", publish(1, "again"))
	if got := s.All(); !slices.Equal(got, want) {
		t.Fatalf("All = %v, want %v", got, want)
	}
	s.Del("o.300")
	want = slices.DeleteFunc(want, func(k string) bool { return k == "o.300" })
	if got := s.All(); !slices.Equal(got, want) {
		t.Fatalf("after Del, All = %v, want %v", got, want)
	}
	s.Reset()
	if got := s.All(); len(got) != 0 {
		t.Fatalf("after Reset, All = %v", got)
	}
}
