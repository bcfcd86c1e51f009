package db

import (
	"cmp"
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Pipeline sends sqlc queries to PostgreSQL together, in one round trip (a pgx
// batch). Its statements run in order as one transaction, implicit or between
// Begin and Commit; if one fails, the rest do not run and nothing is kept. A
// pipeline may also carry several explicit transactions one after the other:
// those committed before a failure stay committed, the rest do not run.
//
// A step is an ordinary call of a generated query, made twice: Add calls it on
// Queries that only queue its SQL and arguments, and Send, once the batch has
// answered, calls it again on Queries that hand it its own result, which the
// generated code scans as usual. So a query's SQL, arguments and scanning are
// sqlc's, written once.
//
// The conversion ingest sends a batch of postbacks' writes and the next batch's
// lookups as one pipeline: a round trip a batch however many postbacks it carries.
type Pipeline struct {
	batch pgx.Batch
	steps []func(*Queries) error
	errs  []error // each step's, once sent
}

// Len is how many statements are queued: a mark for Err.
func (p *Pipeline) Len() int { return len(p.steps) }

// Err is, once sent, the first error of the statements queued from mark from
// up to mark to: a pipeline may carry several transactions.
func (p *Pipeline) Err(from, to int) error {
	for _, err := range p.errs[from:to] {
		if err != nil {
			return err
		}
	}
	return nil
}

// Add queues the query that step calls (one query per step).
func (p *Pipeline) Add(step func(q *Queries) error) {
	if err := step(New(queueing{&p.batch})); err != nil && !errors.Is(err, errQueued) {
		panic("db: a pipeline step failed before it was sent: " + err.Error())
	}
	p.steps = append(p.steps, step)
}

// Exec queues a statement without arguments or result (BEGIN, SET LOCAL …).
func (p *Pipeline) Exec(sql string) {
	p.batch.Queue(sql)
	p.steps = append(p.steps, func(q *Queries) error { _, err := q.db.Exec(context.Background(), sql); return err })
}

// Begin and Commit make the statements between them an explicit transaction.
func (p *Pipeline) Begin()  { p.Exec("BEGIN") }
func (p *Pipeline) Commit() { p.Exec("COMMIT") }

// ForceCustomPlans plans each following statement of the transaction for its
// own arguments. A batch's lookups match arrays of keys whose number varies; a
// generic plan made while a table was small (a new installation, before its
// first ANALYZE) would scan the table whole ever after. (Measured: a generic
// plan with sequential scans disabled reads the whole index, 4 times slower.)
func (p *Pipeline) ForceCustomPlans() { p.Exec("SET LOCAL plan_cache_mode = force_custom_plan") }

// ForceGenericPlans plans each following statement of the transaction once per
// connection: for INSERTs from arrays, whose plan never depends on their
// sizes, planning each batch anew would cost more than the insert.
func (p *Pipeline) ForceGenericPlans() { p.Exec("SET LOCAL plan_cache_mode = force_generic_plan") }

// Send runs the queued statements on one pool connection and gives each step
// its result; the first error is returned.
func (s *Store) Send(ctx context.Context, p *Pipeline) error {
	br := s.Pool.SendBatch(ctx, &p.batch)
	q := New(answering{br})
	var first error
	p.errs = make([]error, len(p.steps))
	for i, step := range p.steps {
		p.errs[i] = step(q)
		first = cmp.Or(first, p.errs[i])
	}
	if err := br.Close(); err != nil && first == nil {
		// Every statement answered: the error came after them (the
		// connection); what they did stands.
		first = err
	}
	return first
}

var errQueued = errors.New("queued")

// queueing is the DBTX of Add: it queues what a generated query would run.
type queueing struct{ b *pgx.Batch }

func (d queueing) Exec(_ context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	d.b.Queue(sql, args...)
	return pgconn.CommandTag{}, errQueued
}

func (d queueing) Query(_ context.Context, sql string, args ...any) (pgx.Rows, error) {
	d.b.Queue(sql, args...)
	return nil, errQueued
}

func (d queueing) QueryRow(_ context.Context, sql string, args ...any) pgx.Row {
	d.b.Queue(sql, args...)
	return errRow{}
}

func (queueing) CopyFrom(context.Context, pgx.Identifier, []string, pgx.CopyFromSource) (int64, error) {
	return 0, errors.New("db: COPY cannot be pipelined")
}

type errRow struct{}

func (errRow) Scan(...any) error { return errQueued }

// answering is the DBTX of Send: each call reads the next statement's result.
type answering struct{ br pgx.BatchResults }

func (d answering) Exec(context.Context, string, ...any) (pgconn.CommandTag, error) {
	return d.br.Exec()
}
func (d answering) Query(context.Context, string, ...any) (pgx.Rows, error) { return d.br.Query() }
func (d answering) QueryRow(context.Context, string, ...any) pgx.Row        { return d.br.QueryRow() }

func (answering) CopyFrom(context.Context, pgx.Identifier, []string, pgx.CopyFromSource) (int64, error) {
	return 0, errors.New("db: COPY cannot be pipelined")
}
