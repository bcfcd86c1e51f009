package api

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
)

// errProcessEnded marks an Update sent to a workflow that has completed.
var errProcessEnded = errors.New("the process has ended")

// sendUpdate delivers a decision to a workflow as an Update and waits for its
// result. The Update ID derives from the caller and Idempotency-Key, so a retried
// request is the same Update to Temporal (which answers it once). A completed
// workflow answers errProcessEnded for the caller to word.
func (s *Server) sendUpdate(c *gin.Context, workflowID, name string, arg, result any) error {
	ctx := c.Request.Context()
	updateID := uuid.NewString()
	if k := c.GetHeader("Idempotency-Key"); k != "" {
		sum := sha256.Sum256([]byte(idempotencyScope(c) + "\n" + c.Request.URL.Path + "\n" + k))
		updateID = hex.EncodeToString(sum[:16])
	}
	h, err := s.temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: workflowID, UpdateName: name, UpdateID: updateID, Args: []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = h.Get(ctx, result)
	}
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return errProcessEnded
	}
	return err
}
