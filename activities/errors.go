package activities

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
)

// ErrPermanent is the ApplicationError type of a failure no retry can mend: the
// database refused the data itself (a value out of its column's range, a broken
// constraint). Workflows see it at once instead of retrying forever.
const ErrPermanent = "PermanentDataError"

// permanent reports whether err is the database refusing the data: SQLSTATE
// class 22 (data exception) or 23 (integrity constraint violation).
func permanent(err error) (*pgconn.PgError, bool) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && len(pgErr.Code) == 5 && (pgErr.Code[:2] == "22" || pgErr.Code[:2] == "23") {
		return pgErr, true
	}
	return nil, false
}

// Classify turns a permanent database error into a non-retryable one; any other
// error is returned as it is (and retried by the activity's policy).
func Classify(err error) error {
	var appErr *temporal.ApplicationError
	if err == nil || errors.As(err, &appErr) {
		return err
	}
	if pgErr, ok := permanent(err); ok {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("the database refused the data (SQLSTATE %s %s): %s", pgErr.Code, pgErr.ConstraintName, pgErr.Message),
			ErrPermanent, err)
	}
	return err
}

// Interceptor applies Classify to every activity the worker runs, so no activity
// can forget it.
func Interceptor() interceptor.WorkerInterceptor { return &classifyInterceptor{} }

type classifyInterceptor struct {
	interceptor.WorkerInterceptorBase
}

func (c *classifyInterceptor) InterceptActivity(ctx context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	i := &classifyActivity{}
	i.Next = next
	return i
}

type classifyActivity struct {
	interceptor.ActivityInboundInterceptorBase
}

func (c *classifyActivity) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	res, err := c.Next.ExecuteActivity(ctx, in)
	return res, Classify(err)
}
