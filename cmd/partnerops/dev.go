package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"github.com/partnerops/partnerops/starts"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/partnerops/partnerops/api"
	fakepay "github.com/partnerops/partnerops/cmd/fakepay/server"
	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
	"github.com/partnerops/partnerops/workflows"
)

// privatePGPort is where dev starts its own PostgreSQL when none answers.
const privatePGPort = 55432

// runDev starts the whole system for development in one terminal: PostgreSQL (the
// configured one, or a private cluster under DATA_DIR), a Temporal dev server with
// its Web UI, the migrations, the worker and the API. Ctrl-C stops all of it.
func runDev(ctx context.Context, cfg Config, logger *slog.Logger) error {
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return err
	}
	dbURL, stopPG, err := ensurePostgres(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer stopPG()

	stopTemporal, err := startTemporal(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer stopTemporal()

	// The API and the worker each get their own pool, as they would in their own
	// processes: a burst of requests cannot starve the activities, nor the reverse.
	store, err := openStore(ctx, dbURL, cfg.DatabaseMaxConns)
	if err != nil {
		return err
	}
	defer store.Pool.Close()
	workerStore, err := openStore(ctx, dbURL, cfg.DatabaseMaxConns)
	if err != nil {
		return err
	}
	defer workerStore.Pool.Close()
	if err := db.Migrate(ctx, store.Pool); err != nil {
		return err
	}
	// One process, one /metrics: the API's routes and pool, the worker's pool and
	// the Temporal SDK's metrics of both.
	reg, sdkMetrics, err := newRegistry()
	if err != nil {
		return err
	}
	reg.MustRegister(api.NewPoolCollector(workerStore.Pool, "worker"))
	tracer, interceptors, shutdown, err := tracing(ctx)
	if err != nil {
		return err
	}
	defer shutdown()
	cfg.API.Registry, cfg.API.Tracer = reg, tracer
	c, err := dialTemporal(ctx, cfg.TemporalAddress, cfg.TemporalNamespace, logger, sdkMetrics, interceptors...)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := ensureSearchAttributes(ctx, c, cfg.TemporalNamespace); err != nil {
		return err
	}
	adminKey, err := bootstrapAdminKey(ctx, store, filepath.Join(cfg.DataDir, "admin-key"))
	if err != nil {
		return err
	}
	// The first portal user: the admin signs in by e-mail link (the mail inbox
	// below catches it) and adds managers and finance from the Users page.
	if _, err := api.CreateUser(ctx, store.Queries, devAdminEmail, "Admin", domain.RoleAdmin, uuid.NullUUID{}, uuid.NullUUID{}); err != nil && !strings.Contains(err.Error(), "already has an account") {
		return fmt.Errorf("create the first portal user: %w", err)
	}
	if cfg.API.Portal.TemporalUI == "" {
		cfg.API.Portal.TemporalUI = fmt.Sprintf("http://localhost:%d", cfg.TemporalUIPort)
	}
	var mailInbox http.Handler
	if os.Getenv("SMTP_URL") == "" { // a local mail catcher, its inbox on the demo port (/mail)
		catcher, err := startMailCatcher("127.0.0.1:1025")
		if err != nil {
			return fmt.Errorf("start the mail catcher on 127.0.0.1:1025 (set SMTP_URL to use another server): %w", err)
		}
		defer catcher.Close()
		os.Setenv("SMTP_URL", "smtp://"+catcher.Addr())
		mailInbox = catcher.Handler()
	}
	stopPay, err := startFakePayments(&cfg, logger, mailInbox)
	if err != nil {
		return err
	}
	defer stopPay()
	if err := ensureRetention(ctx, c, cfg.TemporalNamespace, devRetention); err != nil {
		return err
	}
	w, err := startWorker(c, workerStore, logger, cfg.Payments)
	if err != nil {
		return err
	}
	defer w.Stop()
	go starts.Sweeper(ctx, workerStore, c, logger, startSweepInterval)

	ready := make(chan string, 1)
	apiErr := make(chan error, 1)
	go func() { apiErr <- serveAPI(ctx, cfg, store, c, logger, ready) }()
	select {
	case addr := <-ready:
		port := addr[strings.LastIndex(addr, ":")+1:]
		fmt.Printf(`
partnerops is running
  Portal        http://localhost:%s   (sign in as %s; the link arrives in the mail inbox)
  API           http://localhost:%s   (OpenAPI: http://localhost:%s/openapi.yaml)
  Temporal UI   http://localhost:%d
  Temporal      %s, namespace %s
  PostgreSQL    %s
  Payments      %s
  Mail inbox    %s
  Admin key     %s   (saved in %s)

  export PO=http://localhost:%s ADMIN=$(cat %s)
Press Ctrl-C to stop everything.
`, port, devAdminEmail, port, port, cfg.TemporalUIPort, cfg.TemporalAddress, cfg.TemporalNamespace, redactURL(dbURL), cfg.Payments.URL, mailInboxURL(mailInbox != nil, cfg.Payments.URL), adminKey,
			filepath.Join(cfg.DataDir, "admin-key"), port, filepath.Join(cfg.DataDir, "admin-key"))
	case err := <-apiErr:
		return err
	}
	err = <-apiErr // returns after Ctrl-C, once the API has drained
	logger.Info("stopping worker, Temporal and PostgreSQL")
	return err
}

// ensurePostgres returns a URL of a PostgreSQL that answers, starting a private
// cluster under DATA_DIR when DATABASE_URL was not set and nothing answers.
func ensurePostgres(ctx context.Context, cfg Config, logger *slog.Logger) (string, func(), error) {
	noop := func() {}
	if pgAnswers(ctx, cfg.DatabaseURL) {
		return cfg.DatabaseURL, noop, nil
	}
	if cfg.DatabaseURLSet {
		return "", noop, fmt.Errorf("PostgreSQL does not answer at %s: start it, or set DATABASE_URL to one that answers", redactURL(cfg.DatabaseURL))
	}
	bin := findPGBin()
	if bin == "" {
		return "", noop, errors.New("PostgreSQL does not answer at 127.0.0.1:5432 and its server binaries are not installed: install PostgreSQL (for example 'apt-get install postgresql') or set DATABASE_URL")
	}
	dataDir, err := filepath.Abs(filepath.Join(cfg.DataDir, "postgres"))
	if err != nil {
		return "", noop, err
	}
	runAs, err := pgUser(dataDir)
	if err != nil {
		return "", noop, err
	}
	pgctl := func(args ...string) *exec.Cmd { return runAs(filepath.Join(bin, "pg_ctl"), args...) }
	if _, err := os.Stat(filepath.Join(dataDir, "PG_VERSION")); err != nil {
		logger.Info("creating a private PostgreSQL cluster", "dir", dataDir)
		if out, err := runAs(filepath.Join(bin, "initdb"), "-D", dataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8").CombinedOutput(); err != nil {
			return "", noop, fmt.Errorf("initdb: %v: %s", err, out)
		}
	}
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -k %s", privatePGPort, dataDir)
	if out, err := pgctl("-D", dataDir, "-l", filepath.Join(dataDir, "server.log"), "-o", opts, "-w", "start").CombinedOutput(); err != nil {
		return "", noop, fmt.Errorf("start private PostgreSQL: %v: %s", err, out)
	}
	logger.Info("started a private PostgreSQL", "port", privatePGPort, "dir", dataDir)
	stop := func() { _ = pgctl("-D", dataDir, "-m", "fast", "-w", "stop").Run() }
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/partnerops", privatePGPort), stop, nil
}

func pgAnswers(ctx context.Context, dbURL string) bool {
	u, err := url.Parse(dbURL)
	if err != nil {
		return false
	}
	u.Path = "/postgres"
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, u.String())
	if err != nil {
		return false
	}
	_ = conn.Close(ctx)
	return true
}

// findPGBin finds PostgreSQL's server binaries (Debian keeps them per version).
func findPGBin() string {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Strings(dirs)
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i]
		}
	}
	return ""
}

// pgUser returns how to run PostgreSQL's tools: as ourselves, or, since initdb
// refuses to run as root, as the postgres system user owning the data directory.
func pgUser(dataDir string) (func(name string, args ...string) *exec.Cmd, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return exec.Command, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, errors.New("running as root, and initdb refuses to: create a 'postgres' user, run as another user, or set DATABASE_URL")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dataDir, uid, gid); err != nil {
		return nil, err
	}
	return func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(name, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		cmd.Dir = dataDir
		return cmd
	}, nil
}

// startTemporal runs the Temporal CLI's dev server (with its Web UI and the
// search attributes registered), persisted under DATA_DIR, unless a Temporal
// server already answers at TEMPORAL_ADDRESS.
func startTemporal(ctx context.Context, cfg Config, logger *slog.Logger) (func(), error) {
	if temporalAnswers(ctx, cfg.TemporalAddress, time.Second) {
		logger.Info("using the Temporal server that already answers", "address", cfg.TemporalAddress)
		return func() {}, nil
	}
	if _, err := os.Stat(cfg.TemporalCLI); err != nil {
		return nil, fmt.Errorf("the Temporal CLI is not at %s: run 'make run' (it builds it) or set TEMPORAL_CLI", cfg.TemporalCLI)
	}
	host, port, _ := strings.Cut(cfg.TemporalAddress, ":")
	args := []string{"server", "start-dev", "--ip", host, "--port", port, "--ui-port", strconv.Itoa(cfg.TemporalUIPort),
		"--db-filename", filepath.Join(cfg.DataDir, "temporal.db"), "--namespace", cfg.TemporalNamespace, "--log-level", "warn"}
	args = append(args, devServerTuning...)
	names := make([]string, 0, len(workflows.SearchAttributes))
	for name := range workflows.SearchAttributes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		typ := "Keyword"
		if workflows.SearchAttributes[name] == enums.INDEXED_VALUE_TYPE_DATETIME {
			typ = "Datetime"
		}
		args = append(args, "--search-attribute", name+"="+typ)
	}
	cmd := exec.Command(cfg.TemporalCLI, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	// Its own process group, so Ctrl-C reaches us first and we stop it last; and
	// it dies with us if we are killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start Temporal dev server: %w", err)
	}
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
	}
	if !temporalAnswers(ctx, cfg.TemporalAddress, 60*time.Second) {
		stop()
		return nil, fmt.Errorf("the Temporal dev server did not answer at %s within a minute", cfg.TemporalAddress)
	}
	return stop, nil
}

func temporalAnswers(ctx context.Context, address string, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		conn, err := temporalConnection()
		if err != nil {
			cancel()
			return false
		}
		c, err := client.DialContext(cctx, client.Options{HostPort: address, Logger: quietLogger{}, ConnectionOptions: conn})
		if err == nil {
			_, err = c.CheckHealth(cctx, &client.CheckHealthRequest{})
			c.Close()
		}
		cancel()
		if err == nil {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// bootstrapAdminKey reuses the admin key saved at path while it is valid, or
// creates one and saves it there (readable only by its owner).
// devAdminEmail is make run's first portal user.
const devAdminEmail = "admin@partnerops.localhost"

func bootstrapAdminKey(ctx context.Context, store *db.Store, path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		key := strings.TrimSpace(string(b))
		if prefix, hash, ok := domain.ParseAPIKey(key); ok {
			if k, err := store.GetAPIKeyByPrefix(ctx, prefix); err == nil && k.RevokedAt == nil && k.Role == domain.RoleAdmin && domain.HashesEqual(k.SecretHash, hash) {
				return key, nil
			}
		}
	}
	k, err := api.CreateKey(ctx, store.Queries, domain.RoleAdmin, noPartner, "bootstrap (make run)")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(k.Key+"\n"), 0o600); err != nil {
		return "", err
	}
	return k.Key, nil
}

func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return s
}

// quietLogger silences the SDK while dev polls for the server to come up.
type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}

var noPartner uuid.NullUUID

// mailInboxURL says where make run's mail catcher shows the e-mail, or where mail goes.
func mailInboxURL(catcher bool, demo string) string {
	switch {
	case catcher && strings.HasPrefix(demo, "http://127.0.0.1:"):
		return demo + "/mail   (SMTP 127.0.0.1:1025)"
	case os.Getenv("SMTP_URL") != "":
		return "sent through SMTP_URL"
	}
	return "off (no SMTP_URL)"
}

// startFakePayments runs the fake payments API (cmd/fakepay) in-process for the
// demo when PAYMENTS_URL is not set, confirming to this API's webhook.
func startFakePayments(cfg *Config, logger *slog.Logger, mailInbox http.Handler) (func(), error) {
	if cfg.Payments.URL != "" {
		return func() {}, nil
	}
	if len(cfg.API.PaymentsWebhookSecret) == 0 {
		cfg.API.PaymentsWebhookSecret = []byte("whsec_dev_" + rand.Text())
	}
	ln, err := net.Listen("tcp", "127.0.0.1:8090")
	if err != nil {
		return nil, fmt.Errorf("start the fake payments API on 127.0.0.1:8090 (set PAYMENTS_URL to use another): %w", err)
	}
	fake := fakepay.New()
	_, port, _ := strings.Cut(cfg.HTTPAddr, ":")
	fake.CallbackURL, fake.Secret = "http://127.0.0.1:"+port+"/v1/webhooks/payments", cfg.API.PaymentsWebhookSecret
	// The same port serves the demo webhook inbox (POST/GET /inbox/<name>).
	var next http.Handler = fake
	if mailInbox != nil { // /mail and /mail.json: the mail catcher's inbox
		mux := http.NewServeMux()
		mux.Handle("/mail", mailInbox)
		mux.Handle("/mail.json", mailInbox)
		mux.Handle("/", fake)
		next = mux
	}
	srv := &http.Server{Handler: &webhookInbox{byTo: map[string][]inboxEntry{}, next: next}, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	cfg.Payments.URL, cfg.Payments.APIKey = "http://"+ln.Addr().String(), "fake"
	logger.Info("fake payments API, webhook inbox and mail inbox (demo)", "url", cfg.Payments.URL, "webhooks", cfg.Payments.URL+"/inbox/<name>", "mail", cfg.Payments.URL+"/mail")
	return func() { _ = srv.Close() }, nil
}
