//go:build e2e

package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/partnerops/partnerops/api"
	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
	"github.com/partnerops/partnerops/starts"
	"github.com/partnerops/partnerops/workflows"
	"github.com/partnerops/partnerops/workflows/ids"
)

// A record and its workflow never disagree: the start is written with the
// record and made after the commit. With Temporal unreachable the
// application is still stored and answered; its workflow is made by the
// sweep once Temporal answers, and carries on as any other. A transaction
// that rolls back leaves neither the row nor the workflow.
func TestWorkflowStartsAfterCommit(t *testing.T) {
	ctx := context.Background()
	f := newProgram(t)

	// An API whose Temporal is away (nothing listens on its address).
	away, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1", Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	defer away.Close()
	cfg := testAPIConfig()
	cfg.Registry = nil
	srv, err := api.New(cfg, sys.store, away, sys.logger)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	h := httptest.NewServer(srv.Handler())
	defer h.Close()

	r := expect(t, doAt(t, h.URL, call{method: "POST", path: "/v1/applications", body: application(f, "reseller")}), http.StatusCreated)
	id := uuid.MustParse(r.str("id"))
	if _, err := sys.store.GetPartner(ctx, id); err != nil {
		t.Fatalf("the partner is not stored: %v", err)
	}
	var attempts int
	var lastError *string
	var startedAt *time.Time
	if err := sys.store.Pool.QueryRow(ctx, "SELECT attempts, last_error, started_at FROM workflow_starts WHERE workflow_id = $1", ids.Partner(id)).Scan(&attempts, &lastError, &startedAt); err != nil {
		t.Fatalf("no recorded start for the partner: %v", err)
	}
	if startedAt != nil || attempts != 1 || lastError == nil {
		t.Fatalf("the start should be recorded as not made (attempts %d, last error %v, started %v)", attempts, lastError, startedAt)
	}
	var notFound *serviceerror.NotFound
	if _, err := sys.temporal.DescribeWorkflowExecution(ctx, ids.Partner(id), ""); !errors.As(err, &notFound) {
		t.Fatalf("the workflow exists although Temporal was away: %v", err)
	}

	// A decision sent meanwhile is not lost in a "process ended": it is told
	// the process has not started yet, to retry.
	early := do(t, call{method: "POST", path: "/v1/partners/" + id.String() + "/approve", key: f.manager, body: map[string]any{}})
	if code, _ := early.errCode(); early.status != http.StatusServiceUnavailable || code != "not_started" || early.header.Get("Retry-After") == "" {
		t.Fatalf("a decision before the start: %d %s (Retry-After %q)", early.status, early.raw, early.header.Get("Retry-After"))
	}

	// Temporal answers again: the workers' sweep (here called as it would be)
	// makes the start, and the onboarding carries on.
	eventually(t, "the sweep to make the start", func() bool {
		_, _, err := starts.Sweep(ctx, sys.workerStore, sys.temporal, sys.logger, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		_, err = sys.temporal.DescribeWorkflowExecution(ctx, ids.Partner(id), "")
		return err == nil
	})
	if err := sys.store.Pool.QueryRow(ctx, "SELECT started_at FROM workflow_starts WHERE workflow_id = $1", ids.Partner(id)).Scan(&startedAt); err != nil || startedAt == nil {
		t.Fatalf("the start is not marked made: %v %v", err, startedAt)
	}
	approved := expect(t, do(t, call{method: "POST", path: "/v1/partners/" + id.String() + "/approve", key: f.manager, body: map[string]any{}}), http.StatusOK)
	if approved.str("status") != domain.StatusAwaitingAgreement {
		t.Fatalf("approved: %s", approved.raw)
	}
	// A second sweep makes nothing again.
	if made, failed, err := starts.Sweep(ctx, sys.workerStore, sys.temporal, sys.logger, time.Now()); err != nil || made != 0 || failed != 0 {
		t.Fatalf("a second sweep made %d, failed %d: %v", made, failed, err)
	}

	// A transaction that records a start and then fails: no row, no workflow.
	ghost := uuid.Must(uuid.NewV7())
	err = starts.Tx(ctx, sys.store, sys.temporal, sys.logger, func(ctx context.Context, q *db.Queries) error {
		if err := starts.Record(ctx, q, workflows.PartnerStart(workflows.PartnerInput{PartnerID: ghost, ProgramID: uuid.MustParse(f.programID), PartnerType: "reseller"}, "ghost")); err != nil {
			return err
		}
		return errors.New("the insert after it failed")
	})
	if err == nil {
		t.Fatal("the failing transaction succeeded")
	}
	var n int
	if err := sys.store.Pool.QueryRow(ctx, "SELECT count(*) FROM workflow_starts WHERE workflow_id = $1", ids.Partner(ghost)).Scan(&n); err != nil || n != 0 {
		t.Fatalf("a rolled-back start was kept (%d rows, %v)", n, err)
	}
	if _, err := sys.temporal.DescribeWorkflowExecution(ctx, ids.Partner(ghost), ""); !errors.As(err, &notFound) {
		t.Fatalf("a rolled-back start made its workflow: %v", err)
	}
}
