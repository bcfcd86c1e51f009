package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/shopspring/decimal"
	"go.temporal.io/sdk/temporal"

	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
	"github.com/partnerops/partnerops/workflows/ids"
)

// DealPolicy is what the deal process needs of its program and tier, read once.
type DealPolicy struct {
	ApprovalSLA       time.Duration   `json:"approval_sla"`
	AutoDecision      string          `json:"auto_decision"` // none, approve, reject
	MaxExtensions     int             `json:"max_extensions"`
	ExtensionDays     int             `json:"extension_days"`
	ProtectionDays    int             `json:"protection_days"`
	Stages            []domain.Stage  `json:"stages"`
	Currency          string          `json:"currency"`
	TierDefaultMargin decimal.Decimal `json:"tier_default_margin"`
	// EstimatedValue and WonAutoConfirmPercent decide whether a reported win needs a
	// manager: nil percent means always.
	EstimatedValue        decimal.Decimal  `json:"estimated_value"`
	WonAutoConfirmPercent *decimal.Decimal `json:"won_auto_confirm_percent,omitempty"`
}

// ErrAlreadyProtected is the ApplicationError type when another deal already
// protects the customer (the database's one-protected-deal-per-customer rule).
const ErrAlreadyProtected = "already_protected"

func (a *Activities) LoadDealPolicy(ctx context.Context, dealID uuid.UUID) (DealPolicy, error) {
	d, err := a.Store.GetDeal(ctx, dealID)
	if errors.Is(err, pgx.ErrNoRows) { // started after its row commits: it never appears later
		return DealPolicy{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("deal %s does not exist", dealID), "not_found", err)
	}
	if err != nil {
		return DealPolicy{}, fmt.Errorf("load deal %s: %w", dealID, err)
	}
	prog, err := a.Store.GetProgram(ctx, d.ProgramID)
	if err != nil {
		return DealPolicy{}, fmt.Errorf("load program: %w", err)
	}
	tier, err := a.Store.GetTier(ctx, d.TierID)
	if err != nil {
		return DealPolicy{}, fmt.Errorf("load tier: %w", err)
	}
	var stages []domain.Stage
	if err := json.Unmarshal(prog.DealStages, &stages); err != nil {
		return DealPolicy{}, temporal.NewNonRetryableApplicationError("program deal stages are not valid JSON", "invalid", err)
	}
	return DealPolicy{
		ApprovalSLA: time.Duration(prog.DealApprovalSLAHours) * time.Hour, AutoDecision: prog.DealAutoDecision,
		MaxExtensions: int(prog.DealMaxExtensions), ExtensionDays: int(prog.DealExtensionDays),
		ProtectionDays: int(tier.DealProtectionDays), Stages: stages, Currency: d.Currency, TierDefaultMargin: tier.DefaultMargin.Decimal,
		EstimatedValue: d.EstimatedValue.Decimal, WonAutoConfirmPercent: prog.DealWonAutoConfirmPercent.Ptr(),
	}, nil
}

// CheckDealConflicts compares the deal with open and protected registrations of
// every partner and with the vendor's customers, stores what it found on the deal
// for the approver, and returns the verdict.
func (a *Activities) CheckDealConflicts(ctx context.Context, dealID uuid.UUID) (domain.ConflictVerdict, error) {
	d, err := a.Store.GetDeal(ctx, dealID)
	if err != nil {
		return domain.ConflictVerdict{}, fmt.Errorf("load deal %s: %w", dealID, err)
	}
	deals, err := a.Store.FindDealCandidates(ctx, db.FindDealCandidatesParams{ID: d.ID, Domain: d.CustomerDomain, Name: d.CustomerNameNormalized, Country: d.Country})
	if err != nil {
		return domain.ConflictVerdict{}, fmt.Errorf("find deal candidates: %w", err)
	}
	customers, err := a.Store.FindCustomerCandidates(ctx, db.FindCustomerCandidatesParams{Domain: d.CustomerDomain, Name: d.CustomerNameNormalized, Country: d.Country})
	if err != nil {
		return domain.ConflictVerdict{}, fmt.Errorf("find customer candidates: %w", err)
	}
	existing := make([]domain.Registration, 0, len(deals)+len(customers))
	for _, c := range customers {
		existing = append(existing, domain.Registration{Kind: "customer", ID: c.ID.String(), Name: c.NameNormalized, Domain: c.Domain, Country: c.Country})
	}
	for _, o := range deals {
		existing = append(existing, domain.Registration{Kind: "deal", ID: o.ID.String(), PartnerID: o.PartnerID.String(), Status: o.Status,
			Name: o.CustomerNameNormalized, Domain: o.CustomerDomain, Country: o.Country})
	}
	v := domain.JudgeConflicts(d.PartnerID.String(), domain.MatchRegistration(d.CustomerNameNormalized, d.CustomerDomain, d.Country, existing))
	flags, _ := json.Marshal(v.Flags)
	if err := a.Store.SetDealConflicts(ctx, db.SetDealConflictsParams{ID: d.ID, Conflicts: flags}); err != nil {
		return v, fmt.Errorf("store conflicts: %w", err)
	}
	return v, nil
}

// DealChangeKind names a step of the deal process: the workflow records it, RecordDealChange
// carries it out, and it is the kind of the timeline event. One list, shared.
type DealChangeKind string

const (
	DealChangeApproved           DealChangeKind = "approved"
	DealChangeRejected           DealChangeKind = "rejected"
	DealChangeLost               DealChangeKind = "lost"
	DealChangeExpired            DealChangeKind = "expired"
	DealChangeStage              DealChangeKind = "stage"
	DealChangeExtensionRequested DealChangeKind = "extension_requested"
	DealChangeExtended           DealChangeKind = "extended"
	DealChangeExtensionRejected  DealChangeKind = "extension_rejected"
	DealChangeWonReported        DealChangeKind = "won_reported"
	DealChangeWonRejected        DealChangeKind = "won_rejected"
	DealChangeWon                DealChangeKind = "won"
)

// DealChange is one step of a deal, written with its timeline event in one
// transaction; EventKey makes a retry write nothing new.
type DealChange struct {
	DealID   uuid.UUID      `json:"deal_id"`
	EventKey string         `json:"event_key"`
	Kind     DealChangeKind `json:"kind"` // approved, rejected, stage, extension_requested, extended, extension_rejected, won, lost, expired
	Actor    string         `json:"actor"`
	Reason   string         `json:"reason"`
	At       time.Time      `json:"at"`

	Margin         *decimal.Decimal `json:"margin,omitempty"`          // approved: negotiated margin
	ProtectedUntil time.Time        `json:"protected_until,omitempty"` // approved, extended
	ExtensionsUsed int              `json:"extensions_used,omitempty"` // extended
	Stage          string           `json:"stage,omitempty"`           // stage
	FinalAmount    *decimal.Decimal `json:"final_amount,omitempty"`    // won
	MarginAmount   *decimal.Decimal `json:"margin_amount,omitempty"`   // won: the partner's margin line
}

// dealEventTypes: the deal changes webhook endpoints hear of.
var dealEventTypes = map[DealChangeKind]string{DealChangeApproved: "deal.approved", DealChangeRejected: "deal.rejected",
	DealChangeWon: "deal.won", DealChangeLost: "deal.lost", DealChangeExpired: "deal.expired"}

func (a *Activities) RecordDealChange(ctx context.Context, c DealChange) error {
	err := a.inTxWithEvents(ctx, func(q *db.Queries, ev *events) error {
		var err error
		switch c.Kind {
		case DealChangeApproved:
			err = q.ProtectDeal(ctx, db.ProtectDealParams{ID: c.DealID, Margin: domain.NewNullNumeric(c.Margin), ProtectedUntil: &c.ProtectedUntil})
		case DealChangeExtended:
			err = q.ExtendDeal(ctx, db.ExtendDealParams{ID: c.DealID, ProtectedUntil: &c.ProtectedUntil, ExtensionsUsed: int32(c.ExtensionsUsed)})
		case DealChangeStage:
			err = q.SetDealStage(ctx, db.SetDealStageParams{ID: c.DealID, Stage: c.Stage})
		case DealChangeRejected, DealChangeLost, DealChangeExpired:
			err = q.EndDeal(ctx, db.EndDealParams{ID: c.DealID, Status: string(c.Kind), CloseReason: &c.Reason})
		case DealChangeWon:
			err = a.winDeal(ctx, q, c)
		case DealChangeWonReported:
			if c.FinalAmount == nil {
				return temporal.NewNonRetryableApplicationError("won reported without an amount", ErrPermanent, nil)
			}
			err = q.ReportDealWon(ctx, db.ReportDealWonParams{ID: c.DealID, ReportedAmount: domain.NewNullNumeric(c.FinalAmount)})
		case DealChangeWonRejected:
			err = q.RejectWonReport(ctx, c.DealID)
		case DealChangeExtensionRequested, DealChangeExtensionRejected:
		default:
			return temporal.NewNonRetryableApplicationError("unknown deal change "+string(c.Kind), "invalid", nil)
		}
		if err != nil {
			return err
		}
		if err := q.RecordDealEvent(ctx, db.RecordDealEventParams{DealID: c.DealID, EventKey: c.EventKey, Kind: string(c.Kind), Actor: c.Actor, Reason: c.Reason, OccurredAt: c.At}); err != nil {
			return err
		}
		if t, ok := dealEventTypes[c.Kind]; ok {
			d, err := q.GetDeal(ctx, c.DealID)
			if err != nil {
				return err
			}
			return ev.publish(ctx, q, Event{ID: eventID(ids.Deal(c.DealID), c.EventKey, string(c.Kind)), Type: t, ProgramID: d.ProgramID,
				PartnerID: uuid.NullUUID{UUID: d.PartnerID, Valid: true}, Data: d, At: c.At})
		}
		return nil
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.ConstraintName == "deals_one_protected_per_customer" {
		return temporal.NewNonRetryableApplicationError("another deal already protects this customer", ErrAlreadyProtected, err)
	}
	if err != nil {
		return fmt.Errorf("record %s for deal %s: %w", c.Kind, c.DealID, err)
	}
	return nil
}

// winDeal closes the deal as won and books the partner's margin as a payable
// money line that the monthly close pays.
func (a *Activities) winDeal(ctx context.Context, q *db.Queries, c DealChange) error {
	if c.FinalAmount == nil || c.MarginAmount == nil {
		return temporal.NewNonRetryableApplicationError("won without amounts", "invalid", nil)
	}
	d, err := q.GetDeal(ctx, c.DealID)
	if err != nil {
		return err
	}
	if err := q.EndDeal(ctx, db.EndDealParams{ID: c.DealID, Status: domain.DealWon, CloseReason: &c.Reason, FinalAmount: domain.NewNullNumeric(c.FinalAmount)}); err != nil {
		return err
	}
	return q.CreateCommissionLine(ctx, db.CreateCommissionLineParams{
		ID: uuid.Must(uuid.NewV7()), ProgramID: d.ProgramID, PartnerID: d.PartnerID, Kind: "deal_margin",
		SourceType: "deal", SourceID: d.ID, Amount: domain.NewNumeric(*c.MarginAmount), Currency: d.Currency, Status: "payable",
		Description: fmt.Sprintf("margin on deal with %s (final amount %s %s)", d.CustomerName, c.FinalAmount.StringFixed(domain.MinorUnits(d.Currency)), d.Currency),
		OccurredAt:  c.At, DedupeKey: "deal/" + d.ID.String() + "/margin",
	})
}
