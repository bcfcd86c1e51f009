//go:build e2e

package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// After traffic, /metrics has per-route request counts and latencies, decisions
// by outcome, the pools' figures, business state and the Temporal SDK's metrics.
func TestMetrics(t *testing.T) {
	f := newProgram(t)
	id := apply(t, f, "affiliate")
	expect(t, do(t, call{method: "POST", path: "/v1/partners/" + id + "/approve", key: f.manager, body: map[string]any{}}), http.StatusOK)
	expect(t, do(t, call{method: "POST", path: "/v1/partners/" + id + "/approve", key: f.manager, body: map[string]any{}}), http.StatusConflict)
	do(t, call{method: "GET", path: "/v1/nowhere/" + id, key: f.manager})

	resp, err := http.Get(sys.metrics.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := string(raw)
	for _, want := range []string{
		`partnerops_http_requests_total{code="201",method="POST",route="/v1/applications"}`,
		`partnerops_http_requests_total{code="409",method="POST",route="/v1/partners/:id/approve"}`,
		`partnerops_http_requests_total{code="404",method="GET",route="unmatched"}`,
		`partnerops_http_request_duration_seconds_bucket{method="POST",route="/v1/partners/:id/approve",le="0.25"}`,
		`partnerops_decisions_total{decision="approve",outcome="applied",record="partner"}`,
		`partnerops_decisions_total{decision="approve",outcome="refused",record="partner"}`,
		`partnerops_db_pool_connections{pool="api",state="max"} 4`,
		`partnerops_db_pool_connections{pool="worker",state="max"} 4`,
		`partnerops_db_pool_acquires_total{pool="worker"}`,
		`partnerops_closes{`,
		`partnerops_payouts{status="held"}`,
		`partnerops_notifications_pending`,
		`partnerops_workflow_starts_unmade `,
		`partnerops_workflow_starts_unmade_oldest_age_seconds `,
		`partnerops_clicks_accepted_total`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// The Temporal SDK's own: workflow task and activity execution, requests to the server.
	for _, re := range []string{`(?m)^temporal_workflow_task_execution_latency_seconds_bucket\{`, `(?m)^temporal_activity_execution_latency_seconds_bucket\{`,
		`(?m)^temporal_workflow_task_schedule_to_start_latency_seconds_bucket\{`, `(?m)^temporal_request_total\{`, `(?m)^temporal_num_pollers\{`} {
		if !regexp.MustCompile(re).MatchString(body) {
			t.Errorf("/metrics lacks a Temporal SDK metric matching %s", re)
		}
	}
	if t.Failed() {
		var names []string
		for _, l := range strings.Split(body, "\n") {
			if strings.HasPrefix(l, "# TYPE temporal") {
				names = append(names, l)
			}
		}
		t.Logf("temporal metrics present:\n%s", strings.Join(names, "\n"))
	}
	// The route label is the pattern: no ids in metric labels.
	if strings.Contains(body, id) {
		t.Fatal("a record id leaked into a metric label")
	}
}

// The Grafana dashboard and the alert rules in docs/ops only name metrics that
// /metrics serves (and parse): a renamed metric fails here, not in production.
func TestDashboardAndAlertsNameServedMetrics(t *testing.T) {
	f := newProgram(t)
	id := apply(t, f, "affiliate")
	expect(t, do(t, call{method: "POST", path: "/v1/partners/" + id + "/approve", key: f.manager, body: map[string]any{}}), http.StatusOK)
	resp, err := http.Get(sys.metrics.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	served := map[string]string{} // name → type
	for _, m := range regexp.MustCompile(`(?m)^# TYPE (\w+) (\w+)`).FindAllStringSubmatch(string(raw), -1) {
		served[m[1]] = m[2]
	}
	// Emitted only once something failed: the SDK registers them on first failure (counters).
	onFailure := map[string]string{"temporal_workflow_task_execution_failed_total": "counter", "temporal_activity_execution_failed_total": "counter"}

	var exprs []string
	alerts, err := os.ReadFile("../../docs/ops/prometheus-alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert, Expr string
			}
		}
	}
	if err := yaml.Unmarshal(alerts, &rules); err != nil || len(rules.Groups) == 0 || len(rules.Groups[0].Rules) < 5 {
		t.Fatalf("alert rules: %v %+v", err, rules)
	}
	for _, r := range rules.Groups[0].Rules {
		if r.Alert == "" || r.Expr == "" {
			t.Fatalf("a rule without a name or an expression: %+v", r)
		}
		exprs = append(exprs, r.Expr)
	}
	dash, err := os.ReadFile("../../docs/ops/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(dash, &d); err != nil || len(d.Panels) < 8 {
		t.Fatalf("dashboard: %v (%d panels)", err, len(d.Panels))
	}
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	names := regexp.MustCompile(`\b(?:partnerops|temporal)_[a-z_]+`)
	for _, e := range exprs {
		for _, n := range names.FindAllString(e, -1) {
			base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_sum"), "_count")
			if served[base] == "" && onFailure[base] == "" {
				t.Errorf("%s (in %q) is not served by /metrics", n, e)
			}
		}
	}
	// Each function gets the type it is meant for: increase() and rate() a counter
	// (or a histogram's series), delta() a gauge.
	typed := regexp.MustCompile(`\b(increase|rate|delta)\(((?:partnerops|temporal)_[a-z_]+)`)
	for _, e := range exprs {
		for _, m := range typed.FindAllStringSubmatch(e, -1) {
			fn, n := m[1], m[2]
			typ := served[n]
			if typ == "" {
				typ = onFailure[n]
			}
			if base := strings.TrimSuffix(n, "_bucket"); base != n && served[base] == "histogram" {
				typ = "counter" // a histogram's buckets are counters
			}
			if want := map[string]string{"increase": "counter", "rate": "counter", "delta": "gauge"}[fn]; typ != want {
				t.Errorf("%s(%s) in %q: %s is a %s, not a %s", fn, n, e, n, typ, want)
			}
		}
	}
	// The Temporal SDK's counters are counters, with help text.
	for _, n := range []string{"temporal_request_total", "temporal_long_request_total"} {
		if served[n] != "counter" || !regexp.MustCompile(`(?m)^# HELP `+n+` Temporal SDK: \S`).Match(raw) {
			t.Errorf("%s: type %q, help %v", n, served[n], regexp.MustCompile(`(?m)^# HELP `+n+` .*`).Find(raw))
		}
	}
}

// A worker's metrics listener also answers /healthz and /readyz: ready once the
// worker's own workflow and activity pollers have polls in flight, 503 before.
func TestWorkerHealthEndpoints(t *testing.T) {
	ctx := context.Background()
	reg, sdkMetrics, err := newRegistry()
	if err != nil {
		t.Fatal(err)
	}
	c, err := dialTemporal(ctx, sys.temporalAddress, "default", sys.logger, sdkMetrics)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = serveMetrics(mctx, addr, reg, sys.logger, workerReady(c, reg)) }()
	readyz := func() int {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	eventually(t, "the listener", func() bool { return readyz() != 0 })
	if got := readyz(); got != http.StatusServiceUnavailable {
		t.Fatalf("/readyz before this worker polls: %d, want 503", got)
	}
	w, err := startWorker(c, sys.workerStore, sys.logger, sys.payments)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	eventually(t, "/readyz 200 once the worker's pollers are connected", func() bool { return readyz() == http.StatusOK })
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %v %v", resp, err)
	}
	resp.Body.Close()
}
