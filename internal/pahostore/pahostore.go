// Package pahostore is an in-memory message store for paho.mqtt.golang
// clients that hands out copies.
//
// paho's own MemoryStore returns the very packet it was given. When a
// client reconnects, paho's resume sets the DUP flag on each stored
// publish it gets back from the store, while the writer of the previous
// connection may still be encoding that same packet: a data race
// (eclipse-paho/paho.mqtt.golang#703, open against v1.5.x), reported by
// the race detector in any test that publishes across a reconnect. Store
// keeps each packet encoded and decodes a new one on every Get, so resume
// marks its own copy. Use it with ClientOptions.SetStore.
//
// All lists the keys in the order they were first put, so a resumed
// session resends its messages in the order they were published (paho's
// MemoryStore lists them in map order).
//
// A Store is safe for concurrent use.
package pahostore

import (
	"bytes"
	"cmp"
	"log/slog"
	"slices"
	"sync"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// Store is an mqtt.Store that keeps packets encoded.
type Store struct {
	mu   sync.Mutex
	m    map[string]entry
	next uint64
}

type entry struct {
	order uint64 // when the key was first put
	b     []byte
}

var _ mqtt.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store { return &Store{m: map[string]entry{}} }

// Open implements mqtt.Store.
func (s *Store) Open() {}

// Close implements mqtt.Store. Like paho's MemoryStore, a closed store
// keeps what it holds, so that a client that reconnects resends it.
func (s *Store) Close() {}

// Put keeps an encoded copy of message. paho calls it before the message
// is handed to the connection's writer, so nothing else encodes it now.
func (s *Store) Put(key string, message packets.ControlPacket) {
	var b bytes.Buffer
	if err := message.Write(&b); err != nil {
		slog.Warn("paho store: cannot keep a packet", "key", key, "err", err)
		return
	}
	s.mu.Lock()
	e, ok := s.m[key]
	if !ok {
		s.next++
		e.order = s.next
	}
	e.b = b.Bytes()
	s.m[key] = e
	s.mu.Unlock()
}

// Get decodes a new copy of the packet under key, or returns nil.
func (s *Store) Get(key string) packets.ControlPacket {
	s.mu.Lock()
	e, ok := s.m[key]
	s.mu.Unlock()
	if !ok {
		return nil
	}
	p, err := packets.ReadPacket(bytes.NewReader(e.b))
	if err != nil {
		slog.Warn("paho store: cannot read a kept packet", "key", key, "err", err)
		return nil
	}
	return p
}

// All returns the keys held in the order they were first put.
func (s *Store) All() []string {
	s.mu.Lock()
	keys := make([]string, 0, len(s.m))
	for k := range s.m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return cmp.Compare(s.m[a].order, s.m[b].order) })
	s.mu.Unlock()
	return keys
}

// Del forgets key.
func (s *Store) Del(key string) {
	s.mu.Lock()
	delete(s.m, key)
	s.mu.Unlock()
}

// Reset forgets everything.
func (s *Store) Reset() {
	s.mu.Lock()
	clear(s.m)
	s.mu.Unlock()
}
