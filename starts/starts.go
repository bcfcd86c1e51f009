// Package starts makes workflow starts after the commit of the transaction
// that writes their records, and sweeps what a crash or an unreachable
// Temporal left unmade: no workflow without its row, no row without its
// workflow.
//
// In a transaction, Record writes the start (workflows.Start) beside the
// record; the request that wrote it makes it once the transaction has
// committed (Tx does both), and the workers' Sweeper makes any start still
// unmade after a grace period. A start is idempotent: its workflow ID is the
// record's, so one made twice (a request and the sweep at once) runs once.
package starts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"

	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/workflows"
)

// ErrRequested: the same start (its token) was recorded already; the caller's
// request repeats one in progress.
var ErrRequested = errors.New("starts: this start was requested already")

// pending collects the starts a transaction recorded, to be made after it commits.
type pending struct {
	mu   sync.Mutex
	list []recorded
}

type recorded struct {
	start workflows.Start
	token uuid.UUID
	later bool // made in the background: the caller does not wait for it
}

type pendingKey struct{}

// Record writes s in the transaction of q, under a new token; Tx makes it
// after the commit.
func Record(ctx context.Context, q *db.Queries, s workflows.Start) error {
	return record(ctx, q, s, uuid.Must(uuid.NewV7()), false)
}

// RecordLater is Record for a start nobody waits on (a flagged postback's
// review): Tx makes it in the background after the commit, so the caller
// answers at once; when too many are in flight it is left to the sweep.
func RecordLater(ctx context.Context, q *db.Queries, s workflows.Start) error {
	return record(ctx, q, s, uuid.Must(uuid.NewV7()), true)
}

// RecordOnce writes s under the caller's token: recorded again under the same
// token (a request repeated, two at once), it answers ErrRequested.
func RecordOnce(ctx context.Context, q *db.Queries, s workflows.Start, token uuid.UUID) error {
	return record(ctx, q, s, token, false)
}

func record(ctx context.Context, q *db.Queries, s workflows.Start, token uuid.UUID, later bool) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	n, err := q.RecordWorkflowStart(ctx, db.RecordWorkflowStartParams{WorkflowID: s.ID, Token: token, Start: b})
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrRequested
	}
	if p, ok := ctx.Value(pendingKey{}).(*pending); ok {
		p.mu.Lock()
		p.list = append(p.list, recorded{s, token, later})
		p.mu.Unlock()
	}
	return nil
}

// Tx runs fn in a transaction and, once it has committed, makes the starts fn
// recorded. A start that fails now (Temporal away) is left to the sweep and
// logged; the transaction's outcome stands, and so does the caller's answer.
func Tx(ctx context.Context, store *db.Store, c client.Client, logger *slog.Logger, fn func(ctx context.Context, q *db.Queries) error) error {
	p := &pending{}
	ctx = context.WithValue(ctx, pendingKey{}, p)
	if err := store.InTx(ctx, func(q *db.Queries) error { return fn(ctx, q) }); err != nil {
		return err
	}
	for _, r := range p.list {
		if !r.later {
			launch(ctx, store, c, logger, r.start, r.token)
			continue
		}
		select {
		case background <- struct{}{}:
			go func() {
				defer func() { <-background }()
				launch(ctx, store, c, logger, r.start, r.token)
			}()
		default: // too many in flight: the sweep makes it
		}
	}
	return nil
}

// background bounds the starts made in the background at once (per process).
var background = make(chan struct{}, 32)

// launch makes one start and marks it made; a failure is counted on its row
// for the sweep.
func launch(ctx context.Context, store *db.Store, c client.Client, logger *slog.Logger, s workflows.Start, token uuid.UUID) bool {
	// Made even if the caller has gone: the record is committed.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), launchTimeout)
	defer cancel()
	if err := s.Launch(ctx, c); err != nil {
		logger.Warn("workflow start left to the sweep", "workflow_id", s.ID, "kind", s.Kind, "error", err)
		if merr := store.MarkWorkflowStartFailed(ctx, db.MarkWorkflowStartFailedParams{WorkflowID: s.ID, Token: token, LastError: ptr(err.Error())}); merr != nil {
			logger.Warn("workflow start failure not recorded", "workflow_id", s.ID, "error", merr)
		}
		return false
	}
	if err := store.MarkWorkflowStarted(ctx, db.MarkWorkflowStartedParams{WorkflowID: s.ID, Token: token}); err != nil {
		// Made but not marked: the sweep makes it again, which finds it started.
		logger.Warn("workflow start not marked", "workflow_id", s.ID, "error", err)
	}
	return true
}

// launchTimeout bounds one start: a request that recorded one answers at most
// this much later when Temporal does not answer (the sweep makes it then).
const launchTimeout = 3 * time.Second

func ptr[T any](v T) *T { return &v }

// Sweep makes the starts recorded before `before` and still unmade; it
// answers how many it made and how many remain unmade.
func Sweep(ctx context.Context, store *db.Store, c client.Client, logger *slog.Logger, before time.Time) (made, failed int, err error) {
	rows, err := store.UnstartedWorkflowStarts(ctx, db.UnstartedWorkflowStartsParams{Before: before, MaxRows: 500})
	if err != nil {
		return 0, 0, fmt.Errorf("list unmade workflow starts: %w", err)
	}
	for _, r := range rows {
		var s workflows.Start
		if err := json.Unmarshal(r.Start, &s); err != nil {
			logger.Error("a recorded workflow start does not decode", "workflow_id", r.WorkflowID, "error", err)
			failed++
			continue
		}
		if launch(ctx, store, c, logger, s, r.Token) {
			made++
			logger.Info("workflow start made by the sweep", "workflow_id", s.ID, "kind", s.Kind, "attempts_before", r.Attempts)
		} else {
			failed++
		}
	}
	return made, failed, nil
}

// Grace is how long a start is left to the request that recorded it before
// the sweep makes it.
const Grace = 5 * time.Second

// Sweeper runs Sweep every interval until ctx ends (each worker runs one; two
// sweeping at once make each start once, as its workflow ID is unique).
func Sweeper(ctx context.Context, store *db.Store, c client.Client, logger *slog.Logger, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, _, err := Sweep(ctx, store, c, logger, time.Now().Add(-Grace)); err != nil && ctx.Err() == nil {
			logger.Warn("workflow start sweep failed", "error", err)
		}
		if _, err := store.DeleteStartedWorkflowStarts(ctx); err != nil && ctx.Err() == nil {
			logger.Warn("deleting old workflow starts failed", "error", err)
		}
	}
}
