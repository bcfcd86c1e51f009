package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/partnerops/partnerops/api"
)

// Config is read from the environment; README.md lists every variable with its default.
type Config struct {
	DatabaseURL       string
	DatabaseURLSet    bool // false when the default is used (dev may then start a private PostgreSQL)
	TemporalAddress   string
	TemporalNamespace string
	HTTPAddr          string
	LogLevel          string
	ShutdownTimeout   time.Duration
	DataDir           string // dev: Temporal's and the private PostgreSQL's state, the bootstrap key
	TemporalCLI       string // dev: the Temporal CLI binary
	TemporalUIPort    int
	API               api.Config
}

const defaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/partnerops"

func loadConfig() (Config, error) {
	c := Config{
		DatabaseURL:       env("DATABASE_URL", defaultDatabaseURL),
		TemporalAddress:   env("TEMPORAL_ADDRESS", "127.0.0.1:7233"),
		TemporalNamespace: env("TEMPORAL_NAMESPACE", "default"),
		HTTPAddr:          env("HTTP_ADDR", ":8080"),
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
	c.ShutdownTimeout = dur("SHUTDOWN_TIMEOUT", 20*time.Second)
	c.API.MaxBodyBytes = int64(num("API_MAX_BODY_BYTES", int(c.API.MaxBodyBytes)))
	c.API.MaxPageSize = num("API_MAX_PAGE_SIZE", c.API.MaxPageSize)
	c.API.RequestTimeout = dur("API_REQUEST_TIMEOUT", c.API.RequestTimeout)
	c.API.RateLimit = float64(num("API_RATE_LIMIT", int(c.API.RateLimit)))
	c.API.RateBurst = num("API_RATE_BURST", c.API.RateBurst)
	c.API.MaxFileBytes = int64(num("MDF_MAX_FILE_BYTES", int(c.API.MaxFileBytes)))
	c.API.FilesDir = env("FILES_DIR", c.DataDir+"/files")
	if v := os.Getenv("TRUSTED_PROXIES"); v != "" {
		c.API.TrustedProxies = strings.Split(v, ",")
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("configuration: %s", strings.Join(errs, "; "))
	}
	return c, nil
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
