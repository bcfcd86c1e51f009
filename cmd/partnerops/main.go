// Command partnerops runs the partner operations platform:
//
//	partnerops serve                      the HTTP API
//	partnerops worker                     the Temporal worker (every workflow and activity)
//	partnerops migrate                    apply database migrations
//	partnerops dev                        everything at once for development (make run)
//	partnerops keys create --role R [--partner ID] [--label L]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/google/uuid"

	"github.com/partnerops/partnerops/api"
	"github.com/partnerops/partnerops/db"
)

const usage = `usage: partnerops <command>

commands:
  serve                                      run the HTTP API
  worker                                     run the Temporal worker
  migrate                                    apply database migrations
  dev                                        run everything for development (Temporal dev server, API, worker)
  keys create --role ROLE [--partner ID] [--label TEXT]
                                             create an API key (roles: admin, manager, finance, partner, integration)

Configuration comes from environment variables; see README.md.
`

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "partnerops:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return errors.New("no command given")
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := newLogger(cfg.LogLevel)

	switch args[0] {
	case "serve":
		store, err := openStore(ctx, cfg.DatabaseURL, cfg.DatabaseMaxConns)
		if err != nil {
			return err
		}
		defer store.Pool.Close()
		c, err := dialTemporal(ctx, cfg.TemporalAddress, cfg.TemporalNamespace, logger)
		if err != nil {
			return err
		}
		defer c.Close()
		return serveAPI(ctx, cfg, store, c, logger, nil)
	case "worker":
		store, err := openStore(ctx, cfg.DatabaseURL, cfg.DatabaseMaxConns)
		if err != nil {
			return err
		}
		defer store.Pool.Close()
		c, err := dialTemporal(ctx, cfg.TemporalAddress, cfg.TemporalNamespace, logger)
		if err != nil {
			return err
		}
		defer c.Close()
		if err := ensureSearchAttributes(ctx, c, cfg.TemporalNamespace); err != nil {
			return err
		}
		w, err := startWorker(c, store, logger, cfg.Payments)
		if err != nil {
			return err
		}
		logger.Info("worker running")
		<-ctx.Done()
		w.Stop()
		return nil
	case "migrate":
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
	case "dev":
		return runDev(ctx, cfg, logger)
	case "keys":
		return runKeys(ctx, cfg, args[1:])
	default:
		fmt.Fprint(os.Stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

func runKeys(ctx context.Context, cfg Config, args []string) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("usage: partnerops keys create --role ROLE [--partner ID] [--label TEXT]")
	}
	fs := flag.NewFlagSet("keys create", flag.ContinueOnError)
	role := fs.String("role", "", "admin, manager, finance, partner or integration")
	partner := fs.String("partner", "", "the partner ID (partner keys only)")
	label := fs.String("label", "", "a note to recognise the key by")
	if err := fs.Parse(args[1:]); err != nil {
		return err
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
