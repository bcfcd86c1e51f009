package main

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/partnerops/partnerops/activities"
	"github.com/partnerops/partnerops/api"
)

// Config is read from the environment; docs/configuration.md lists every variable with its default.
type Config struct {
	DatabaseURL       string
	DatabaseURLSet    bool // false when the default is used (dev may then start a private PostgreSQL)
	DatabaseMaxConns  int  // per pool: the API's and the worker's each have one
	TemporalAddress   string
	TemporalNamespace string
	HTTPAddr          string
	MetricsAddr       string // where /metrics listens (serve, worker and dev), never the API's port
	LogLevel          string
	ShutdownTimeout   time.Duration
	DrainDelay        time.Duration // serve: how long /readyz answers 503 before the listener closes
	DataDir           string        // dev: Temporal's and the private PostgreSQL's state, the bootstrap key
	TemporalCLI       string        // dev: the Temporal CLI binary
	TemporalUIPort    int
	API               api.Config
	Payments          activities.Payments
}

const defaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/partnerops?sslmode=disable" // loopback: TLS would cost CPU and protect nothing

// secretsFromFiles: each of these may instead be read from the file NAME_FILE
// names (a mounted secret), the same for every replica.
var secretsFromFiles = []string{"DATABASE_URL", "PAYMENTS_API_KEY", "PAYMENTS_WEBHOOK_SECRET", "SMTP_URL", "CLICK_TOKEN_KEY", "IP_HASH_KEY"}

// readSecretFiles sets NAME from NAME_FILE's content for every secret given
// as a file; a name given both ways is an error. (CLICK_TOKEN_KEY_FILE and
// IP_HASH_KEY_FILE are read by clickKeys, with their length checks.)
func readSecretFiles() error {
	for _, name := range secretsFromFiles {
		path := os.Getenv(name + "_FILE")
		if path == "" || name == "CLICK_TOKEN_KEY" || name == "IP_HASH_KEY" { // those two read their files themselves (clickKeys)
			continue
		}
		if os.Getenv(name) != "" {
			return fmt.Errorf("%s and %s_FILE are both set: set one", name, name)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("%s_FILE: %w", name, err)
		}
		// Read once: the variable now holds it (children inherit it as such).
		os.Setenv(name, strings.TrimSpace(string(b)))
		os.Unsetenv(name + "_FILE")
	}
	return nil
}

func loadConfig() (Config, error) {
	if err := readSecretFiles(); err != nil {
		return Config{}, fmt.Errorf("configuration: %w", err)
	}
	c := Config{
		DatabaseURL:       env("DATABASE_URL", defaultDatabaseURL),
		TemporalAddress:   env("TEMPORAL_ADDRESS", "127.0.0.1:7233"),
		TemporalNamespace: env("TEMPORAL_NAMESPACE", "default"),
		HTTPAddr:          env("HTTP_ADDR", ":8080"),
		MetricsAddr:       env("METRICS_ADDR", ":9090"),
		LogLevel:          env("LOG_LEVEL", "info"),
		DataDir:           env("DATA_DIR", ".data"),
		TemporalCLI:       env("TEMPORAL_CLI", ".bin/temporal"),
		API:               api.DefaultConfig(),
	}
	_, c.DatabaseURLSet = os.LookupEnv("DATABASE_URL")
	var errs []string
	num := func(name string, def int) int {
		v, ok := os.LookupEnv(name)
		if !ok {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			errs = append(errs, name+" must be a non-negative whole number")
		}
		return n
	}
	dur := func(name string, def time.Duration) time.Duration {
		v, ok := os.LookupEnv(name)
		if !ok {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, name+" must be a duration such as 15s")
		}
		return d
	}
	c.TemporalUIPort = num("TEMPORAL_UI_PORT", 8233)
	c.DatabaseMaxConns = num("DATABASE_MAX_CONNS", 10)
	if c.DatabaseMaxConns < 2 {
		errs = append(errs, "DATABASE_MAX_CONNS must be at least 2")
	}
	c.ShutdownTimeout = dur("SHUTDOWN_TIMEOUT", 20*time.Second)
	if v := os.Getenv("DRAIN_DELAY"); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d >= 0 {
			c.DrainDelay = d
		} else if v != "0" {
			errs = append(errs, "DRAIN_DELAY must be a duration such as 3s (0 for none)")
		}
	}
	c.API.MaxBodyBytes = int64(num("API_MAX_BODY_BYTES", int(c.API.MaxBodyBytes)))
	c.API.MaxPageSize = num("API_MAX_PAGE_SIZE", c.API.MaxPageSize)
	c.API.RequestTimeout = dur("API_REQUEST_TIMEOUT", c.API.RequestTimeout)
	c.API.DecisionWait = dur("API_DECISION_WAIT", c.API.DecisionWait)
	c.API.AcceptWait = dur("API_ACCEPT_WAIT", c.API.AcceptWait)
	if c.API.AcceptWait+c.API.DecisionWait >= c.API.RequestTimeout {
		errs = append(errs, "API_ACCEPT_WAIT plus API_DECISION_WAIT must be shorter than API_REQUEST_TIMEOUT")
	}
	c.API.RateLimit = float64(num("API_RATE_LIMIT", int(c.API.RateLimit)))
	c.API.RateBurst = num("API_RATE_BURST", c.API.RateBurst)
	c.API.AuthFailuresPerMinute = num("API_AUTH_FAILURES_PER_MINUTE", c.API.AuthFailuresPerMinute)
	c.API.MaxFileBytes = int64(num("MDF_MAX_FILE_BYTES", int(c.API.MaxFileBytes)))
	c.API.ConversionWriters = num("CONVERSION_WRITERS", c.API.ConversionWriters)
	c.API.ConversionBatch = num("CONVERSION_BATCH_SIZE", c.API.ConversionBatch)
	if c.API.ConversionWriters < 1 || c.API.ConversionWriters >= c.DatabaseMaxConns || c.API.ConversionBatch < 1 {
		errs = append(errs, "CONVERSION_WRITERS must be at least 1 and below DATABASE_MAX_CONNS; CONVERSION_BATCH_SIZE at least 1")
	}
	c.API.Click.QueueSize = num("CLICK_QUEUE_SIZE", c.API.Click.QueueSize)
	c.API.Click.BatchSize = num("CLICK_BATCH_SIZE", c.API.Click.BatchSize)
	c.API.Click.FlushInterval = dur("CLICK_FLUSH_INTERVAL", c.API.Click.FlushInterval)
	c.API.FilesDir = env("FILES_DIR", c.DataDir+"/files")
	c.Payments = activities.Payments{FileDir: env("PAYOUT_FILES_DIR", c.DataDir), URL: os.Getenv("PAYMENTS_URL"), APIKey: os.Getenv("PAYMENTS_API_KEY")}
	c.API.PaymentsWebhookSecret = []byte(os.Getenv("PAYMENTS_WEBHOOK_SECRET")) // or PAYMENTS_WEBHOOK_SECRET_FILE (readSecretFiles)
	c.API.WebhookAllowPrivate = webhookAllowPrivate()
	_, port, _ := strings.Cut(c.HTTPAddr, ":")
	c.API.Portal.PublicURL = strings.TrimSuffix(env("PUBLIC_URL", "http://localhost:"+port), "/")
	c.API.Portal.SessionTTL = dur("SESSION_TTL", c.API.Portal.SessionTTL)
	c.API.Portal.SignInTTL = dur("SIGN_IN_LINK_TTL", c.API.Portal.SignInTTL)
	c.API.Portal.TemporalUI = os.Getenv("TEMPORAL_UI_URL")
	c.API.Portal.Namespace = c.TemporalNamespace
	if v := os.Getenv("TRUSTED_PROXIES"); v != "" {
		c.API.TrustedProxies = strings.Split(v, ",")
	}
	if v := os.Getenv("CLICK_RETENTION_MONTHS"); v != "" {
		if n, err := strconv.Atoi(v); err != nil || n < 0 {
			errs = append(errs, "CLICK_RETENTION_MONTHS must be a whole number of months (0 keeps every click)")
		}
	}
	if _, err := temporalConnection(); err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("configuration: %s", strings.Join(errs, "; "))
	}
	return c, nil
}

// clickRetentionMonths: CLICK_RETENTION_MONTHS, how many months of clicks the
// hourly housekeeping keeps (unset or 0: every click is kept).
func clickRetentionMonths() int {
	n, err := strconv.Atoi(os.Getenv("CLICK_RETENTION_MONTHS"))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// webhookAllowPrivate: WEBHOOKS_ALLOW_PRIVATE=1 lets webhook endpoints use http
// and private or loopback addresses (partnerops dev sets it: demo mode). Never
// in production: a webhook could then reach the network partnerops runs in.
func webhookAllowPrivate() bool {
	v := os.Getenv("WEBHOOKS_ALLOW_PRIVATE")
	return v == "1" || v == "true"
}

// mailerFromEnv: SMTP_URL (smtp://[user:password@]host:port or smtps://…) turns
// notification e-mail on; MAIL_FROM is its sender. Unset: no e-mail (partnerops
// dev starts a local catcher and sets it).
func mailerFromEnv() (*activities.Mailer, error) {
	raw := os.Getenv("SMTP_URL")
	if raw == "" {
		return nil, nil
	}
	return activities.ParseSMTPURL(raw, env("MAIL_FROM", "partnerops <no-reply@partnerops.localhost>"))
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// clickKeys returns the click token and address-hash keys: from CLICK_TOKEN_KEY
// and IP_HASH_KEY, or, for development, from files under DATA_DIR made once (so
// cookies survive restarts).
func clickKeys(cfg Config) ([]byte, []byte, error) {
	get := func(envName, file string) ([]byte, error) {
		if path := os.Getenv(envName + "_FILE"); path != "" { // a mounted secret, shared by every replica
			b, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("%s_FILE: %w", envName, err)
			}
			if v := strings.TrimSpace(string(b)); len(v) >= 32 {
				return []byte(v), nil
			}
			return nil, fmt.Errorf("%s_FILE: the key must be at least 32 characters", envName)
		}
		if v := os.Getenv(envName); v != "" {
			if len(v) < 32 {
				return nil, fmt.Errorf("%s must be at least 32 characters", envName)
			}
			return []byte(v), nil
		}
		path := filepath.Join(cfg.DataDir, file)
		if b, err := os.ReadFile(path); err == nil && len(b) >= 32 {
			return b, nil
		}
		if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
			return nil, err
		}
		key := []byte(rand.Text() + rand.Text())
		return key, os.WriteFile(path, key, 0o600)
	}
	tok, err := get("CLICK_TOKEN_KEY", "click-token-key")
	if err != nil {
		return nil, nil, err
	}
	ip, err := get("IP_HASH_KEY", "ip-hash-key")
	return tok, ip, err
}
