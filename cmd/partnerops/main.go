// Command partnerops runs the partner operations platform:
//
//	partnerops serve                      the HTTP API
//	partnerops worker                     the Temporal worker (every workflow and activity)
//	partnerops migrate                    apply database migrations
//	partnerops dev                        everything at once for development (make run)
//	partnerops keys create --role R [--partner ID] [--label L]
//	partnerops version                    the version; every command takes -h
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/partnerops/partnerops/starts"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/partnerops/partnerops/api"
	"github.com/partnerops/partnerops/db"
)

const usage = `usage: partnerops <command> [flags]

commands:
  serve                                      run the HTTP API
  worker                                     run the Temporal worker
  migrate                                    apply database migrations
  dev                                        run everything for development (Temporal dev server, API, worker)
  cluster                                    run the production topology on this machine (Temporal server on
                                             PostgreSQL, API replicas and workers behind HAProxy)
  health URL                                 exit 0 when URL answers 2xx within 3 s (container health checks)
  keys create --role ROLE [--partner ID] [--label TEXT]
                                             create an API key (roles: admin, manager, finance, partner, integration)
  version                                    print the version

Every command takes -h for its own help. Configuration comes from environment
variables (DATABASE_URL, TEMPORAL_ADDRESS, HTTP_ADDR, ...); see docs/configuration.md.
`

// version is set at build time (-ldflags "-X main.version=..."); otherwise the
// module version or the VCS revision the binary was built from.
var version = ""

func versionString() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v = s.Value[:12]
		}
	}
	return v + " (" + info.GoVersion + ")"
}

// command is one of the binary's commands: what it says about itself, and what it
// does once its flags parsed and its configuration loaded.
type command struct {
	summary string
	details string
	run     func(ctx context.Context, cfg Config, logger *slog.Logger, args []string) error
}

var commands = map[string]command{
	"serve": {summary: "run the HTTP API", details: "Serves /v1, /c/{code} and the health endpoints on HTTP_ADDR and /metrics on METRICS_ADDR until SIGINT/SIGTERM, then drains (SHUTDOWN_TIMEOUT) and writes every accepted click.",
		run: func(ctx context.Context, cfg Config, logger *slog.Logger, _ []string) error {
			p, err := connect(ctx, cfg, logger, "api")
			if err != nil {
				return err
			}
			defer p.close()
			cfg.API.Registry, cfg.API.Tracer = p.registry, p.tracer
			return serveAPI(ctx, cfg, p.store, p.temporal, logger, nil)
		}},
	"worker": {summary: "run the Temporal worker", details: "Runs every workflow and activity on the partnerops task queue; registers the search attributes and the Schedules if missing.",
		run: func(ctx context.Context, cfg Config, logger *slog.Logger, _ []string) error {
			p, err := connect(ctx, cfg, logger, "worker")
			if err != nil {
				return err
			}
			defer p.close()
			store, c, reg := p.store, p.temporal, p.registry
			if err := ensureSearchAttributes(ctx, c, cfg.TemporalNamespace); err != nil {
				return err
			}
			w, err := startWorker(c, store, logger, cfg.Payments)
			if err != nil {
				return err
			}
			logger.Info("worker running")
			// Starts a crash or an unreachable Temporal left unmade (package starts).
			go starts.Sweeper(ctx, store, c, logger, startSweepInterval)
			merr := make(chan error, 1)
			// /healthz and /readyz beside /metrics: ready while its Temporal
			// server answers and its pollers have polls in flight.
			go func() { merr <- serveMetrics(ctx, cfg.MetricsAddr, reg, logger, workerReady(c, reg)) }()
			select {
			case <-ctx.Done():
			case err := <-merr:
				w.Stop()
				return err
			}
			w.Stop()
			return nil
		}},
	"migrate": {summary: "apply database migrations", details: "Applies the embedded migrations to DATABASE_URL (creating the database if missing) and exits.",
		run: func(ctx context.Context, cfg Config, logger *slog.Logger, _ []string) error {
			store, err := openStore(ctx, cfg.DatabaseURL, cfg.DatabaseMaxConns)
			if err != nil {
				return err
			}
			defer store.Pool.Close()
			if err := db.Migrate(ctx, store.Pool); err != nil {
				return err
			}
			logger.Info("migrations applied")
			return nil
		}},
	"dev": {summary: "run everything for development", details: "Starts the Temporal dev server with its Web UI (unless one answers at TEMPORAL_ADDRESS), PostgreSQL if none answers, migrations, the fake payments API, the worker and the API: what make run runs.",
		run: func(ctx context.Context, cfg Config, logger *slog.Logger, _ []string) error {
			return runDev(ctx, cfg, logger)
		}},
	"cluster": {summary: "run the production topology on this machine", details: "Starts a Temporal server on PostgreSQL (schemas, namespace, search attributes) with its Web UI, CLUSTER_APIS API replicas (2) and CLUSTER_WORKERS workers (2) as separate processes, HAProxy in front (HTTP :8080, TLS :8443), the fake payments API and the mail catcher: what make cluster runs (docs/production.md).",
		run: func(ctx context.Context, cfg Config, logger *slog.Logger, _ []string) error {
			return runCluster(ctx, cfg, logger)
		}},
	"keys": {summary: "create an API key", details: "keys create --role ROLE [--partner ID] [--label TEXT] prints a new key once (only its hash is stored).",
		run: func(ctx context.Context, cfg Config, _ *slog.Logger, args []string) error {
			return runKeys(ctx, cfg, args)
		}},
}

func main() {
	api.TuneRuntime() // before anything else runs, as it must be
	err := run(os.Args[1:])
	var usageErr usageError
	switch {
	case errors.As(err, &usageErr):
		fmt.Fprintln(os.Stderr, "partnerops:", err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "partnerops:", err)
		os.Exit(1)
	}
}

// usageError is a command line the binary does not understand (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func run(args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return usageError{"no command given"}
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Print(usage)
		return nil
	case "version", "-version", "--version":
		fmt.Println("partnerops", versionString())
		return nil
	case "health": // the container's health check (the image has no curl); needs no configuration
		return checkHealth(args[1:])
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprint(os.Stderr, usage)
		return usageError{fmt.Sprintf("unknown command %q", args[0])}
	}
	rest := args[1:]
	if args[0] != "keys" { // keys parses its own subcommand's flags
		fs := flag.NewFlagSet("partnerops "+args[0], flag.ContinueOnError)
		fs.SetOutput(os.Stdout)
		fs.Usage = func() { fmt.Printf("usage: partnerops %s\n\n%s\n%s\n", args[0], cmd.summary, cmd.details) }
		if err := fs.Parse(rest); errors.Is(err, flag.ErrHelp) {
			return nil
		} else if err != nil {
			return usageError{err.Error()}
		}
		if fs.NArg() > 0 {
			return usageError{fmt.Sprintf("%s takes no arguments (got %q)", args[0], fs.Args())}
		}
	} else if wantsHelp(rest) {
		fmt.Printf("usage: partnerops keys create --role ROLE [--partner ID] [--label TEXT]\n\n%s\n", cmd.details)
		return nil
	}
	if (args[0] == "dev" || args[0] == "cluster") && os.Getenv("WEBHOOKS_ALLOW_PRIVATE") == "" {
		os.Setenv("WEBHOOKS_ALLOW_PRIVATE", "1") // demo mode: webhooks may reach this machine over http
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return cmd.run(ctx, cfg, newLogger(cfg.LogLevel), rest)
}

func wantsHelp(args []string) bool {
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" || a == "help" {
			return true
		}
	}
	return false
}

func runKeys(ctx context.Context, cfg Config, args []string) error {
	if len(args) == 0 || args[0] != "create" {
		return usageError{"usage: partnerops keys create --role ROLE [--partner ID] [--label TEXT]"}
	}
	fs := flag.NewFlagSet("keys create", flag.ContinueOnError)
	role := fs.String("role", "", "admin, manager, finance, partner or integration")
	partner := fs.String("partner", "", "the partner ID (partner keys only)")
	label := fs.String("label", "", "a note to recognise the key by")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError{err.Error()}
	}
	var pid uuid.NullUUID
	if *partner != "" {
		id, err := uuid.Parse(*partner)
		if err != nil {
			return fmt.Errorf("--partner must be a partner ID (a UUID)")
		}
		pid = uuid.NullUUID{UUID: id, Valid: true}
	}
	store, err := openStore(ctx, cfg.DatabaseURL, cfg.DatabaseMaxConns)
	if err != nil {
		return err
	}
	defer store.Pool.Close()
	k, err := api.CreateKey(ctx, store.Queries, *role, pid, *label)
	if err != nil {
		return err
	}
	fmt.Printf("%s\n", k.Key)
	fmt.Fprintf(os.Stderr, "created %s key %s (id %s); it is shown only this once\n", k.Role, k.Prefix, k.ID)
	return nil
}

// checkHealth GETs the one URL it is given and succeeds on a 2xx answer.
func checkHealth(args []string) error {
	if len(args) != 1 {
		return usageError{"usage: partnerops health URL"}
	}
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(args[0])
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s answered %d", args[0], resp.StatusCode)
	}
	return nil
}
