package api

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"github.com/partnerops/partnerops/starts"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/partnerops/partnerops/db"
)

// answer is what a write handler returns: the status and body to send, and, when
// the body holds a secret shown only once (a new API key), the body to store for
// replays instead.
type answer struct {
	Status int
	Body   any
	Stored any
}

var errKeyReused = newHTTPError(http.StatusUnprocessableEntity, "idempotency_key_reused",
	"this Idempotency-Key was used with a different request; use a new key", "Idempotency-Key")

// write runs a handler's writes in one transaction. With an Idempotency-Key
// header the key is claimed in that same transaction: the same key and request
// replay the first answer, the same key with another request is a 422, and a
// failed write stores nothing (so the caller may retry with the same key). A
// concurrent request with the same key waits on the claim until the first commits.
// tx runs fn in a transaction and makes the workflow starts it recorded
// (starts.Record) once it has committed, never inside it.
func (s *Server) tx(ctx context.Context, fn func(ctx context.Context, q *db.Queries) error) error {
	return starts.Tx(ctx, s.store, s.temporal, s.logger, fn)
}

func (s *Server) write(c *gin.Context, body []byte, fn func(ctx context.Context, q *db.Queries) (answer, error)) {
	ctx := c.Request.Context()
	key := c.GetHeader("Idempotency-Key")
	if err := checkIdempotencyKey(key); err != nil {
		s.abort(c, err)
		return
	}
	var (
		out      answer
		replayed *db.IdempotencyKey
	)
	err := s.tx(ctx, func(ctx context.Context, q *db.Queries) error {
		var scope string
		hash := requestHash(c, body)
		if key != "" {
			scope = idempotencyScope(c)
			n, err := q.ClaimIdempotencyKey(ctx, db.ClaimIdempotencyKeyParams{Scope: scope, Key: key, RequestHash: hash})
			if err != nil {
				return err
			}
			if n == 0 {
				prev, err := q.GetIdempotencyKey(ctx, db.GetIdempotencyKeyParams{Scope: scope, Key: key})
				if err != nil {
					return err
				}
				if string(prev.RequestHash) != string(hash) {
					return errKeyReused
				}
				replayed = &prev
				return nil
			}
		}
		var err error
		if out, err = fn(ctx, q); err != nil {
			return err
		}
		if key == "" {
			return nil
		}
		stored := out.Body
		if out.Stored != nil {
			stored = out.Stored
		}
		js, err := json.Marshal(stored)
		if err != nil {
			return err
		}
		return q.SaveIdempotentResponse(ctx, db.SaveIdempotentResponseParams{Scope: scope, Key: key, StatusCode: int32(out.Status), ResponseBody: js})
	})
	switch {
	case err != nil:
		s.abort(c, err)
	case replayed != nil:
		c.Header("Idempotent-Replayed", "true")
		c.Data(int(replayed.StatusCode), "application/json; charset=utf-8", replayed.ResponseBody)
	default:
		c.JSON(out.Status, out.Body)
	}
}

// claimed is an Idempotency-Key claimed for a decision (or no key at all).
type claimed struct {
	scope, key string
	updateID   string
	prepared   json.RawMessage    // what the decision's Prepare made (kept with the claim)
	replay     *db.IdempotencyKey // the stored answer, when the key has one
}

// claim checks and claims the request's Idempotency-Key in one short transaction,
// running prepare in it. A key already answered is a replay; a key claimed but not
// answered (an earlier attempt still running, or one that timed out) is claimed
// again, with what that attempt prepared.
func (s *Server) claim(c *gin.Context, body []byte, prepare func(context.Context, *db.Queries, json.RawMessage) (json.RawMessage, error)) (claimed, error) {
	ctx := c.Request.Context()
	key := c.GetHeader("Idempotency-Key")
	if err := checkIdempotencyKey(key); err != nil {
		return claimed{}, err
	}
	cl := claimed{key: key, updateID: updateID(c, key)}
	if key != "" {
		cl.scope = idempotencyScope(c)
	} else if prepare == nil {
		return cl, nil // nothing to claim, nothing to prepare
	}
	err := s.store.InTx(ctx, func(q *db.Queries) error {
		var earlier json.RawMessage
		if key != "" {
			hash := requestHash(c, body)
			prev, err := q.GetIdempotencyKey(ctx, db.GetIdempotencyKeyParams{Scope: cl.scope, Key: key})
			switch {
			case err == nil && string(prev.RequestHash) != string(hash):
				return errKeyReused
			case err == nil && prev.StatusCode != 0:
				cl.replay = &prev
				return nil
			case err == nil:
				earlier = prev.Pending
			case !errors.Is(err, pgx.ErrNoRows):
				return err
			}
			if err == nil && prepare == nil {
				return nil
			}
			if prepare != nil {
				if cl.prepared, err = prepare(ctx, q, earlier); err != nil {
					return err
				}
			}
			if earlier != nil {
				return nil
			}
			// A concurrent first attempt with the same key: one insert wins; the loser
			// rolls back what it prepared and continues with the winner's.
			n, err := q.ClaimIdempotencyKey(ctx, db.ClaimIdempotencyKeyParams{Scope: cl.scope, Key: key, RequestHash: hash, Pending: cl.prepared})
			if err != nil {
				return err
			}
			if n == 0 {
				return errClaimRace
			}
			return nil
		}
		if prepare != nil {
			var err error
			cl.prepared, err = prepare(ctx, q, nil)
			return err
		}
		return nil
	})
	if errors.Is(err, errClaimRace) {
		return s.claim(c, body, prepare) // the winner's claim is committed now
	}
	return cl, err
}

var errClaimRace = errors.New("idempotency key claimed concurrently")

// save stores the answer for the claimed key (nothing without a key).
func (cl claimed) save(ctx context.Context, q *db.Queries, ans answer) error {
	if cl.key == "" {
		return nil
	}
	stored := ans.Body
	if ans.Stored != nil {
		stored = ans.Stored
	}
	js, err := json.Marshal(stored)
	if err != nil {
		return err
	}
	return q.SaveIdempotentResponse(ctx, db.SaveIdempotentResponseParams{Scope: cl.scope, Key: cl.key, StatusCode: int32(ans.Status), ResponseBody: js})
}

// release frees a claimed key whose request failed before anything happened.
func (s *Server) release(cl claimed) {
	if cl.key == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.store.ReleaseIdempotencyKey(ctx, db.ReleaseIdempotencyKeyParams{Scope: cl.scope, Key: cl.key}); err != nil {
		s.logger.Error("release an idempotency key", "error", err)
	}
}

func (cl claimed) replayAnswer(c *gin.Context) {
	c.Header("Idempotent-Replayed", "true")
	c.Data(int(cl.replay.StatusCode), "application/json; charset=utf-8", cl.replay.ResponseBody)
}

func checkIdempotencyKey(key string) error {
	if len(key) > 255 {
		return newHTTPError(http.StatusBadRequest, "invalid_idempotency_key", "Idempotency-Key may be at most 255 characters", "Idempotency-Key")
	}
	if !cleanText(key) {
		return newHTTPError(http.StatusBadRequest, "invalid_idempotency_key", "Idempotency-Key must be printable UTF-8 text", "Idempotency-Key")
	}
	return nil
}

// idempotencyScope keeps one caller's keys apart from another's.
func idempotencyScope(c *gin.Context) string {
	if cl := caller(c); cl.Prefix != "" {
		return "key:" + cl.KeyID.String()
	} else if cl.UserID != uuid.Nil {
		return "user:" + cl.UserID.String()
	}
	return "ip:" + c.ClientIP()
}

// requestHash covers what makes two requests "the same": method, path and body.
func requestHash(c *gin.Context, body []byte) []byte {
	h := sha256.New()
	h.Write([]byte(c.Request.Method + " " + c.Request.URL.Path + "\n"))
	h.Write(body)
	return h.Sum(nil)
}

// isUniqueViolation reports a unique-constraint violation on the named constraint.
func isUniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == constraint
}
