//go:build e2e

package main

// Integration tests: the real API and worker against a real PostgreSQL and a real
// Temporal server. TestMain starts a Temporal dev server of its own (from the CLI
// that `make test` builds, on a free port, in memory) and creates a private
// database, so nothing is shared with `make run`. Missing either is a failure
// that says what to do, never a skip.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/partnerops/partnerops/starts"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/partnerops/partnerops/activities"
	"github.com/partnerops/partnerops/api"
	fakepay "github.com/partnerops/partnerops/cmd/fakepay/server"
	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
)

// sys is the system under test, shared by the tests of this package.
var sys struct {
	dbURL           string
	store           *db.Store // the API's pool
	workerStore     *db.Store // the worker's pool
	temporalAddress string
	temporal        client.Client
	api             *httptest.Server
	metrics         *httptest.Server // the process's /metrics, on its own listener as METRICS_ADDR is
	logger          *slog.Logger
	worker          worker.Worker
	pay             *fakepay.Server
	paySrv          *httptest.Server
	payments        activities.Payments
	mail            *mailCatcher // the SMTP server notification e-mail goes to
}

func TestMain(m *testing.M) {
	os.Setenv("WEBHOOKS_ALLOW_PRIVATE", "1") // the tests' webhook receivers listen on 127.0.0.1
	if os.Getenv(childWorkerEnv) != "" {     // a worker process of its own, for the crash test
		if err := runChildWorker(); err != nil {
			fmt.Fprintln(os.Stderr, "child worker:", err)
			os.Exit(1)
		}
		return
	}
	code, err := runWithSystem(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration test setup failed:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func runWithSystem(m *testing.M) (int, error) {
	ctx := context.Background()
	sys.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("TEST_LOG") != "" {
		sys.logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}

	cli := os.Getenv("TEMPORAL_CLI")
	if cli == "" {
		return 0, fmt.Errorf("TEMPORAL_CLI is not set: run the tests with 'make test', which builds the Temporal CLI and sets it")
	}
	if _, err := os.Stat(cli); err != nil {
		return 0, fmt.Errorf("TEMPORAL_CLI=%s: %w (run 'make test')", cli, err)
	}
	var sdkLogger tlog.Logger = quietLogger{}
	if os.Getenv("TEST_LOG") != "" {
		sdkLogger = tlog.NewStructuredLogger(sys.logger.With("component", "temporal"))
	}
	// One registry as under make run: the API's routes and pools, the worker's
	// pool, the Temporal SDK's metrics (TestMetrics scrapes it).
	reg, sdkMetrics, err := newRegistry()
	if err != nil {
		return 0, err
	}
	srv, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath: cli, LogLevel: "error", ExtraArgs: devServerTuning,
		ClientOptions: &client.Options{Namespace: "default", Logger: sdkLogger, MetricsHandler: sdkMetrics},
	})
	if err != nil {
		return 0, fmt.Errorf("start Temporal dev server from %s: %w", cli, err)
	}
	defer srv.Stop()
	sys.temporal = srv.Client()
	sys.temporalAddress = srv.FrontendHostPort()
	// The same registration the worker command does against a real cluster.
	if err := ensureSearchAttributes(ctx, sys.temporal, "default"); err != nil {
		return 0, err
	}

	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432/postgres"
	}
	u, err := url.Parse(base)
	if err != nil {
		return 0, fmt.Errorf("TEST_DATABASE_URL: %w", err)
	}
	u.Path = fmt.Sprintf("/partnerops_test_%d_%d", os.Getpid(), rand.IntN(1_000_000))
	sys.dbURL = u.String()
	// As under `make run`: the API and the worker in one process, each with its own
	// small pool (4), so a handler that held a connection while waiting on a
	// workflow would starve the others at once.
	if sys.store, err = openStore(ctx, sys.dbURL, 4); err != nil {
		return 0, fmt.Errorf("PostgreSQL for tests (TEST_DATABASE_URL, default 127.0.0.1:5432, user postgres): %w", err)
	}
	defer func() {
		sys.store.Pool.Close()
		_ = db.DropDatabase(context.Background(), sys.dbURL)
	}()
	if err := db.Migrate(ctx, sys.store.Pool); err != nil {
		return 0, err
	}

	if filesDir, err = os.MkdirTemp("", "partnerops-files-"); err != nil {
		return 0, err
	}
	defer os.RemoveAll(filesDir)
	// A real SMTP server for notification e-mail (the worker reads SMTP_URL).
	if sys.mail, err = startMailCatcher("127.0.0.1:0"); err != nil {
		return 0, err
	}
	defer sys.mail.Close()
	os.Setenv("SMTP_URL", "smtp://"+sys.mail.Addr())
	// The fake payments provider the payout tests drive.
	sys.pay = fakepay.New()
	sys.paySrv = httptest.NewServer(sys.pay)
	defer sys.paySrv.Close()
	sys.payments = activities.Payments{FileDir: filesDir, URL: sys.paySrv.URL, APIKey: "test", Client: &http.Client{Timeout: 2 * time.Second}}
	if sys.workerStore, err = openStore(ctx, sys.dbURL, 4); err != nil {
		return 0, err
	}
	defer sys.workerStore.Pool.Close()
	reg.MustRegister(api.NewPoolCollector(sys.workerStore.Pool, "worker"))
	w, err := startWorker(sys.temporal, sys.workerStore, sys.logger, sys.payments)
	if err != nil {
		return 0, err
	}
	sys.worker = w
	sweepCtx, stopSweep := context.WithCancel(ctx)
	defer stopSweep()
	go starts.Sweeper(sweepCtx, sys.workerStore, sys.temporal, sys.logger, startSweepInterval)
	defer func() { sys.worker.Stop() }()
	cfg := testAPIConfig()
	cfg.Registry = reg
	// The portal mails sign-in links to the catcher, addressed to this server.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	cfg.Portal.PublicURL = "http://" + ln.Addr().String()
	if cfg.Portal.Mailer, err = activities.ParseSMTPURL("smtp://"+sys.mail.Addr(), "partnerops <no-reply@partnerops.localhost>"); err != nil {
		return 0, err
	}
	cfg.Portal.TemporalUI = "http://temporal-ui.test"
	s, err := api.New(cfg, sys.store, sys.temporal, sys.logger)
	if err != nil {
		return 0, err
	}
	testServer = s
	sys.api = httptest.NewUnstartedServer(s.Handler())
	sys.api.Listener.Close()
	sys.api.Listener = ln
	sys.api.Start()
	sys.pay.CallbackURL, sys.pay.Secret = sys.api.URL+"/v1/webhooks/payments", webhookSecret
	sys.metrics = httptest.NewServer(s.MetricsHandler())
	defer sys.metrics.Close()
	defer s.Close()
	defer sys.api.Close()
	return m.Run(), nil
}

var (
	filesDir      string
	testTokenKey  = []byte("test-click-token-key-0123456789abcdef")
	testServer    *api.Server
	webhookSecret = []byte("whsec_test_0123456789")
)

func testAPIConfig() api.Config {
	cfg := api.DefaultConfig()
	cfg.RateLimit = 0             // tests fire fast; TestRateLimit sets its own
	cfg.AuthFailuresPerMinute = 0 // many tests send bad keys from 127.0.0.1; TestFailedAuthenticationIsThrottled sets its own
	cfg.FilesDir = filesDir
	cfg.MaxFileBytes = 256 << 10 // small, so the size limit is cheap to test
	cfg.Click.TokenKey, cfg.Click.IPKey = testTokenKey, []byte("test-ip-hash-key-0123456789abcdef")
	cfg.Click.Refresh = 100 * time.Millisecond
	cfg.PaymentsWebhookSecret = webhookSecret
	cfg.WebhookAllowPrivate = true
	return cfg
}

// --- an HTTP client for the tests ---

type response struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r response) str(path ...string) string {
	var v any = r.body
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	s, _ := v.(string)
	return s
}

// errField returns the error code and field of an error answer.
func (r response) errCode() (code, field string) {
	return r.str("error", "code"), r.str("error", "field")
}

type call struct {
	method, path, key string
	body              any // a string is sent as is, anything else as JSON
	headers           map[string]string
}

func do(t *testing.T, c call) response {
	t.Helper()
	return doAt(t, sys.api.URL, c)
}

func doAt(t *testing.T, base string, c call) response {
	t.Helper()
	var sent []byte
	switch b := c.body.(type) {
	case nil:
	case string:
		sent = []byte(b)
	default:
		sent, _ = json.Marshal(b)
	}
	req, _ := http.NewRequest(c.method, base+c.path, bytes.NewReader(sent))
	req.Header.Set("Content-Type", "application/json")
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &r.body)
	record(c, req, r)
	checkContract(t, req, sent, r)
	return r
}

func expect(t *testing.T, r response, status int) response {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	return r
}

// --- fixtures ---

func newKey(t *testing.T, role string, partnerID uuid.UUID) string {
	t.Helper()
	pid := uuid.NullUUID{UUID: partnerID, Valid: partnerID != uuid.Nil}
	k, err := api.CreateKey(context.Background(), sys.store.Queries, role, pid, "")
	if err != nil {
		t.Fatal(err)
	}
	return k.Key
}

type fixture struct {
	admin, manager, finance string
	programID               string
}

// newProgram makes a channel program whose resellers need sales-fundamentals.
func newProgram(t *testing.T) fixture { t.Helper(); return newProgramIn(t, "EUR") }

// newProgramIn is newProgram with its money in another currency.
func newProgramIn(t *testing.T, currency string) fixture {
	t.Helper()
	f := fixture{admin: newKey(t, domain.RoleAdmin, uuid.Nil), manager: newKey(t, domain.RoleManager, uuid.Nil), finance: newKey(t, domain.RoleFinance, uuid.Nil)}
	r := expect(t, do(t, call{method: "POST", path: "/v1/programs", key: f.admin, body: map[string]any{
		"name": "Program " + uuid.NewString()[:8], "kind": "hybrid", "currency": currency, "agreement_version": "2026-01",
		"tiers": []map[string]any{
			{"name": "Registered", "rank": 0},
			{"name": "Gold", "rank": 2, "deal_protection_days": 120, "mdf_quarterly_allocation": "10000.00", "default_margin": "0.20", "required_certifications": []string{"gold-technical"}},
		},
		"certifications": map[string][]string{"reseller": {"sales-fundamentals"}},
	}}), http.StatusCreated)
	f.programID = r.str("id")
	return f
}

func application(f fixture, partnerType string) map[string]any {
	n := uuid.NewString()[:8]
	return map[string]any{"program_id": f.programID, "name": "Ana " + n, "email": "ana." + n + "@northwind.example",
		"company": "Northwind " + n, "website_domain": "https://www.northwind-" + n + ".example/about", "partner_type": partnerType}
}

func apply(t *testing.T, f fixture, partnerType string) string {
	t.Helper()
	return expect(t, do(t, call{method: "POST", path: "/v1/applications", body: application(f, partnerType)}), http.StatusCreated).str("id")
}

// eventually polls cond until it holds or the time runs out.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func countRows(t *testing.T, table string) int {
	t.Helper()
	var n int
	if err := sys.store.Pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// record appends the exchange to $OPENAPI_RECORD (a JSON line each), when set:
// samples of what the API answers, for writing its document.
var recordMu sync.Mutex

func record(c call, req *http.Request, r response) {
	path := os.Getenv("OPENAPI_RECORD")
	if path == "" {
		return
	}
	var reqBody json.RawMessage
	if c.body != nil {
		if s, ok := c.body.(string); ok {
			reqBody, _ = json.Marshal(s)
		} else {
			reqBody, _ = json.Marshal(c.body)
		}
	}
	var body any = string(r.raw)
	if json.Valid(r.raw) {
		body = json.RawMessage(r.raw)
	}
	line, _ := json.Marshal(map[string]any{"method": c.method, "path": req.URL.Path, "query": req.URL.RawQuery, "status": r.status,
		"content_type": r.header.Get("Content-Type"), "request": reqBody, "body": body})
	recordMu.Lock()
	defer recordMu.Unlock()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err == nil {
		f.Write(append(line, '\n'))
		f.Close()
	}
}
