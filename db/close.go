package db

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
)

// OpenClose creates the close of a program's month, or returns the one that
// exists; created tells which. Under concurrent calls exactly one creates: the
// others wait on its insert and then read its row (a new statement, so it sees
// the committed row even inside a READ COMMITTED transaction).
func (q *Queries) OpenClose(ctx context.Context, arg InsertCloseParams) (Close, bool, error) {
	c, err := q.InsertClose(ctx, arg)
	if err == nil {
		return c, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return c, false, err
	}
	c, err = q.GetCloseByPeriod(ctx, GetCloseByPeriodParams{ProgramID: arg.ProgramID, Month: arg.Month})
	return c, false, err
}
