package api

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
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
func (s *Server) write(c *gin.Context, body []byte, fn func(ctx context.Context, q *db.Queries) (answer, error)) {
	ctx := c.Request.Context()
	key := c.GetHeader("Idempotency-Key")
	if len(key) > 255 {
		s.abort(c, newHTTPError(http.StatusBadRequest, "invalid_idempotency_key", "Idempotency-Key may be at most 255 characters", "Idempotency-Key"))
		return
	}
	var (
		out      answer
		replayed *db.IdempotencyKey
	)
	err := s.store.InTx(ctx, func(q *db.Queries) error {
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

// idempotencyScope keeps one caller's keys apart from another's.
func idempotencyScope(c *gin.Context) string {
	if cl := caller(c); cl.Prefix != "" {
		return "key:" + cl.KeyID.String()
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
