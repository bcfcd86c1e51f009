package db

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Pipeline queues sqlc's queries (their SQL, from sql/queries) to send them to
// PostgreSQL together, in one round trip: a pgx batch. Its statements run in
// order as one transaction, implicit or between Begin and Commit; if one fails
// the rest do not run and nothing is kept. Each query's rows are scanned into
// its sqlc type when the pipeline is sent.
//
// The conversion ingest sends a batch of postbacks' lookups as one pipeline and
// its writes as another: two round trips however many postbacks it carries.
type Pipeline struct{ b pgx.Batch }

// Send runs the queued statements on one pool connection.
func (s *Store) Send(ctx context.Context, p *Pipeline) error {
	return s.Pool.SendBatch(ctx, &p.b).Close()
}

// Len is the number of queued statements.
func (p *Pipeline) Len() int { return p.b.Len() }

// Begin and Commit make the queued statements between them an explicit transaction.
func (p *Pipeline) Begin()  { p.b.Queue("BEGIN") }
func (p *Pipeline) Commit() { p.b.Queue("COMMIT") }

// ForceCustomPlans plans each following statement of the transaction for its
// own arguments. A batch's lookups match arrays of keys whose number varies; a
// generic plan made while a table was small (a new installation, before its
// first ANALYZE) would scan the table whole ever after. (Measured: a generic
// plan with sequential scans disabled reads the whole index, 4 times slower.)
func (p *Pipeline) ForceCustomPlans() { p.b.Queue("SET LOCAL plan_cache_mode = force_custom_plan") }

// ForceGenericPlans plans each following statement of the transaction once per
// connection: for INSERTs from arrays, whose plan never depends on their
// sizes, planning each batch anew would cost more than the insert.
func (p *Pipeline) ForceGenericPlans() { p.b.Queue("SET LOCAL plan_cache_mode = force_generic_plan") }

func queueRows[T any](p *Pipeline, out *[]T, sql string, args ...any) {
	p.b.Queue(sql, args...).Query(func(rows pgx.Rows) error {
		var err error
		*out, err = pgx.CollectRows(rows, pgx.RowToStructByPos[T])
		return err
	})
}

func (p *Pipeline) RecordedExternalIDs(arg RecordedExternalIDsParams, out *[]RecordedExternalIDsRow) {
	queueRows(p, out, recordedExternalIDs, arg.ProgramIds, arg.ExternalIds)
}

func (p *Pipeline) GetClicks(ids []uuid.UUID, out *[]Click) {
	queueRows(p, out, getClicks, ids)
}

func (p *Pipeline) CouponsByCodes(arg CouponsByCodesParams, out *[]Coupon) {
	queueRows(p, out, couponsByCodes, arg.ProgramIds, arg.Codes)
}

func (p *Pipeline) CustomerBindingsFor(arg CustomerBindingsForParams, out *[]CustomerBinding) {
	queueRows(p, out, customerBindingsFor, arg.ProgramIds, arg.CustomerRefs)
}

func (p *Pipeline) OrdersSeen(arg OrdersSeenParams, out *[]OrdersSeenRow) {
	queueRows(p, out, ordersSeen, arg.ProgramIds, arg.OrderIds)
}

func (p *Pipeline) CreateConversions(arg CreateConversionsParams, out *[]Conversion) {
	queueRows(p, out, createConversions, arg.Ids, arg.ProgramIds, arg.ExternalIds, arg.RequestHashes, arg.Kinds, arg.Amounts,
		arg.Currencies, arg.OrderIds, arg.CustomerRefs, arg.CustomerEmails, arg.CustomerDomains, arg.OccurredAts, arg.PartnerIds,
		arg.LinkIds, arg.ClickIds, arg.AttributionMethods, arg.UnattributedReasons)
}

func (p *Pipeline) BindCustomers(arg BindCustomersParams) {
	p.b.Queue(bindCustomers, arg.ProgramIds, arg.CustomerRefs, arg.PartnerIds, arg.FirstAts)
}

func (p *Pipeline) CreateCommissionLines(arg CreateCommissionLinesParams, out *[]CommissionLine) {
	queueRows(p, out, createCommissionLines, arg.Ids, arg.ProgramIds, arg.PartnerIds, arg.SourceIds, arg.Amounts, arg.Currencies,
		arg.Statuses, arg.Descriptions, arg.OccurredAts, arg.DedupeKeys, arg.HoldUntils)
}
