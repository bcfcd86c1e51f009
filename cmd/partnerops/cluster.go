package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/template"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/partnerops/partnerops/api"
	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
)

// The cluster's fixed local ports (docs/production.md draws them).
const (
	clusterHTTPPort     = 8080 // the balancer, plain HTTP
	clusterHTTPSPort    = 8443 // the balancer, TLS with the local certificate
	clusterStatsPort    = 8404 // HAProxy's statistics page
	clusterAPIBasePort  = 8180 // API replica i listens on 8180+i, its /metrics on 9180+i
	clusterWorkerMetric = 9190 // worker i's /metrics, /healthz and /readyz on 9190+i
	clusterTemporalPort = 7233
	clusterTemporalMet  = 9233
	clusterRetention    = 30 * 24 * time.Hour
)

// clusterSpec is what `partnerops cluster` runs: the replicas' counts and where
// the Temporal server, its schema tool and its Web UI are.
type clusterSpec struct {
	APIs, Workers       int
	Dir                 string
	TemporalServer      string
	SQLTool             string
	UIServer            string
	HAProxy             string
	DrainDelay          time.Duration
	TemporalDB, VisDB   string // the Temporal server's two databases, on DATABASE_URL's server
	DatabaseURL         string // partnerops's own (after ensurePostgres)
	PaymentsURL, Secret string // the fake payments API the workers call, its webhook secret
	SMTPURL             string
	ClickKey, IPKey     string // files shared by every API replica
	TemporalUI          string
	PKI                 localPKI
}

func clusterSpecFromEnv(cfg Config) clusterSpec {
	num := func(name string, def int) int {
		if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 && n < 10 {
			return n
		}
		return def
	}
	bin := filepath.Dir(cfg.TemporalCLI)
	dir, err := filepath.Abs(filepath.Join(cfg.DataDir, "cluster"))
	if err != nil {
		dir = filepath.Join(cfg.DataDir, "cluster")
	}
	return clusterSpec{
		APIs: num("CLUSTER_APIS", 2), Workers: num("CLUSTER_WORKERS", 2),
		Dir:            dir,
		TemporalServer: env("TEMPORAL_SERVER", filepath.Join(bin, "temporal-server")),
		SQLTool:        env("TEMPORAL_SQL_TOOL", filepath.Join(bin, "temporal-sql-tool")),
		UIServer:       env("TEMPORAL_UI_SERVER", filepath.Join(bin, "temporal-ui-server")),
		HAProxy:        env("HAPROXY", "haproxy"),
		DrainDelay:     3 * time.Second,
		TemporalDB:     env("CLUSTER_TEMPORAL_DB", "partnerops_temporal"),
		VisDB:          env("CLUSTER_TEMPORAL_DB", "partnerops_temporal") + "_visibility",
	}
}

// runCluster runs partnerops as it is deployed, on one machine: a Temporal
// server on PostgreSQL (persistence and SQL visibility), its Web UI, API
// replicas and workers as separate processes, HAProxy in front (TLS, health
// checks on /readyz, routing that keeps per-process state whole), the fake
// payments API and the mail catcher. Ctrl-C stops all of it, balancer first.
func runCluster(ctx context.Context, cfg Config, logger *slog.Logger) error {
	spec := clusterSpecFromEnv(cfg)
	for _, p := range []string{spec.TemporalServer, spec.SQLTool, spec.UIServer} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%s is missing: run 'make cluster' (it builds the Temporal server, its schema tool and the UI)", p)
		}
	}
	if _, err := exec.LookPath(spec.HAProxy); err != nil {
		return errors.New("haproxy is not installed: run 'make cluster' (it installs it with apt) or 'sudo apt-get install haproxy'")
	}
	if err := os.MkdirAll(spec.Dir, 0o755); err != nil {
		return err
	}
	dbURL, stopPG, err := ensurePostgres(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer stopPG()
	spec.DatabaseURL = dbURL

	procs := &processGroup{logger: logger, logsDir: filepath.Join(spec.Dir, "logs")}
	defer procs.stopAll()

	// One local CA for the balancer's TLS and the Temporal frontend's mTLS;
	// every Temporal client of this process and its children uses the client
	// certificate (temporalConnection reads these).
	pki, err := ensureLocalPKI(filepath.Join(spec.Dir, "tls"))
	if err != nil {
		return fmt.Errorf("make the cluster's certificates: %w", err)
	}
	spec.PKI = pki
	os.Setenv("TEMPORAL_TLS_CA", pki.CA)
	os.Setenv("TEMPORAL_TLS_CERT", pki.ClientCert)
	os.Setenv("TEMPORAL_TLS_KEY", pki.ClientKey)
	os.Setenv("TEMPORAL_TLS_SERVER_NAME", "localhost")
	if err := setupTemporalSchemas(ctx, spec, logger); err != nil {
		return err
	}
	if err := procs.start("temporal", nil, spec.TemporalServer, "--root", spec.Dir, "--config", ".", "--env", "temporal", "--allow-no-auth", "start"); err != nil {
		return err
	}
	address := fmt.Sprintf("127.0.0.1:%d", clusterTemporalPort)
	if !temporalAnswers(ctx, address, 90*time.Second) {
		return fmt.Errorf("the Temporal server did not answer at %s within 90 s (its log: %s)", address, procs.logPath("temporal"))
	}
	if err := ensureNamespace(ctx, address, cfg.TemporalNamespace, logger); err != nil {
		return err
	}

	// partnerops's schema, the first admin key and portal user, before any replica.
	store, err := openStore(ctx, dbURL, 4)
	if err != nil {
		return err
	}
	if err := db.Migrate(ctx, store.Pool); err != nil {
		store.Pool.Close()
		return err
	}
	adminKey, err := bootstrapAdminKey(ctx, store, filepath.Join(cfg.DataDir, "admin-key"))
	if err == nil {
		if _, uerr := api.CreateUser(ctx, store.Queries, devAdminEmail, "Admin", domain.RoleAdmin, noPartner, noPartner); uerr != nil && !strings.Contains(uerr.Error(), "already has an account") {
			err = uerr
		}
	}
	store.Pool.Close()
	if err != nil {
		return err
	}
	// One pair of click keys for every replica: a cookie set by one is read by all.
	if _, _, err := clickKeys(cfg); err != nil {
		return err
	}
	spec.ClickKey, spec.IPKey = filepath.Join(cfg.DataDir, "click-token-key"), filepath.Join(cfg.DataDir, "ip-hash-key")

	// The mail catcher and the fake payments API, in this process; the payments
	// API confirms transfers to the balancer, as a provider would.
	catcher, err := startMailCatcher("127.0.0.1:1025")
	if err != nil {
		return fmt.Errorf("start the mail catcher on 127.0.0.1:1025: %w", err)
	}
	defer catcher.Close()
	spec.SMTPURL = "smtp://" + catcher.Addr()
	payCfg := cfg
	payCfg.HTTPAddr = fmt.Sprintf(":%d", clusterHTTPPort)
	stopPay, err := startFakePayments(&payCfg, logger, catcher.Handler())
	if err != nil {
		return err
	}
	defer stopPay()
	spec.PaymentsURL, spec.Secret = payCfg.Payments.URL, string(payCfg.API.PaymentsWebhookSecret)

	spec.TemporalUI = fmt.Sprintf("http://localhost:%d", cfg.TemporalUIPort)
	uiDir := filepath.Join(spec.Dir, "ui")
	if err := writeUIConfig(uiDir, address, cfg.TemporalUIPort, cfg.TemporalNamespace, pki); err != nil {
		return err
	}
	if err := procs.start("temporal-ui", nil, spec.UIServer, "--root", uiDir, "--config", ".", "--env", "ui", "start"); err != nil {
		return err
	}

	self, err := os.Executable()
	if err != nil {
		return err
	}
	for i := 1; i <= spec.Workers; i++ {
		if err := procs.start(fmt.Sprintf("worker-%d", i), spec.processEnv(cfg, address, 0, clusterWorkerMetric+i), self, "worker"); err != nil {
			return err
		}
	}
	for i := 1; i <= spec.APIs; i++ {
		if err := procs.start(fmt.Sprintf("api-%d", i), spec.processEnv(cfg, address, clusterAPIBasePort+i, clusterAPIBasePort+1000+i), self, "serve"); err != nil {
			return err
		}
	}
	for i := 1; i <= spec.APIs; i++ {
		if err := waitHTTP(ctx, fmt.Sprintf("http://127.0.0.1:%d/readyz", clusterAPIBasePort+i), 60*time.Second); err != nil {
			return fmt.Errorf("API replica %d is not ready (its log: %s): %w", i, procs.logPath(fmt.Sprintf("api-%d", i)), err)
		}
	}
	for i := 1; i <= spec.Workers; i++ {
		if err := waitHTTP(ctx, fmt.Sprintf("http://127.0.0.1:%d/readyz", clusterWorkerMetric+i), 60*time.Second); err != nil {
			return fmt.Errorf("worker %d is not ready (its log: %s): %w", i, procs.logPath(fmt.Sprintf("worker-%d", i)), err)
		}
	}

	cert := pki.Balancer
	cfgPath := filepath.Join(spec.Dir, "haproxy.cfg")
	if err := writeHAProxyConfig(cfgPath, spec, cert); err != nil {
		return err
	}
	if out, err := exec.Command(spec.HAProxy, "-c", "-q", "-f", cfgPath).CombinedOutput(); err != nil {
		return fmt.Errorf("haproxy refuses %s: %v: %s", cfgPath, err, out)
	}
	if err := procs.start("haproxy", nil, spec.HAProxy, "-db", "-W", "-f", cfgPath); err != nil {
		return err
	}
	// Started last, stopped first: nothing new arrives while the replicas drain.
	if err := waitHTTP(ctx, fmt.Sprintf("http://127.0.0.1:%d/readyz", clusterHTTPPort), 30*time.Second); err != nil {
		return fmt.Errorf("the balancer does not answer (its log: %s): %w", procs.logPath("haproxy"), err)
	}

	fmt.Printf(`
partnerops cluster is running (%d API replicas, %d workers, a Temporal server on PostgreSQL)
  Portal / API  http://localhost:%d  and  https://localhost:%d   (HAProxy; certificate %s)
  Replicas      %s
  Workers       %s   (/metrics, /healthz, /readyz)
  Balancer      http://127.0.0.1:%d   (HAProxy statistics)
  Temporal UI   %s
  Temporal      %s, namespace %s (PostgreSQL databases %s and %s; mTLS, certificates in %s)
  Temporal CLI  %s   (then .bin/temporal workflow list)
  PostgreSQL    %s
  Payments      %s
  Mail inbox    %s/mail   (SMTP 127.0.0.1:1025)
  Logs          %s
  Admin key     %s   (saved in %s)

  export PO=http://localhost:%d ADMIN=$(cat %s)
Press Ctrl-C to stop everything.
`, spec.APIs, spec.Workers, clusterHTTPPort, clusterHTTPSPort, cert, spec.replicaURLs(clusterAPIBasePort), spec.workerURLs(),
		clusterStatsPort, spec.TemporalUI, address, cfg.TemporalNamespace, spec.TemporalDB, spec.VisDB, filepath.Dir(pki.CA), temporalCLIFlags(pki), redactURL(dbURL),
		spec.PaymentsURL, spec.PaymentsURL, procs.dir(), adminKey, filepath.Join(cfg.DataDir, "admin-key"), clusterHTTPPort, filepath.Join(cfg.DataDir, "admin-key"))

	// SIGHUP: a rolling restart of every API replica, then every worker, from
	// the binary now at this one's path (make build first: a rolling deploy).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			logger.Info("stopping the cluster: balancer, API replicas, workers, Temporal")
			return nil
		case name := <-procs.exited:
			return fmt.Errorf("%s stopped on its own (its log: %s); stopping the cluster", name, procs.logPath(name))
		case <-hup:
			if err := rollingRestart(ctx, spec, procs, logger); err != nil {
				return fmt.Errorf("rolling restart: %w", err)
			}
			fmt.Println("rolling restart finished")
		}
	}
}

// rollingRestart restarts each API replica and then each worker, one at a
// time: a replica is sent SIGTERM (its /readyz answers 503, the balancer stops
// sending it requests, those in flight finish, its queued clicks and
// conversions are written), started again, and the next waits until the
// balancer sees it up again.
func rollingRestart(ctx context.Context, spec clusterSpec, procs *processGroup, logger *slog.Logger) error {
	for i := 1; i <= spec.APIs; i++ {
		name := fmt.Sprintf("api-%d", i)
		logger.Info("rolling restart", "process", name)
		if err := procs.restart(name); err != nil {
			return err
		}
		if err := waitHTTP(ctx, fmt.Sprintf("http://127.0.0.1:%d/readyz", clusterAPIBasePort+i), 60*time.Second); err != nil {
			return fmt.Errorf("%s is not ready again: %w", name, err)
		}
		if err := waitBalancerUp(ctx, fmt.Sprintf("api%d", i), 30*time.Second); err != nil {
			return err
		}
	}
	for i := 1; i <= spec.Workers; i++ {
		name := fmt.Sprintf("worker-%d", i)
		logger.Info("rolling restart", "process", name)
		if err := procs.restart(name); err != nil {
			return err
		}
		if err := waitHTTP(ctx, fmt.Sprintf("http://127.0.0.1:%d/readyz", clusterWorkerMetric+i), 60*time.Second); err != nil {
			return fmt.Errorf("%s is not ready again: %w", name, err)
		}
	}
	return nil
}

// waitBalancerUp waits until HAProxy's statistics say the API backend's server
// is UP (it needs two passing checks after a restart).
func waitBalancerUp(ctx context.Context, server string, within time.Duration) error {
	deadline := time.Now().Add(within)
	c := &http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) && ctx.Err() == nil {
		resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/;csv", clusterStatsPort))
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, line := range strings.Split(string(b), "\n") {
				f := strings.Split(line, ",")
				if len(f) > 17 && f[0] == "api" && f[1] == server && strings.HasPrefix(f[17], "UP") {
					return nil
				}
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("the balancer does not see %s up", server)
}

// processEnv is one API replica's or worker's environment: the same database,
// Temporal and secrets for all, its own ports.
func (s clusterSpec) processEnv(cfg Config, temporal string, httpPort, metricsPort int) []string {
	e := []string{
		"DATABASE_URL=" + s.DatabaseURL,
		"DATABASE_MAX_CONNS=" + strconv.Itoa(cfg.DatabaseMaxConns),
		"TEMPORAL_ADDRESS=" + temporal,
		"TEMPORAL_NAMESPACE=" + cfg.TemporalNamespace,
		fmt.Sprintf("METRICS_ADDR=127.0.0.1:%d", metricsPort),
		"PAYMENTS_URL=" + s.PaymentsURL, "PAYMENTS_API_KEY=fake", "PAYMENTS_WEBHOOK_SECRET=" + s.Secret,
		"SMTP_URL=" + s.SMTPURL,
		"CLICK_TOKEN_KEY_FILE=" + s.ClickKey, "IP_HASH_KEY_FILE=" + s.IPKey,
		"DATA_DIR=" + cfg.DataDir, // files and payout files: one directory on one machine (docs/production.md)
		"TEMPORAL_UI_URL=" + s.TemporalUI,
		fmt.Sprintf("PUBLIC_URL=http://localhost:%d", clusterHTTPPort),
		"TRUSTED_PROXIES=127.0.0.1", // the balancer, and nothing else
		"DRAIN_DELAY=" + s.DrainDelay.String(),
		"WEBHOOKS_ALLOW_PRIVATE=1", // demo: webhook endpoints on this machine
	}
	if httpPort > 0 {
		e = append(e, fmt.Sprintf("HTTP_ADDR=127.0.0.1:%d", httpPort))
	}
	return e
}

func (s clusterSpec) replicaURLs(base int) string {
	var urls []string
	for i := 1; i <= s.APIs; i++ {
		urls = append(urls, fmt.Sprintf("http://127.0.0.1:%d", base+i))
	}
	return strings.Join(urls, "  ")
}

func (s clusterSpec) workerURLs() string {
	var urls []string
	for i := 1; i <= s.Workers; i++ {
		urls = append(urls, fmt.Sprintf("http://127.0.0.1:%d", clusterWorkerMetric+i))
	}
	return strings.Join(urls, "  ")
}

// setupTemporalSchemas creates the Temporal server's two databases on
// DATABASE_URL's server and brings their schemas up to the version its schema
// tool embeds (idempotent: a second run changes nothing).
func setupTemporalSchemas(ctx context.Context, s clusterSpec, logger *slog.Logger) error {
	if err := writeTemporalConfig(s); err != nil {
		return err
	}
	u, err := url.Parse(s.DatabaseURL)
	if err != nil {
		return err
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "5432"
	}
	password, _ := u.User.Password()
	for _, d := range []struct{ name, schema string }{{s.TemporalDB, "postgresql/v12/temporal"}, {s.VisDB, "postgresql/v12/visibility"}} {
		base := []string{"--plugin", "postgres12", "--ep", host, "-p", port, "-u", u.User.Username(), "--db", d.name}
		if password != "" {
			base = append(base, "--pw", password)
		}
		exists, err := databaseExists(ctx, s.DatabaseURL, d.name)
		if err != nil {
			return err
		}
		steps := [][]string{{"update-schema", "--schema-name", d.schema}}
		if !exists {
			steps = [][]string{{"create-database"}, {"setup-schema", "-v", "0.0"}, {"update-schema", "--schema-name", d.schema}}
		}
		for _, step := range steps {
			cmd := exec.CommandContext(ctx, s.SQLTool, append(append([]string{}, base...), step...)...)
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("temporal-sql-tool %s on %s: %v: %s", step[0], d.name, err, out)
			}
		}
		logger.Info("Temporal schema ready", "database", d.name, "schema", d.schema)
	}
	return nil
}

func databaseExists(ctx context.Context, dbURL, name string) (bool, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return false, err
	}
	u.Path = "/postgres"
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		return false, err
	}
	defer conn.Close(ctx)
	var exists bool
	err = conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists)
	return exists, err
}

// writeTemporalConfig writes the server's configuration (temporal.yaml under
// the cluster's directory): 4 history shards, PostgreSQL persistence and SQL
// visibility on DATABASE_URL's server, every service in one process.
func writeTemporalConfig(s clusterSpec) error {
	u, err := url.Parse(s.DatabaseURL)
	if err != nil {
		return err
	}
	host := u.Host
	if u.Port() == "" {
		host += ":5432"
	}
	password, _ := u.User.Password()
	var b strings.Builder
	err = temporalConfig.Execute(&b, map[string]any{
		"Addr": host, "User": u.User.Username(), "Password": password, "DB": s.TemporalDB, "VisDB": s.VisDB,
		"Port": clusterTemporalPort, "Metrics": clusterTemporalMet, "Dynamic": filepath.Join(s.Dir, "dynamicconfig.yaml"), "PKI": s.PKI,
	})
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "temporal.yaml"), []byte(b.String()), 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(s.Dir, "dynamicconfig.yaml"), []byte(temporalDynamicConfig), 0o644)
}

var temporalConfig = template.Must(template.New("temporal").Parse(`# Written by partnerops cluster; edit the template in cmd/partnerops/cluster.go.
log:
  stdout: true
  level: warn
persistence:
  defaultStore: default
  visibilityStore: visibility
  numHistoryShards: 4
  datastores:
    default:
      sql:
        pluginName: postgres12
        databaseName: {{.DB}}
        connectAddr: "{{.Addr}}"
        connectProtocol: tcp
        user: "{{.User}}"
        password: "{{.Password}}"
        maxConns: 20
        maxIdleConns: 20
        maxConnLifetime: 1h
    visibility:
      sql:
        pluginName: postgres12
        databaseName: {{.VisDB}}
        connectAddr: "{{.Addr}}"
        connectProtocol: tcp
        user: "{{.User}}"
        password: "{{.Password}}"
        maxConns: 4
        maxIdleConns: 4
        maxConnLifetime: 1h
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
  tls:
    # The frontend serves TLS and asks every client for a certificate of the
    # cluster's CA (mTLS); the system worker presents one too.
    frontend:
      server:
        certFile: "{{.PKI.ServerCert}}"
        keyFile: "{{.PKI.ServerKey}}"
        clientCaFiles: ["{{.PKI.CA}}"]
        requireClientAuth: true
      client:
        serverName: localhost
        rootCaFiles: ["{{.PKI.CA}}"]
    systemWorker:
      certFile: "{{.PKI.ClientCert}}"
      keyFile: "{{.PKI.ClientKey}}"
      client:
        serverName: localhost
        rootCaFiles: ["{{.PKI.CA}}"]
  metrics:
    prometheus:
      framework: tally
      timerType: histogram
      listenAddress: "127.0.0.1:{{.Metrics}}"
services:
  frontend:
    rpc: {grpcPort: {{.Port}}, membershipPort: 6933, bindOnLocalHost: true, httpPort: 7243}
  matching:
    rpc: {grpcPort: 7235, membershipPort: 6935, bindOnLocalHost: true}
  history:
    rpc: {grpcPort: 7234, membershipPort: 6934, bindOnLocalHost: true}
  worker:
    rpc: {grpcPort: 7239, membershipPort: 6939, bindOnLocalHost: true}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: "127.0.0.1:{{.Port}}"
dcRedirectionPolicy:
  policy: noop
dynamicConfigClient:
  filepath: "{{.Dynamic}}"
  pollInterval: 10s
`))

// temporalDynamicConfig: what partnerops uses beyond the defaults (Updates,
// eager activities), and one task-queue partition as the dev server has.
const temporalDynamicConfig = `frontend.enableUpdateWorkflowExecution:
  - value: true
frontend.enableUpdateWorkflowExecutionAsyncAccepted:
  - value: true
frontend.enableExecuteMultiOperation:
  - value: true
system.enableActivityEagerExecution:
  - value: true
system.forceSearchAttributesCacheRefreshOnRead:
  - value: true
limit.maxIDLength:
  - value: 255
`

// ensureNamespace registers the namespace (a real server has none) with
// 30 days' retention, and its search attributes.
func ensureNamespace(ctx context.Context, address, namespace string, logger *slog.Logger) error {
	conn, err := temporalConnection()
	if err != nil {
		return err
	}
	c, err := client.DialContext(ctx, client.Options{HostPort: address, Namespace: namespace, Logger: quietLogger{}, ConnectionOptions: conn})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace: namespace, WorkflowExecutionRetentionPeriod: durationpb.New(clusterRetention),
		Description: "partnerops",
	})
	if err != nil && !strings.Contains(err.Error(), "already") {
		return fmt.Errorf("register namespace %s: %w", namespace, err)
	}
	if err := ensureRetention(ctx, c, namespace, clusterRetention); err != nil {
		return err
	}
	// A new namespace takes a moment to reach every service.
	deadline := time.Now().Add(30 * time.Second)
	for {
		err = ensureSearchAttributes(ctx, c, namespace)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	logger.Info("namespace ready", "namespace", namespace, "retention", clusterRetention)
	return nil
}

// localPKI is the cluster's own certificate authority and what it signed:
// the server certificate (localhost, 127.0.0.1) the balancer and the Temporal
// frontend present, and the client certificate partnerops's processes, the
// Temporal system worker and the Web UI present to the frontend (mTLS).
type localPKI struct {
	CA, ServerCert, ServerKey, ClientCert, ClientKey, Balancer string
}

// ensureLocalPKI makes the cluster's certificates under dir, once.
func ensureLocalPKI(dir string) (localPKI, error) {
	p := localPKI{CA: filepath.Join(dir, "ca.pem"), ServerCert: filepath.Join(dir, "server.pem"), ServerKey: filepath.Join(dir, "server-key.pem"),
		ClientCert: filepath.Join(dir, "client.pem"), ClientKey: filepath.Join(dir, "client-key.pem"), Balancer: filepath.Join(dir, "balancer.pem")}
	if _, err := os.Stat(p.Balancer); err == nil {
		return p, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return p, err
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return p, err
	}
	serial := func() *big.Int { n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64)); return n }
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: "partnerops cluster local CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(2, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return p, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return p, err
	}
	issue := func(cn string, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte, err error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		tmpl := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: cn}, NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return nil, nil, err
		}
		kb, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return nil, nil, err
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), nil
	}
	serverCert, serverKey, err := issue("localhost", x509.ExtKeyUsageServerAuth)
	if err != nil {
		return p, err
	}
	clientCert, clientKey, err := issue("partnerops", x509.ExtKeyUsageClientAuth)
	if err != nil {
		return p, err
	}
	files := map[string][]byte{
		p.CA: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), p.ServerCert: serverCert, p.ServerKey: serverKey,
		p.ClientCert: clientCert, p.ClientKey: clientKey, p.Balancer: append(append([]byte{}, serverCert...), serverKey...),
	}
	for _, name := range []string{p.CA, p.ServerCert, p.ServerKey, p.ClientCert, p.ClientKey, p.Balancer} { // the balancer's last: it marks a complete set
		if err := os.WriteFile(name, files[name], 0o600); err != nil {
			return p, err
		}
	}
	return p, nil
}

// writeHAProxyConfig: the balancer in front of the API replicas.
//   - Health: GET /readyz every second; a replica that fails it twice (it
//     answers 503 while draining) gets no new requests.
//   - /c/ (clicks) by source address and user agent, consistently hashed:
//     one visitor's clicks reach one replica, whose duplicate detection (keyed
//     on the same pair and the link) sees them all.
//   - Requests carrying an API key by the key's id (its third part), so one
//     key's rate limit is counted by one replica; the others (the portal,
//     applications, webhooks) by source address, as the per-address limit
//     of the public routes is counted.
//   - Retries only what never reached a replica (a refused connection).
func writeHAProxyConfig(path string, s clusterSpec, cert string) error {
	var servers, tracked strings.Builder
	for i := 1; i <= s.APIs; i++ {
		fmt.Fprintf(&servers, "    server api%d 127.0.0.1:%d check\n", i, clusterAPIBasePort+i)
		fmt.Fprintf(&tracked, "    server api%d 127.0.0.1:%d track api/api%d\n", i, clusterAPIBasePort+i, i)
	}
	conf := fmt.Sprintf(`# Written by partnerops cluster (cmd/partnerops/cluster.go).
global
    log stdout format raw local0 notice
    # Each process may hold 20,000 files here: two per proxied connection.
    maxconn 9500

defaults
    mode http
    log global
    option httplog
    option dontlog-normal
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout http-request 10s
    # A visitor's click rarely needs its connection again: idle ones are
    # closed after 2 s, or 1,500 new visitors a second would hold 15,000.
    timeout http-keep-alive 2s
    retries 2
    retry-on conn-failure
    option redispatch

frontend partnerops
    bind 127.0.0.1:%d
    bind 127.0.0.1:%d ssl crt %s alpn h2,http/1.1
    http-request set-header X-Forwarded-Proto https if { ssl_fc }
    http-request set-header X-Forwarded-Proto http if !{ ssl_fc }
    option forwardfor
    use_backend clicks if { path_beg /c/ }
    use_backend by_key if { req.hdr(Authorization) -m beg "Bearer po_" }
    default_backend api

backend api
    balance source
    hash-type consistent
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 1s fall 2 rise 2
%s
backend by_key
    balance hash req.hdr(Authorization),field(3,_)
    hash-type consistent
%s
backend clicks
    # One visitor (address and browser) to one replica: its duplicate key is
    # the same pair, while the visitors of one office's address spread.
    http-request set-var(txn.ua) req.fhdr(User-Agent)
    balance hash src,concat(/,txn.ua)
    hash-type consistent
%s
listen stats
    bind 127.0.0.1:%d
    stats enable
    stats uri /
    stats refresh 5s
`, clusterHTTPPort, clusterHTTPSPort, cert, servers.String(), tracked.String(), tracked.String(), clusterStatsPort)
	return os.WriteFile(path, []byte(conf), 0o644)
}

func waitHTTP(ctx context.Context, u string, within time.Duration) error {
	deadline := time.Now().Add(within)
	c := &http.Client{Timeout: 2 * time.Second}
	var last error
	for time.Now().Before(deadline) && ctx.Err() == nil {
		resp, err := c.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s answered %d", u, resp.StatusCode)
		}
		last = err
		time.Sleep(300 * time.Millisecond)
	}
	if last == nil {
		last = ctx.Err()
	}
	return last
}

// processGroup runs the cluster's processes, each in its own process group
// with its output in a log file, and stops them in the reverse order of their
// start (the balancer first when asked), each with SIGTERM and time to drain.
type processGroup struct {
	logger  *slog.Logger
	mu      sync.Mutex
	procs   []*clusterProcess
	exited  chan string
	logsDir string
}

type clusterProcess struct {
	name     string
	cmd      *exec.Cmd
	done     chan struct{}
	stopping atomic.Bool // stopped on purpose: its exit is no failure
	env      []string
	bin      string
	args     []string
}

func (g *processGroup) dir() string { return g.logsDir }

func (g *processGroup) logPath(name string) string { return filepath.Join(g.logsDir, name+".log") }

func (g *processGroup) start(name string, env []string, bin string, args ...string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.exited == nil {
		g.exited = make(chan string, 16)
	}
	if err := os.MkdirAll(g.logsDir, 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(g.logPath(name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", name, err)
	}
	p := &clusterProcess{name: name, cmd: cmd, done: make(chan struct{}), env: env, bin: bin, args: args}
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(p.done)
		if !p.stopping.Load() {
			select {
			case g.exited <- name:
			default:
			}
		}
	}()
	for i, q := range g.procs {
		if q.name == name { // a restart keeps its place in the stopping order
			g.procs[i] = p
			g.logger.Info("started", "process", name, "pid", cmd.Process.Pid, "log", g.logPath(name))
			return nil
		}
	}
	g.procs = append(g.procs, p)
	g.logger.Info("started", "process", name, "pid", cmd.Process.Pid, "log", g.logPath(name))
	return nil
}

// restart stops the named process (SIGTERM, up to 30 s to drain) and starts
// it again with the same command line, from the binary now at its path.
func (g *processGroup) restart(name string) error {
	g.mu.Lock()
	var p *clusterProcess
	for _, q := range g.procs {
		if q.name == name {
			p = q
		}
	}
	g.mu.Unlock()
	if p == nil {
		return fmt.Errorf("no process %s", name)
	}
	stop(p)
	return g.start(name, p.env, p.bin, p.args...)
}

func stop(p *clusterProcess) {
	p.stopping.Store(true)
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (g *processGroup) stopAll() {
	g.mu.Lock()
	procs := append([]*clusterProcess(nil), g.procs...)
	g.procs = nil
	g.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		stop(procs[i])
	}
}

// writeUIConfig: the Temporal Web UI's configuration (base.yaml is read
// first, then ui.yaml).
func writeUIConfig(dir, temporal string, port int, namespace string, pki localPKI) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	base := fmt.Sprintf("temporalGrpcAddress: %s\nport: %d\n", temporal, port)
	ui := fmt.Sprintf("enableUi: true\ndefaultNamespace: %s\nrefreshInterval: 1m\nnotifyOnNewVersion: false\ncors:\n  cookieInsecure: true\n"+
		"tls:\n  caFile: %s\n  certFile: %s\n  keyFile: %s\n  serverName: localhost\n  enableHostVerification: true\n", namespace, pki.CA, pki.ClientCert, pki.ClientKey)
	if err := os.WriteFile(filepath.Join(dir, "base.yaml"), []byte(base), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "ui.yaml"), []byte(ui), 0o644)
}

// temporalCLIFlags: how an operator's Temporal CLI (and partnerops) reaches
// the cluster's frontend: both read the same variables.
func temporalCLIFlags(p localPKI) string {
	return fmt.Sprintf("export TEMPORAL_TLS_CA=%s TEMPORAL_TLS_CERT=%s TEMPORAL_TLS_KEY=%s", p.CA, p.ClientCert, p.ClientKey)
}
