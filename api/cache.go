package api

import (
	"sync"
	"time"
)

// ttlCache keeps values for a short time. It serves lookups on hot paths (API
// keys, programs, commission rules) whose changes may take a few seconds to
// show; every entry expires after ttl.
type ttlCache[K comparable, V any] struct {
	mu  sync.Mutex
	ttl time.Duration
	m   map[K]ttlEntry[V]
}

type ttlEntry[V any] struct {
	v  V
	at time.Time
}

func newTTLCache[K comparable, V any](ttl time.Duration) *ttlCache[K, V] {
	return &ttlCache[K, V]{ttl: ttl, m: map[K]ttlEntry[V]{}}
}

// get returns the cached value, or loads, caches and returns it.
func (c *ttlCache[K, V]) get(k K, load func() (V, error)) (V, error) {
	c.mu.Lock()
	e, ok := c.m[k]
	c.mu.Unlock()
	if ok && time.Since(e.at) < c.ttl {
		return e.v, nil
	}
	v, err := load()
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	if len(c.m) > 100_000 { // bounded: start over
		c.m = map[K]ttlEntry[V]{}
	}
	c.m[k] = ttlEntry[V]{v, time.Now()}
	c.mu.Unlock()
	return v, nil
}

// getSince is get, but a value cached before since is loaded again.
func (c *ttlCache[K, V]) getSince(k K, since time.Time, load func() (V, error)) (V, error) {
	c.mu.Lock()
	e, ok := c.m[k]
	c.mu.Unlock()
	if ok && e.at.Before(since) {
		c.forget(k)
	}
	return c.get(k, load)
}

func (c *ttlCache[K, V]) forget(k K) {
	c.mu.Lock()
	delete(c.m, k)
	c.mu.Unlock()
}
