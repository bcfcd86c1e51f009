package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// soak drives a running partnerops (make run, or make cluster's balancer) at a
// constant rate: clicks on a link, and conversions by the click tokens those
// clicks set, over two integration keys, as a shop's backend posts them
// seconds after the visit. It prints each second's conversion latency, and the
// first 20 seconds' and the whole run's: a postback must not wait, from the
// first second on.
//
//	clickbench -soak http://localhost:8080 -admin-key .data/admin-key -duration 60s -click-rate 1500 -conversion-rate 40
func soak(base, adminKeyFile string, d time.Duration, clickRate, convRate int) error {
	key, err := os.ReadFile(adminKeyFile)
	if err != nil {
		return err
	}
	admin := strings.TrimSpace(string(key))
	c := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{MaxIdleConnsPerHost: 512}}
	call := func(method, path, auth string, body any) (map[string]any, error) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(b))
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := c.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var out map[string]any
		_ = json.Unmarshal(raw, &out)
		if resp.StatusCode >= 300 {
			return out, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, raw)
		}
		return out, nil
	}
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	run := fmt.Sprint(time.Now().UnixNano())
	manager, err := call("POST", "/v1/keys", admin, map[string]any{"role": "manager"})
	if err != nil {
		return err
	}
	var integrations []string
	for range 2 {
		k, err := call("POST", "/v1/keys", admin, map[string]any{"role": "integration"})
		if err != nil {
			return err
		}
		integrations = append(integrations, str(k, "key"))
	}
	prog, err := call("POST", "/v1/programs", admin, map[string]any{"name": "Soak " + run, "kind": "affiliate", "currency": "USD"})
	if err != nil {
		return err
	}
	pid := str(prog, "id")
	if _, err := call("PUT", "/v1/programs/"+pid+"/affiliate", admin, map[string]any{"allowed_domains": []string{"shop.example"}, "cookie_window_days": 30}); err != nil {
		return err
	}
	if _, err := call("POST", "/v1/commission-rules", admin, map[string]any{"program_id": pid, "event": "sale", "kind": "percent", "rate": "0.10", "effective_from": "2026-01-01T00:00:00Z"}); err != nil {
		return err
	}
	app, err := call("POST", "/v1/applications", "", map[string]any{"program_id": pid, "name": "Soak", "email": "soak" + run + "@creator.example",
		"company": "Soak " + run, "website_domain": "soak" + run + ".example", "partner_type": "creator"})
	if err != nil {
		return err
	}
	approved, err := call("POST", "/v1/partners/"+str(app, "id")+"/approve", str(manager, "key"), map[string]any{})
	if err != nil {
		return err
	}
	partnerKey := str(approved, "api_key")
	if _, err := call("POST", "/v1/me/agreement", partnerKey, map[string]any{"version": "v1"}); err != nil {
		return err
	}
	time.Sleep(time.Second) // the partner becomes active
	link, err := call("POST", "/v1/links", partnerKey, map[string]any{"destination": "https://shop.example/soak"})
	if err != nil {
		return err
	}
	code := str(link, "code")

	// Clicks at a constant rate; each one's token joins the pool conversions draw from.
	var tokens []string
	var tokMu sync.Mutex
	var clicksOK, clicksBad atomic.Int64
	var firstBad atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	pace := func(rate int, fire func(i int)) {
		defer wg.Done()
		interval := time.Second / time.Duration(rate)
		next := time.Now()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if wait := time.Until(next); wait > 0 {
				time.Sleep(wait)
			}
			next = next.Add(interval)
			go fire(i)
		}
	}
	wg.Add(1)
	go pace(clickRate, func(i int) {
		req, _ := http.NewRequest("GET", base+"/c/"+code, nil)
		req.Header.Set("User-Agent", fmt.Sprintf("Mozilla/5.0 Firefox/128.0 soak-%d", i))
		resp, err := c.Do(req)
		if err != nil {
			clicksBad.Add(1)
			firstBad.CompareAndSwap(nil, err.Error())
			return
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			clicksBad.Add(1)
			firstBad.CompareAndSwap(nil, fmt.Sprintf("answered %d", resp.StatusCode))
			return
		}
		clicksOK.Add(1)
		for _, ck := range resp.Cookies() {
			if ck.Name == "po_click" {
				tokMu.Lock()
				if len(tokens) < 100_000 {
					tokens = append(tokens, ck.Value)
				}
				tokMu.Unlock()
			}
		}
	})
	type sample struct {
		second int
		took   time.Duration
		status int
	}
	var samples []sample
	var sampMu sync.Mutex
	start := time.Now()
	wg.Add(1)
	go pace(convRate, func(i int) {
		tokMu.Lock()
		var tok string
		if len(tokens) > 0 {
			tok = tokens[i%len(tokens)]
		}
		tokMu.Unlock()
		body, _ := json.Marshal(map[string]any{"program_id": pid, "external_id": fmt.Sprintf("soak-%s-%d", run, i), "kind": "sale",
			"amount": "50.00", "currency": "USD", "click_token": tok})
		req, _ := http.NewRequest("POST", base+"/v1/conversions", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+integrations[i%2])
		t0 := time.Now()
		resp, err := c.Do(req)
		s := sample{second: int(t0.Sub(start) / time.Second), took: time.Since(t0)}
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			s.status = resp.StatusCode
		}
		sampMu.Lock()
		samples = append(samples, s)
		sampMu.Unlock()
	})
	time.Sleep(d)
	close(stop)
	wg.Wait()
	time.Sleep(2 * time.Second) // the last requests answer

	sampMu.Lock()
	defer sampMu.Unlock()
	report := func(label string, keep func(sample) bool) {
		var took []time.Duration
		codes := map[int]int{}
		for _, s := range samples {
			if keep(s) {
				took = append(took, s.took)
				codes[s.status]++
			}
		}
		if len(took) == 0 {
			return
		}
		slices.Sort(took)
		q := func(p float64) time.Duration { return took[min(len(took)-1, int(p*float64(len(took))))] }
		fmt.Printf("%-22s %6d postbacks  p50 %-9s p99 %-9s max %-9s  answers %v\n", label, len(took), q(0.50).Round(100*time.Microsecond),
			q(0.99).Round(100*time.Microsecond), took[len(took)-1].Round(100*time.Microsecond), codes)
	}
	fmt.Printf("soak of %s: %d clicks/s and %d conversions/s for %s; clicks answered 302: %d, failed: %d (first: %v)\n", base, clickRate, convRate, d, clicksOK.Load(), clicksBad.Load(), firstBad.Load())
	for sec := 0; sec < int(d/time.Second); sec++ {
		report(fmt.Sprintf("  second %d", sec), func(s sample) bool { return s.second == sec })
	}
	report("first 20 s", func(s sample) bool { return s.second < 20 })
	report("whole run", func(sample) bool { return true })
	return nil
}
