package api

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/partnerops/partnerops/starts"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/partnerops/partnerops/activities"
	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
	"github.com/partnerops/partnerops/workflows"
	"github.com/partnerops/partnerops/workflows/ids"
)

type CloseRequest struct {
	ProgramID string `json:"program_id" validate:"required,uuid"`
	Month     string `json:"month" validate:"required,datetime=2006-01"`
}

type AdjustmentRequest struct {
	PartnerID string  `json:"partner_id" validate:"required,uuid"`
	Amount    *Amount `json:"amount" validate:"required"`
	Reason    string  `json:"reason" validate:"required,max=500"`
}

// CloseView is a close with its totals, statements and payouts.
type CloseView struct {
	db.Close
	Totals     db.CloseTotalsRow      `json:"totals"`
	Statements []db.ListStatementsRow `json:"statements"`
	Payouts    []db.Payout            `json:"payouts"`
	// HeldForDetails: partners whose payout waits for finance to confirm changed
	// payout details (POST /v1/partners/{id}/payout-details/confirm with the version).
	HeldForDetails []HeldForDetails `json:"held_for_details"`
}

// HeldForDetails is a partner whose payout waits for its changed details.
type HeldForDetails struct {
	PartnerID   uuid.UUID     `json:"partner_id"`
	Company     string        `json:"company"`
	Version     int32         `json:"version"`
	Method      string        `json:"method"`
	Destination string        `json:"destination"` // masked
	ChangedAt   time.Time     `json:"changed_at"`
	PayoutID    uuid.NullUUID `json:"payout_id"` // none while the statement holds it (review)
}

// startClose starts the close for a program and month, or returns the one that
// exists (200): there is never a second close for a period.
func (s *Server) startClose(c *gin.Context) {
	var req CloseRequest
	body, err := s.readJSON(c, &req)
	if err != nil {
		s.abort(c, err)
		return
	}
	month, _ := time.Parse("2006-01", req.Month)
	if !month.Before(time.Date(time.Now().Year(), time.Now().Month(), 1, 0, 0, 0, 0, time.UTC)) {
		s.abort(c, domain.Invalid("month", "not_ended", "only a month that has ended can be closed"))
		return
	}
	programID := uuid.MustParse(req.ProgramID)
	s.write(c, body, func(ctx context.Context, q *db.Queries) (answer, error) {
		prog, err := q.GetProgram(ctx, programID)
		if errors.Is(err, pgx.ErrNoRows) {
			return answer{}, domain.Invalid("program_id", "unknown_program", "no program with that id")
		} else if err != nil {
			return answer{}, err
		}
		// Closes run in order: a statement carries what the previous one left, so a
		// month before the latest close can no longer be closed.
		_, err = q.GetCloseByPeriod(ctx, db.GetCloseByPeriodParams{ProgramID: programID, Month: domain.NewDate(month)})
		if !errors.Is(err, pgx.ErrNoRows) {
			// The month's close exists (answered below) or the database failed.
			if err != nil {
				return answer{}, err
			}
		} else if later, err := q.LaterClose(ctx, db.LaterCloseParams{ProgramID: programID, Month: domain.NewDate(month)}); err == nil {
			return answer{}, domain.Conflict("closes_out_of_order", "the close for %s exists, so %s can no longer be closed: its lines are carried into the next close instead",
				later.Month.Format("2006-01"), month.Format("2006-01"))
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return answer{}, err
		}
		row, created, err := q.OpenClose(ctx, db.InsertCloseParams{ID: uuid.Must(uuid.NewV7()), ProgramID: programID, Month: domain.NewDate(month),
			PeriodEnd: month.AddDate(0, 1, 0), WorkflowID: ids.Close(programID, month)})
		if err != nil {
			return answer{}, err
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
			if err := starts.Record(ctx, q, workflows.CloseStart(workflows.CloseInput{CloseID: row.ID, ProgramID: programID, Month: month}, domain.CloseSummary(prog.Name, month))); err != nil {
				return answer{}, err
			}
		}
		v, err := closeView(ctx, q, row.ID)
		return answer{Status: status, Body: v}, err
	})
}

func closeView(ctx context.Context, q *db.Queries, id uuid.UUID) (CloseView, error) {
	c, err := q.GetClose(ctx, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return CloseView{}, domain.NotFound("close")
	}
	if err != nil {
		return CloseView{}, err
	}
	v := CloseView{Close: c}
	if v.Totals, err = q.CloseTotals(ctx, id); err != nil {
		return v, err
	}
	if v.Statements, err = q.ListStatements(ctx, id); err != nil {
		return v, err
	}
	if v.Payouts, err = q.ListPayouts(ctx, id); err != nil {
		return v, err
	}
	held, err := q.CloseHeldForDetails(ctx, id)
	v.HeldForDetails = make([]HeldForDetails, len(held))
	for i, h := range held {
		v.HeldForDetails[i] = HeldForDetails{PartnerID: h.PartnerID, Company: h.Company, Version: h.Version, Method: h.Method,
			Destination: domain.MaskDestination(h.Destination), ChangedAt: h.ChangedAt, PayoutID: h.PayoutID}
	}
	return v, err
}

func (s *Server) getClose(c *gin.Context) {
	id, err := pathID(c, "close")
	var v CloseView
	if err == nil {
		v, err = closeView(c.Request.Context(), s.store.Queries, id)
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

// addAdjustment adds a positive or negative line with a reason to a close in
// review, and recomputes the statements.
func (s *Server) addAdjustment(c *gin.Context) {
	id, err := pathID(c, "close")
	var req AdjustmentRequest
	var body []byte
	if err == nil {
		body, err = s.readJSON(c, &req)
	}
	if err == nil && (req.Amount.IsZero() || req.Amount.Exponent() < -2) {
		err = domain.Invalid("amount", "invalid", "amount is a non-zero amount with at most 2 decimals (negative to deduct)")
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	s.write(c, body, func(ctx context.Context, q *db.Queries) (answer, error) {
		cl, err := q.LockClose(ctx, id) // no refund or sign-off moves it meanwhile
		if errors.Is(err, pgx.ErrNoRows) {
			return answer{}, domain.NotFound("close")
		}
		if err != nil {
			return answer{}, err
		}
		if cl.Status != domain.CloseReview {
			return answer{}, domain.Conflict("not_in_review", "adjustments are made during review; the close is %s", cl.Status)
		}
		p, err := q.GetPartner(ctx, uuid.MustParse(req.PartnerID))
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && p.ProgramID != cl.ProgramID) {
			return answer{}, domain.Invalid("partner_id", "unknown_partner", "no partner with that id in the program")
		}
		if err != nil {
			return answer{}, err
		}
		prog, err := q.GetProgram(ctx, cl.ProgramID)
		if err != nil {
			return answer{}, err
		}
		if _, err := q.CreateAdjustment(ctx, db.CreateAdjustmentParams{ID: uuid.Must(uuid.NewV7()), ProgramID: cl.ProgramID, PartnerID: p.ID,
			SourceID: cl.ID, Amount: domain.NewNumeric(req.Amount.Decimal), Currency: prog.Currency,
			Description: req.Reason + " (" + caller(c).Actor() + ")", DedupeKey: "close/" + cl.ID.String() + "/adjustment/" + uuid.NewString()}); err != nil {
			return answer{}, err
		}
		if err := activities.ComputeStatements(ctx, q, cl); err != nil {
			return answer{}, err
		}
		v, err := closeView(ctx, q, cl.ID)
		return answer{Status: http.StatusCreated, Body: v}, err
	})
}

func (s *Server) approveClose(c *gin.Context) {
	id, err := pathID(c, "close")
	var req DecisionRequest
	var body []byte
	var cl db.Close
	if err == nil {
		body, err = s.readJSON(c, &req)
	}
	if err == nil {
		if cl, err = s.store.GetClose(c.Request.Context(), id); errors.Is(err, pgx.ErrNoRows) {
			err = domain.NotFound("close")
		}
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	var st workflows.CloseState
	s.decide(c, decision{
		Record: "close", RecordID: cl.ID, WorkflowID: cl.WorkflowID, Update: workflows.CloseApprove, Reason: req.Reason, Body: body,
		Arg:    func(json.RawMessage) (any, error) { return workflows.CloseDecision{Actor: caller(c).Actor()}, nil },
		Result: &st,
		Ended:  func() error { return domain.Conflict("not_in_review", "the close is %s", cl.Status) },
		Answer: func(ctx context.Context, _ json.RawMessage) (answer, error) {
			v, err := closeView(ctx, s.store.Queries, cl.ID)
			return answer{Status: http.StatusOK, Body: v}, err
		},
	})
}

// recompute derives the statements again, read-only, and compares them with the
// stored ones: an audit that a closed period's numbers still add up.
func (s *Server) recomputeClose(c *gin.Context) {
	id, err := pathID(c, "close")
	if err != nil {
		s.abort(c, err)
		return
	}
	ctx := c.Request.Context()
	stored, err := s.store.ListStatements(ctx, id)
	if err != nil {
		s.abort(c, err)
		return
	}
	var fresh []db.ListStatementsRow
	errRollback := errors.New("read-only")
	err = s.store.InTx(ctx, func(q *db.Queries) error {
		cl, err := q.GetClose(ctx, id)
		if err != nil {
			return err
		}
		if err := activities.AuditStatements(ctx, q, cl); err != nil {
			return err
		}
		if fresh, err = q.ListStatements(ctx, id); err != nil {
			return err
		}
		return errRollback // never keep what was recomputed
	})
	if errors.Is(err, pgx.ErrNoRows) {
		err = domain.NotFound("close")
	}
	if err != nil && !errors.Is(err, errRollback) {
		s.abort(c, err)
		return
	}
	key := func(r db.ListStatementsRow) string {
		return fmt.Sprintf("%s %s %s %s %s %s %s %s %s %s %d %q", r.PartnerID, r.CarriedIn, r.Commissions, r.DealMargins, r.MDF, r.Clawbacks, r.Adjustments, r.Total, r.Payable, r.CarriedOut, r.Lines, r.CarriedReason)
	}
	diffs := []string{}
	seen := map[string]bool{}
	for _, r := range stored {
		seen[key(r)] = true
	}
	for _, r := range fresh {
		if !seen[key(r)] {
			diffs = append(diffs, "recomputed: "+key(r))
		}
	}
	if len(fresh) != len(stored) {
		diffs = append(diffs, fmt.Sprintf("%d statements stored, %d recomputed", len(stored), len(fresh)))
	}
	c.JSON(http.StatusOK, gin.H{"matches": len(diffs) == 0, "statements": len(fresh), "differences": diffs})
}

// exportStatements answers the close's statements as CSV, for finance.
func (s *Server) exportStatements(c *gin.Context) {
	id, err := pathID(c, "close")
	var rows []db.ListStatementsRow
	if err == nil {
		if _, err = s.store.GetClose(c.Request.Context(), id); errors.Is(err, pgx.ErrNoRows) {
			err = domain.NotFound("close")
		}
	}
	if err == nil {
		rows, err = s.store.ListStatements(c.Request.Context(), id)
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", fmt.Sprintf("attachment; filename=statements-%s.csv", id))
	w := csv.NewWriter(c.Writer)
	_ = w.Write([]string{"partner_id", "company", "currency", "carried_in", "commissions", "deal_margins", "mdf", "clawbacks", "adjustments", "total", "payable", "carried_out", "lines", "carried_reason"})
	for _, r := range rows {
		_ = w.Write([]string{r.PartnerID.String(), domain.CSVText(r.Company), r.Currency, r.CarriedIn.String(), r.Commissions.String(), r.DealMargins.String(), r.MDF.String(),
			r.Clawbacks.String(), r.Adjustments.String(), r.Total.String(), r.Payable.String(), r.CarriedOut.String(), fmt.Sprint(r.Lines), r.CarriedReason})
	}
	w.Flush()
}

// statementWithLines is a partner's statement with every line it holds.
type statementWithLines struct {
	db.PartnerStatementsRow
	LineItems []db.CommissionLine `json:"line_items"`
}

// partnerStatements reads the statements the request asks for: a partner its
// own (with every line); finance any partner's (partner_id), optionally one month.
func (s *Server) partnerStatements(c *gin.Context) ([]statementWithLines, error) {
	partnerID := caller(c).PartnerID
	if caller(c).Role != domain.RolePartner {
		id, err := queryUUID(c, "partner_id")
		if err != nil || !id.Valid {
			return nil, newHTTPError(http.StatusBadRequest, "invalid", "partner_id (a UUID) is required", "partner_id")
		}
		partnerID = id.UUID
	}
	var month *domain.Date
	if v := c.Query("month"); v != "" {
		m, err := time.Parse("2006-01", v)
		if err != nil {
			return nil, newHTTPError(http.StatusBadRequest, "invalid", "month reads like 2026-11", "month")
		}
		month = &domain.Date{Time: m}
	}
	ctx := c.Request.Context()
	rows, err := s.store.PartnerStatements(ctx, db.PartnerStatementsParams{PartnerID: partnerID, Month: month})
	if err != nil {
		return nil, err
	}
	out := make([]statementWithLines, len(rows))
	for i, r := range rows {
		lines, err := s.store.StatementLines(ctx, db.StatementLinesParams{CloseID: uuid.NullUUID{UUID: r.CloseID, Valid: true}, PartnerID: partnerID})
		if err != nil {
			return nil, err
		}
		out[i] = statementWithLines{r, lines}
	}
	return out, nil
}

func (s *Server) statements(c *gin.Context) {
	out, err := s.partnerStatements(c)
	if err != nil {
		s.abort(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"data": out, "has_more": false}) // whole: one statement per close
}

// statementsCSV is the same statements as CSV, one row per line (for a
// partner's own books); text cells are formula-safe.
func (s *Server) statementsCSV(c *gin.Context) {
	out, err := s.partnerStatements(c)
	if err != nil {
		s.abort(c, err)
		return
	}
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", "attachment; filename=statements.csv")
	w := csv.NewWriter(c.Writer)
	_ = w.Write([]string{"month", "close_status", "statement_total", "statement_payable", "line_id", "kind", "description", "occurred_at", "amount", "currency", "status"})
	for _, st := range out {
		for _, l := range st.LineItems {
			_ = w.Write([]string{st.Month.String(), st.CloseStatus, st.Total.String(), st.Payable.String(), l.ID.String(), l.Kind, domain.CSVText(l.Description),
				l.OccurredAt.UTC().Format(time.RFC3339), l.Amount.String(), l.Currency, l.Status})
		}
	}
	w.Flush()
}
