//go:build e2e

package main

// A worker that dies in the middle of the close's longest step: its heartbeats
// stop, Temporal retries the step on another worker, and the close reaches review
// within a minute (not the step's 10-minute timeout).

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/partnerops/partnerops/activities"
)

const childWorkerEnv = "PARTNEROPS_TEST_CHILD_WORKER"

// runChildWorker is the test binary run as a worker only (see TestMain), against
// the test's Temporal server and database, until it is killed.
func runChildWorker() error {
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	store, err := openStore(ctx, os.Getenv("DATABASE_URL"), 4)
	if err != nil {
		return err
	}
	c, err := dialTemporal(ctx, os.Getenv("TEMPORAL_ADDRESS"), "default", logger, nil)
	if err != nil {
		return err
	}
	if _, err := startWorker(c, store, logger, activities.Payments{FileDir: os.TempDir()}); err != nil {
		return err
	}
	select {}
}

func TestCloseSurvivesAWorkerKilledMidCompute(t *testing.T) {
	f := closeProgram(t, "file")
	monthStart := time.Date(time.Now().UTC().Year(), time.Now().UTC().Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -1, 0)
	line(t, f.programID, f.a, "commission", "75.00", monthStart.AddDate(0, 0, 3), "payable")

	// Hold the program's lines, so the close's freeze waits inside its transaction.
	ctx := context.Background()
	lock, err := sys.store.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback(ctx)
	if _, err := lock.Exec(ctx, "SELECT id FROM commission_lines WHERE program_id = $1 FOR UPDATE", f.programID); err != nil {
		t.Fatal(err)
	}

	// Only the child worker polls while the close starts.
	sys.worker.Stop()
	restarted := false
	restart := func() {
		if restarted {
			return
		}
		restarted = true
		w, err := startWorker(sys.temporal, sys.workerStore, sys.logger, sys.payments)
		if err != nil {
			t.Fatal(err)
		}
		sys.worker = w
	}
	defer restart() // whatever happens, the tests after this one have their worker
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), childWorkerEnv+"=1", "DATABASE_URL="+sys.dbURL, "TEMPORAL_ADDRESS="+sys.temporalAddress)
	child.Stderr = os.Stderr
	child.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = child.Process.Kill(); _, _ = child.Process.Wait() }()

	id := f.start(t, monthStart.Format("2006-01"), http.StatusCreated).str("id")
	eventually(t, "the child worker's freeze to wait on the lines", func() bool {
		var n int
		_ = sys.store.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE '%UPDATE commission_lines%'`).Scan(&n)
		return n > 0
	})
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = child.Process.Wait()
	killed := time.Now()

	restart()
	if err := lock.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	var r response
	for {
		r = expect(t, do(t, call{method: "GET", path: "/v1/closes/" + id, key: f.finance}), http.StatusOK)
		if r.str("status") == "review" {
			break
		}
		if time.Since(killed) > time.Minute {
			t.Fatalf("the close is still %s a minute after its worker died", r.str("status"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("recovered %s after the kill", time.Since(killed).Round(time.Second))
	if got := statementsOf(r)[f.a]; got != "in=0.00 com=75.00 deal=0.00 mdf=0.00 claw=0.00 adj=0.00 total=75.00 pay=75.00 out=0.00" {
		t.Fatalf("statement after the retry: %s", got)
	}
	var frozen int
	_ = sys.store.Pool.QueryRow(ctx, "SELECT count(*) FROM commission_lines WHERE close_id = $1", id).Scan(&frozen)
	if frozen != 1 {
		t.Fatalf("%d lines frozen into the close", frozen)
	}
}
