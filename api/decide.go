package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/partnerops/partnerops/db"
)

// A decision (approve, reject, extend, claim, sign off, mark paid…) is one Update
// sent to the workflow of the process it moves. Every decision route goes through
// decide, which never holds a database connection while the workflow works:
//
//  1. claim the Idempotency-Key in a short transaction (and run prepare, if any);
//  2. send the Update, with no transaction open, and wait for its outcome until
//     DecisionWait has passed;
//  3. store the answer and the audit event in a short transaction.
//
// The Update ID derives from the caller and the Idempotency-Key, so a retry with
// the same key is the same Update to Temporal: it is carried out once, and the
// retry learns its real outcome.
type decision struct {
	Record     string    // the record's business word: "deal", "partner", "mdf_request", …
	RecordID   uuid.UUID //
	WorkflowID string
	Update     string // the Update's name, which is also the audit action's verb
	Reason     string // for the audit event
	Body       []byte // the request's canonical body, for the Idempotency-Key
	// Prepare runs in the claim's transaction before the Update is sent; what it
	// returns is kept with the claim and handed to it again on a retry with the same
	// key (so a retry reuses what the first attempt made). Optional.
	Prepare func(ctx context.Context, q *db.Queries, earlier json.RawMessage) (json.RawMessage, error)
	// Arg builds the Update's argument from what Prepare made.
	Arg func(prepared json.RawMessage) (any, error)
	// Result is where the Update's result (the workflow's state) is decoded.
	Result any
	// Ended words the answer when the workflow has already completed.
	Ended func() error
	// Refused runs when the workflow refused the decision (to undo Prepare). Optional.
	Refused func(ctx context.Context, q *db.Queries, prepared json.RawMessage) error
	// Answer builds the 2xx answer once the decision is carried out. It reads on the
	// pool, one query at a time; it never opens a transaction.
	Answer func(ctx context.Context, prepared json.RawMessage) (answer, error)
}

// PendingDecision is the 202 answer: the decision is not settled yet.
type PendingDecision struct {
	Status     string `json:"status"` // pending
	Message    string `json:"message"`
	WorkflowID string `json:"workflow_id"`
	Record     string `json:"record"`
	RecordID   string `json:"record_id"`
}

func (s *Server) decide(c *gin.Context, d decision) {
	ctx := c.Request.Context()
	cl, err := s.claim(c, d.Body, d.Prepare)
	if err != nil {
		s.abort(c, err)
		return
	}
	if cl.replay != nil {
		cl.replayAnswer(c)
		return
	}
	arg, err := d.Arg(cl.prepared)
	if err != nil {
		s.release(cl)
		s.abort(c, err)
		return
	}

	settled, err := s.sendUpdate(ctx, d.WorkflowID, cl.updateID, d.Update, arg, d.Result)
	// From here on the outcome is known (or pending) and must reach the caller even
	// if the request's own deadline is near: store it under a context of its own.
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer scancel()
	ev := auditEvent{Actor: caller(c).Actor(), Action: d.Record + "." + d.Update, RecordType: d.Record, RecordID: d.RecordID, Reason: d.Reason, RequestID: requestID(c)}
	outcome := "failed"
	defer func() { s.httpMetrics.decisions.WithLabelValues(d.Record, d.Update, outcome).Inc() }()

	switch {
	case errors.Is(err, errProcessEnded):
		err = d.Ended()
		fallthrough
	case err != nil && s.refusal(err):
		if d.Refused != nil {
			if rerr := d.Refused(sctx, s.store.Queries, cl.prepared); rerr != nil {
				s.logger.WarnContext(ctx, "undo a refused decision's preparation", "error", rerr, "request_id", ev.RequestID)
			}
		}
		status, detail := s.classify(err)
		detail.RequestID = ev.RequestID
		ev.Outcome, ev.Detail = "refused", map[string]any{"code": detail.Code, "message": detail.Message}
		outcome = ev.Outcome
		s.finish(sctx, cl, ev, answer{Status: status, Body: ErrorBody{Error: detail}})
		c.AbortWithStatusJSON(status, ErrorBody{Error: detail})
		return
	case err != nil:
		// Temporal could not be reached, or answered something unexpected: nothing is
		// known to have happened, so the key is free for a retry.
		s.release(cl)
		s.abort(c, err)
		return
	case !settled:
		// The key stays claimed without an answer: a retry with it re-sends the same
		// Update and learns the real outcome.
		ev.Outcome = "pending"
		outcome = ev.Outcome
		if aerr := s.store.RecordAuditEvent(sctx, ev.params()); aerr != nil {
			s.logger.ErrorContext(ctx, "record audit event", "error", aerr, "request_id", ev.RequestID)
		}
		msg := "the decision was sent and is not settled yet; retry the same request with the same Idempotency-Key to learn its outcome, or read the record"
		if cl.key == "" {
			msg = "the decision was sent and is not settled yet; read the record to learn its outcome (send an Idempotency-Key to make a retry safe)"
		}
		c.JSON(http.StatusAccepted, PendingDecision{Status: "pending", Message: msg, WorkflowID: d.WorkflowID, Record: d.Record, RecordID: d.RecordID.String()})
		return
	}

	// Applied: the answer shows the record as it stands now. If it cannot be read,
	// the decision still happened, and the caller is told so rather than a 500.
	ans, aerr := d.Answer(sctx, cl.prepared)
	if aerr != nil {
		s.logger.ErrorContext(ctx, "build a decision's answer", "error", aerr, "request_id", ev.RequestID)
		ans = answer{Status: http.StatusOK, Body: gin.H{"status": "applied", "workflow_id": d.WorkflowID, "record": d.Record, "record_id": d.RecordID, "state": d.Result}}
	}
	ev.Outcome = "applied"
	outcome = ev.Outcome
	s.finish(sctx, cl, ev, ans)
	c.JSON(ans.Status, ans.Body)
}

// refusal reports whether err is the workflow (or the API) saying no: a 4xx.
func (s *Server) refusal(err error) bool {
	status, _ := s.classify(err)
	return status >= 400 && status < 500
}

// finish stores the answer for the Idempotency-Key and the audit event, together.
func (s *Server) finish(ctx context.Context, cl claimed, ev auditEvent, ans answer) {
	err := s.store.InTx(ctx, func(q *db.Queries) error {
		if err := q.RecordAuditEvent(ctx, ev.params()); err != nil {
			return err
		}
		return cl.save(ctx, q, ans)
	})
	if err != nil {
		s.logger.ErrorContext(ctx, "store a decision's outcome", "error", err, "request_id", ev.RequestID)
	}
}

// errProcessEnded marks an Update sent to a workflow that has completed.
var errProcessEnded = errors.New("the process has ended")

// errNotAccepted: Temporal did not accept the Update in time (the server or the
// workers are away). Nothing happened; the retry with the same key is safe.
var errNotAccepted = newHTTPError(http.StatusServiceUnavailable, "not_accepted",
	"the decision could not be handed to its process just now and was not made; retry with the same Idempotency-Key", "")

// errNotStarted: the record's process is recorded but not started yet (Temporal
// was away when the record was written). Nothing happened; retry shortly.
var errNotStarted = newHTTPError(http.StatusServiceUnavailable, "not_started",
	"the process of this record has not started yet (it starts within seconds); retry with the same Idempotency-Key", "")

// sendUpdate delivers a decision to a workflow as an Update in two steps: until
// Temporal has accepted it (AcceptWait: past it, errNotAccepted — a 503, never a
// 202 for something that never arrived), then until its result (DecisionWait:
// past it, settled is false — a 202, the accepted Update may still be carried
// out). A completed workflow answers errProcessEnded.
func (s *Server) sendUpdate(ctx context.Context, workflowID, updateID, name string, arg, result any) (settled bool, err error) {
	actx, acancel := context.WithTimeout(ctx, s.cfg.AcceptWait)
	h, err := s.temporal.UpdateWorkflow(actx, client.UpdateWorkflowOptions{
		WorkflowID: workflowID, UpdateName: name, UpdateID: updateID, Args: []any{arg},
		WaitForStage: client.WorkflowUpdateStageAccepted,
	})
	acancel()
	var notFound *serviceerror.NotFound
	var unavailable *serviceerror.Unavailable
	switch {
	case errors.As(err, &notFound):
		// No such workflow: ended long ago — or not started yet (its start is
		// recorded and Temporal was away; the sweep makes it within seconds).
		if pending, perr := s.store.WorkflowStartPending(ctx, workflowID); perr == nil && pending {
			return true, errNotStarted
		}
		return true, errProcessEnded
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled), isDeadlineExceeded(err), errors.As(err, &unavailable):
		return true, errNotAccepted
	case err != nil:
		return true, err
	}
	wctx, cancel := context.WithTimeout(ctx, s.cfg.DecisionWait)
	defer cancel()
	err = h.Get(wctx, result)
	switch {
	case errors.As(err, &notFound):
		return true, errProcessEnded
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled), isDeadlineExceeded(err):
		return false, nil
	}
	return true, err
}

func isDeadlineExceeded(err error) bool {
	var de *serviceerror.DeadlineExceeded
	var canceled *serviceerror.Canceled
	return errors.As(err, &de) || errors.As(err, &canceled)
}

// updateID makes the Update's ID from the caller and the Idempotency-Key; without
// a key every request is a new Update.
func updateID(c *gin.Context, key string) string {
	if key == "" {
		return uuid.NewString()
	}
	sum := sha256.Sum256([]byte(idempotencyScope(c) + "\n" + c.Request.URL.Path + "\n" + key))
	return hex.EncodeToString(sum[:16])
}
