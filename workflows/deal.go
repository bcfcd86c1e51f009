package workflows

// Deal registration, one workflow per deal (ID deal-<id>):
//
//	conflict check ──exact match on a protected deal or a customer──▶ rejected
//	      │
//	pending_approval ──approve──▶ approved (protected until expiry) ──win──▶ won_reported ──confirm-won──▶ won (margin line)
//	      │  SLA: reminder, escalation at 2×, auto-decision at 3×  │            (a manager's win, or one within the program's
//	      │                                                        │             auto-confirm %, is won at once; reject-won → approved)
//	      │                                                        │ ──lose──▶ lost
//	      └──reject──▶ rejected                                     │ ──expiry──▶ expired (customer free)
//	                                                               └─ reminders 14 and 3 days before expiry;
//	                                                                  extension: request → approve (+30 days) / reject
//
// Decisions arrive as Updates (the API) or Signals (Temporal UI/CLI) with the same
// names and payloads, through the same validation. Handlers only queue the
// message; the main loop writes each change, so the history reads as the process.

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/partnerops/partnerops/activities"
	"github.com/partnerops/partnerops/domain"
	"github.com/partnerops/partnerops/workflows/ids"
)

// Messages the deal workflow accepts, each as an Update and as a Signal.
const (
	DealApprove          = "approve"
	DealReject           = "reject"
	DealRequestExtension = "request-extension"
	DealApproveExtension = "approve-extension"
	DealRejectExtension  = "reject-extension"
	DealSetStage         = "set-stage"
	DealWin              = "win"
	DealConfirmWon       = "confirm-won"
	DealRejectWon        = "reject-won"
	DealLose             = "lose"
	DealStatusQuery      = "status"
)

type DealInput struct {
	DealID    uuid.UUID `json:"deal_id"`
	PartnerID uuid.UUID `json:"partner_id"`
	ProgramID uuid.UUID `json:"program_id"`
}

// DealDecision approves (optionally with a negotiated margin) or rejects (with a reason).
type DealDecision struct {
	Actor  string           `json:"actor"`
	Reason string           `json:"reason,omitempty"`
	Margin *decimal.Decimal `json:"margin,omitempty"`
}

// ExtensionDecision approves an extension (Days, default the program's) or rejects it.
type ExtensionDecision struct {
	Actor  string `json:"actor"`
	Reason string `json:"reason,omitempty"`
	Days   int    `json:"days,omitempty"`
}

// DealUpdate is a partner's or manager's move: a stage, a request, or the close.
// Confirmed marks a win reported by the vendor's own manager (no confirmation
// needed); a partner's win waits for one.
type DealUpdate struct {
	Actor       string           `json:"actor"`
	Stage       string           `json:"stage,omitempty"`
	Reason      string           `json:"reason,omitempty"`
	FinalAmount *decimal.Decimal `json:"final_amount,omitempty"`
	Confirmed   bool             `json:"confirmed,omitempty"`
}

// WonDecision confirms a reported win (at FinalAmount, default the reported
// amount) or rejects the report (with a reason; the deal stays protected).
type WonDecision struct {
	Actor       string           `json:"actor"`
	Reason      string           `json:"reason,omitempty"`
	FinalAmount *decimal.Decimal `json:"final_amount,omitempty"`
}

// DealState is the workflow's state and what the status query answers.
type DealState struct {
	Status           string                 `json:"status"`
	Stage            string                 `json:"stage"`
	Policy           activities.DealPolicy  `json:"policy"`
	Conflicts        domain.ConflictVerdict `json:"conflicts"`
	Margin           *decimal.Decimal       `json:"margin,omitempty"`
	ProtectedUntil   *time.Time             `json:"protected_until,omitempty"`
	ExtensionsUsed   int                    `json:"extensions_used"`
	PendingExtension *DealUpdate            `json:"pending_extension,omitempty"`
	ReportedWon      *DealUpdate            `json:"reported_won,omitempty"` // a partner's win waiting for confirmation
	RemindersSent    []string               `json:"reminders_sent"`
	EventSeq         int                    `json:"event_seq"`
}

type dealWorkflow struct {
	in    DealInput
	state DealState
	inbox *inbox
}

func DealWorkflow(ctx workflow.Context, in DealInput) (DealState, error) {
	w := &dealWorkflow{in: in, inbox: newInbox(),
		state: DealState{Status: domain.DealPendingApproval, RemindersSent: []string{}, Conflicts: domain.ConflictVerdict{Flags: []domain.Match{}}}}
	if err := w.setup(ctx); err != nil {
		return DealState{}, err
	}
	return w.run(ctx)
}

func (w *dealWorkflow) setup(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, DealStatusQuery, func() (DealState, error) { return w.state, nil }); err != nil {
		return err
	}
	state := func() DealState { return w.state }
	errs := []error{
		serve(ctx, w.inbox, DealApprove, func(d DealDecision) error { return w.validateDecision(true, d) }, state),
		serve(ctx, w.inbox, DealReject, func(d DealDecision) error { return w.validateDecision(false, d) }, state),
		serve(ctx, w.inbox, DealApproveExtension, func(e ExtensionDecision) error { return w.validateExtensionDecision(true, e) }, state),
		serve(ctx, w.inbox, DealRejectExtension, func(e ExtensionDecision) error { return w.validateExtensionDecision(false, e) }, state),
	}
	for _, name := range []string{DealRequestExtension, DealSetStage, DealWin, DealLose} {
		errs = append(errs, serve(ctx, w.inbox, name, func(u DealUpdate) error { return w.validateUpdate(name, u) }, state))
	}
	for _, name := range []string{DealConfirmWon, DealRejectWon} {
		errs = append(errs, serve(ctx, w.inbox, name, func(d WonDecision) error { return w.validateWonDecision(name, d) }, state))
	}
	return errors.Join(errs...)
}

func (w *dealWorkflow) run(ctx workflow.Context) (DealState, error) {
	ctx = workflow.WithActivityOptions(ctx, defaultActivityOptions)
	var a *activities.Activities

	if err := workflow.ExecuteActivity(summarized(ctx, "load the program's deal SLA, stages and the tier's protection"), a.LoadDealPolicy, w.in.DealID).Get(ctx, &w.state.Policy); err != nil {
		return w.state, fmt.Errorf("load deal policy: %w", err)
	}
	w.state.Stage = w.state.Policy.Stages[0].Name

	// Conflict check: an exact match on another partner's protected deal, or on an
	// existing customer, rejects at once; near matches wait for the approver.
	if err := workflow.ExecuteActivity(summarized(ctx, "check conflicts with open deals and existing customers"), a.CheckDealConflicts, w.in.DealID).Get(ctx, &w.state.Conflicts); err != nil {
		return w.state, fmt.Errorf("check conflicts: %w", err)
	}
	if w.state.Conflicts.Reject {
		w.end(ctx, domain.DealRejected, "system:conflict-check", w.state.Conflicts.Reason)
		return w.finish(ctx)
	}

	// Approval within the SLA: a reminder at the SLA, an escalation at twice it,
	// and the program's auto-decision (if any) at three times.
	if done := w.awaitApproval(ctx); done {
		return w.finish(ctx)
	}

	// Protected: stage moves, extensions and the close, until it expires.
	for {
		if done := w.processInbox(ctx); done {
			return w.finish(ctx)
		}
		if w.state.Status == domain.DealWonReported {
			// Still protected, no expiry, until a manager confirms or rejects the win.
			key := fmt.Sprintf("deal_won_confirmation_reminder_%d", w.state.EventSeq)
			if messages, _ := awaitUntil(ctx, w.state.Policy.ApprovalSLA, "a manager to confirm the reported win", "confirm the reported win: remind managers if undecided", w.inbox.pending); !messages && !slices.Contains(w.state.RemindersSent, key) {
				w.state.RemindersSent = append(w.state.RemindersSent, key)
				w.notify(ctx, key, "manager", "A won deal waits for confirmation: "+w.state.ReportedWon.FinalAmount.StringFixed(domain.MinorUnits(w.state.Policy.Currency))+" "+w.state.Policy.Currency)
			}
			continue
		}
		now := workflow.Now(ctx)
		next, summary, reminder := w.nextDeadline(now)
		if messages, _ := awaitUntil(ctx, next.Sub(now), "the partner's next move while protected (stage, extension, won or lost)", summary, w.inbox.pending); messages {
			continue
		}
		if reminder != "" {
			w.state.RemindersSent = append(w.state.RemindersSent, reminder)
			w.notifyPartner(ctx, reminder, fmt.Sprintf("Your protection of this deal expires on %s: extend it or close it", w.state.ProtectedUntil.Format(time.DateOnly)))
			continue
		}
		w.end(ctx, domain.DealExpired, "system", "protection expired on "+w.state.ProtectedUntil.Format(time.DateOnly)+"; the customer is free again")
		return w.finish(ctx)
	}
}

// awaitApproval runs the approval step; it reports whether the deal has ended.
func (w *dealWorkflow) awaitApproval(ctx workflow.Context) bool {
	decided := func() bool { return w.hasDecision() }
	sla := w.state.Policy.ApprovalSLA
	steps := []struct {
		summary string
		act     func()
	}{
		{"deal approval SLA: remind managers if still undecided", func() {
			w.notify(ctx, "deal_approval_reminder", "manager", "Deal registration waiting for approval for "+sla.String())
		}},
		{"twice the approval SLA: escalate if still undecided", func() {
			w.notify(ctx, "deal_approval_escalation", "admin", "Deal registration undecided after "+(2*sla).String())
		}},
	}
	if auto := w.state.Policy.AutoDecision; auto == "approve" || auto == "reject" {
		steps = append(steps, struct {
			summary string
			act     func()
		}{"three times the approval SLA: auto-" + auto, func() {
			w.inbox.add(map[bool]string{true: DealApprove, false: DealReject}[auto == "approve"],
				DealDecision{Actor: "system:auto-decision", Reason: "no decision within three times the approval SLA"})
		}})
	}
	for _, s := range steps {
		if decided() {
			break
		}
		if ok, _ := awaitUntil(ctx, sla, "a manager's decision", s.summary, decided); !ok {
			s.act()
		}
	}
	_ = await(ctx, "a manager's decision (reminded and escalated)", decided)
	return w.processInbox(ctx)
}

func (w *dealWorkflow) hasDecision() bool { return w.inbox.has(DealApprove, DealReject, DealLose) }

// processInbox carries out queued messages in order; it reports whether the deal ended.
func (w *dealWorkflow) processInbox(ctx workflow.Context) bool {
	for w.inbox.pending() {
		m := w.inbox.pop()
		before := w.state
		ended, err := w.apply(m.traced(ctx), m)
		if failed := recordFailure(err); failed != nil && !ended {
			// The database refused the change: the deal stays as it was, the failed
			// activity stays in the history for the operator, and the caller is told.
			seq := w.state.EventSeq
			w.state = before
			w.state.EventSeq = seq
			w.upsertStatus(ctx)
			ended, err = false, failed
		}
		w.inbox.done(m, err)
		if ended {
			return true
		}
	}
	return false
}

func (w *dealWorkflow) apply(ctx workflow.Context, m message) (ended bool, refused error) {
	now := workflow.Now(ctx)
	switch m.name {
	case DealApprove:
		d := m.payload.(DealDecision)
		until := now.AddDate(0, 0, w.state.Policy.ProtectionDays)
		err := w.record(ctx, activities.DealChange{Kind: activities.DealChangeApproved, Actor: d.Actor, Reason: d.Reason, Margin: d.Margin, ProtectedUntil: until})
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && appErr.Type() == activities.ErrAlreadyProtected {
			// Another partner's registration was approved first: first approved wins.
			w.end(ctx, domain.DealRejected, "system:conflict-check", "already registered: another partner's deal for this customer was approved first")
			return true, messageError(domain.Conflict("already_protected", "another partner's deal for this customer was approved first"))
		}
		if err != nil {
			return false, err
		}
		w.state.Status, w.state.Margin, w.state.ProtectedUntil = domain.DealApproved, d.Margin, &until
		w.upsertStatus(ctx)
	case DealReject:
		d := m.payload.(DealDecision)
		return w.end(ctx, domain.DealRejected, d.Actor, d.Reason)
	case DealSetStage:
		u := m.payload.(DealUpdate)
		w.state.Stage = u.Stage
		return false, w.record(ctx, activities.DealChange{Kind: activities.DealChangeStage, Actor: u.Actor, Stage: u.Stage, Reason: "moved to " + u.Stage})
	case DealRequestExtension:
		u := m.payload.(DealUpdate)
		w.state.PendingExtension = &u
		if err := w.record(ctx, activities.DealChange{Kind: activities.DealChangeExtensionRequested, Actor: u.Actor, Reason: u.Reason}); err != nil {
			return false, err
		}
		w.notify(ctx, fmt.Sprintf("deal_extension_requested_%d", w.state.ExtensionsUsed+1), "manager", "Extension requested: "+u.Reason)
	case DealApproveExtension:
		e := m.payload.(ExtensionDecision)
		days := e.Days
		if days == 0 {
			days = w.state.Policy.ExtensionDays
		}
		until := w.state.ProtectedUntil.AddDate(0, 0, days)
		w.state.ProtectedUntil, w.state.PendingExtension = &until, nil
		w.state.ExtensionsUsed++
		if err := w.record(ctx, activities.DealChange{Kind: activities.DealChangeExtended, Actor: e.Actor, Reason: fmt.Sprintf("+%d days, until %s", days, until.Format(time.DateOnly)),
			ProtectedUntil: until, ExtensionsUsed: w.state.ExtensionsUsed}); err != nil {
			return false, err
		}
		w.upsertStatus(ctx)
	case DealRejectExtension:
		e := m.payload.(ExtensionDecision)
		w.state.PendingExtension = nil
		w.state.ExtensionsUsed++ // a rejected request uses up the allowance too
		return false, w.record(ctx, activities.DealChange{Kind: activities.DealChangeExtensionRejected, Actor: e.Actor, Reason: e.Reason})
	case DealWin:
		u := m.payload.(DealUpdate)
		// Histories from before confirmation existed: a win was won at once.
		if workflow.GetVersion(ctx, "won-needs-confirmation", workflow.DefaultVersion, 1) == workflow.DefaultVersion ||
			u.Confirmed || domain.AutoConfirmWon(*u.FinalAmount, w.state.Policy.EstimatedValue, w.state.Policy.WonAutoConfirmPercent) {
			reason := ""
			if !u.Confirmed && w.state.Policy.WonAutoConfirmPercent != nil {
				reason = fmt.Sprintf(" (auto-confirmed: within %s%% of the estimate)", w.state.Policy.WonAutoConfirmPercent.String())
			}
			return w.win(ctx, u.Actor, *u.FinalAmount, reason)
		}
		cur := w.state.Policy.Currency
		w.state.Status, w.state.ReportedWon = domain.DealWonReported, &u
		if err := w.record(ctx, activities.DealChange{Kind: activities.DealChangeWonReported, Actor: u.Actor, FinalAmount: u.FinalAmount,
			Reason: fmt.Sprintf("reported won at %s %s; waiting for a manager to confirm", u.FinalAmount.StringFixed(domain.MinorUnits(cur)), cur)}); err != nil {
			return false, err
		}
		w.upsertStatus(ctx)
		w.notify(ctx, fmt.Sprintf("deal_won_reported_%d", w.state.EventSeq), "manager", "A partner reports a deal won at "+u.FinalAmount.StringFixed(domain.MinorUnits(cur))+" "+cur+": confirm it")
	case DealConfirmWon:
		d := m.payload.(WonDecision)
		amount := *w.state.ReportedWon.FinalAmount
		if d.FinalAmount != nil {
			amount = *d.FinalAmount
		}
		return w.win(ctx, d.Actor, amount, " (confirmed; reported "+w.state.ReportedWon.FinalAmount.StringFixed(domain.MinorUnits(w.state.Policy.Currency))+")")
	case DealRejectWon:
		d := m.payload.(WonDecision)
		w.state.Status, w.state.ReportedWon = domain.DealApproved, nil
		if err := w.record(ctx, activities.DealChange{Kind: activities.DealChangeWonRejected, Actor: d.Actor, Reason: d.Reason}); err != nil {
			return false, err
		}
		w.upsertStatus(ctx)
		w.notifyPartner(ctx, fmt.Sprintf("deal_won_rejected_%d", w.state.EventSeq), "Your won report was not confirmed: "+d.Reason)
	case DealLose:
		u := m.payload.(DealUpdate)
		return w.end(ctx, domain.DealLost, u.Actor, u.Reason)
	}
	return false, nil
}

// win closes the deal as won at amount and books the partner's margin line.
func (w *dealWorkflow) win(ctx workflow.Context, actor string, amount decimal.Decimal, note string) (bool, error) {
	cur := w.state.Policy.Currency
	margin := domain.DealMargin(amount, w.state.Margin, w.state.Policy.TierDefaultMargin, cur)
	w.state.Status, w.state.ReportedWon = domain.DealWon, nil
	if err := w.record(ctx, activities.DealChange{Kind: activities.DealChangeWon, Actor: actor, Reason: fmt.Sprintf("won at %s %s; margin %s%s", amount.StringFixed(domain.MinorUnits(cur)), cur, margin.StringFixed(domain.MinorUnits(cur)), note),
		FinalAmount: &amount, MarginAmount: &margin}); err != nil {
		return false, err
	}
	w.upsertStatus(ctx)
	return true, nil
}

// nextDeadline is the next timer while protected: a reminder not yet sent for
// the current expiry date, else the expiry itself.
func (w *dealWorkflow) nextDeadline(now time.Time) (at time.Time, summary, reminder string) {
	until := *w.state.ProtectedUntil
	for _, lead := range domain.ExpiryReminderLeads {
		key := fmt.Sprintf("deal_expiry_reminder_%s_%dd", until.Format(time.DateOnly), int(lead.Hours()/24))
		if !slices.Contains(w.state.RemindersSent, key) && until.Add(-lead).After(now) {
			return until.Add(-lead), fmt.Sprintf("remind the partner %d days before protection expires", int(lead.Hours()/24)), key
		}
	}
	return until, "protection expires " + until.Format(time.DateOnly) + ": release the customer", ""
}

// --- validation ---

func (w *dealWorkflow) validateDecision(approve bool, d DealDecision) error {
	if w.state.Status != domain.DealPendingApproval || w.hasDecision() {
		return messageError(domain.Conflict("already_decided", "the deal is no longer waiting for approval (status %s)", w.state.Status))
	}
	if d.Actor == "" {
		return messageError(domain.Invalid("actor", "required", "actor is required"))
	}
	if !approve && d.Reason == "" {
		return messageError(domain.Invalid("reason", "required", "a rejection needs a reason"))
	}
	if d.Margin != nil && (d.Margin.IsNegative() || d.Margin.GreaterThan(decimal.NewFromInt(1)) || d.Margin.Exponent() < -4) {
		return messageError(domain.Invalid("margin", "invalid", "margin is a fraction from 0 to 1 (0.18 is 18%%), at most 4 decimals"))
	}
	return nil
}

func (w *dealWorkflow) validateExtensionDecision(approve bool, e ExtensionDecision) error {
	if w.state.PendingExtension == nil || w.queued(DealApproveExtension, DealRejectExtension) {
		return messageError(domain.Conflict("no_extension_requested", "there is no extension request waiting for a decision"))
	}
	if e.Actor == "" {
		return messageError(domain.Invalid("actor", "required", "actor is required"))
	}
	if !approve && e.Reason == "" {
		return messageError(domain.Invalid("reason", "required", "a rejection needs a reason"))
	}
	if e.Days < 0 || e.Days > 365 {
		return messageError(domain.Invalid("days", "invalid", "days must be from 1 to 365"))
	}
	return nil
}

func (w *dealWorkflow) validateUpdate(name string, u DealUpdate) error {
	open := w.state.Status == domain.DealPendingApproval || w.state.Status == domain.DealApproved
	if u.Actor == "" {
		return messageError(domain.Invalid("actor", "required", "actor is required"))
	}
	switch name {
	case DealSetStage:
		if w.state.Status != domain.DealApproved || w.queued(DealWin, DealLose) {
			return messageError(domain.Conflict("not_protected", "stages move once the deal is approved (status %s)", w.state.Status))
		}
		if !w.validStage(u.Stage) {
			return messageError(domain.Invalid("stage", "unknown_stage", "stage must be one of the program's stages: %s", w.stageNames()))
		}
	case DealRequestExtension:
		if w.state.Status != domain.DealApproved || w.queued(DealWin, DealLose) {
			return messageError(domain.Conflict("not_protected", "only a protected deal can be extended (status %s)", w.state.Status))
		}
		if w.state.PendingExtension != nil || w.queued(DealRequestExtension) {
			return messageError(domain.Conflict("extension_pending", "an extension request is already waiting for a decision"))
		}
		if w.state.ExtensionsUsed >= w.state.Policy.MaxExtensions {
			return messageError(domain.Conflict("no_extensions_left", "this deal has used its %d extension(s)", w.state.Policy.MaxExtensions))
		}
		if u.Reason == "" {
			return messageError(domain.Invalid("reason", "required", "an extension request needs a reason"))
		}
	case DealWin:
		if w.state.Status == domain.DealWonReported || w.queued(DealWin) {
			return messageError(domain.Conflict("won_reported", "the deal's win is already reported and waits for confirmation"))
		}
		if w.state.Status != domain.DealApproved || w.queued(DealWin, DealLose) {
			return messageError(domain.Conflict("not_protected", "only a protected deal can be won (status %s)", w.state.Status))
		}
		if u.FinalAmount == nil || !domain.ValidAmount(*u.FinalAmount, w.state.Policy.Currency) {
			return messageError(domain.Invalid("final_amount", "invalid", "final_amount must be a positive amount in %s", w.state.Policy.Currency))
		}
	case DealLose:
		if !open || w.queued(DealWin, DealLose) {
			return messageError(domain.Conflict("deal_closed", "the deal is %s", w.state.Status))
		}
		if u.Reason == "" {
			return messageError(domain.Invalid("reason", "required", "a lost deal needs a reason"))
		}
	}
	return nil
}

func (w *dealWorkflow) validateWonDecision(name string, d WonDecision) error {
	if w.state.Status != domain.DealWonReported || w.queued(DealConfirmWon, DealRejectWon) {
		return messageError(domain.Conflict("no_won_report", "no reported win waits for confirmation (status %s)", w.state.Status))
	}
	if d.Actor == "" {
		return messageError(domain.Invalid("actor", "required", "actor is required"))
	}
	if name == DealRejectWon && d.Reason == "" {
		return messageError(domain.Invalid("reason", "required", "rejecting a reported win needs a reason"))
	}
	if d.FinalAmount != nil && !domain.ValidAmount(*d.FinalAmount, w.state.Policy.Currency) {
		return messageError(domain.Invalid("final_amount", "invalid", "final_amount must be a positive amount in %s", w.state.Policy.Currency))
	}
	return nil
}

func (w *dealWorkflow) queued(names ...string) bool { return w.inbox.has(names...) }

func (w *dealWorkflow) validStage(s string) bool {
	for _, st := range w.state.Policy.Stages {
		if st.Name == s {
			return true
		}
	}
	return false
}

func (w *dealWorkflow) stageNames() string {
	names := make([]string, len(w.state.Policy.Stages))
	for i, st := range w.state.Policy.Stages {
		names[i] = st.Name
	}
	return strings.Join(names, ", ")
}

// --- durable steps ---

func (w *dealWorkflow) record(ctx workflow.Context, c activities.DealChange) error {
	var a *activities.Activities
	w.state.EventSeq++
	c.DealID = w.in.DealID
	c.EventKey = fmt.Sprintf("%s/%d/%s", ids.Deal(w.in.DealID), w.state.EventSeq, c.Kind)
	c.At = workflow.Now(ctx)
	summary := string(c.Kind) + " by " + c.Actor
	if c.Reason != "" {
		summary += ": " + c.Reason
	}
	return workflow.ExecuteActivity(summarized(ctx, summary), a.RecordDealChange, c).Get(ctx, nil)
}

// end closes the deal as rejected, lost or expired; it reports whether it did
// (false with the error when the database refused the change).
// The status flips first, so messages validated meanwhile see the deal as closed.
func (w *dealWorkflow) end(ctx workflow.Context, status, actor, reason string) (bool, error) {
	w.state.Status = status
	// The ending statuses (rejected, lost, expired) are also the changes' kinds.
	if err := w.record(ctx, activities.DealChange{Kind: activities.DealChangeKind(status), Actor: actor, Reason: reason}); err != nil {
		return false, err
	}
	w.upsertStatus(ctx)
	return true, nil
}

func (w *dealWorkflow) upsertStatus(ctx workflow.Context) {
	updates := []temporal.SearchAttributeUpdate{SAStatus.ValueSet(w.state.Status)}
	if w.state.Status == domain.DealApproved && w.state.ProtectedUntil != nil {
		updates = append(updates, SAExpiresAt.ValueSet(*w.state.ProtectedUntil))
	}
	_ = workflow.UpsertTypedSearchAttributes(ctx, updates...)
}

func (w *dealWorkflow) notify(ctx workflow.Context, kind, recipient, message string) {
	var a *activities.Activities
	_ = workflow.ExecuteActivity(summarized(ctx, kind+" to "+recipient), a.Notify, activities.Notification{
		DedupeKey: ids.Deal(w.in.DealID) + "/" + kind, Kind: kind, Recipient: recipient,
		SubjectType: "deal", SubjectID: w.in.DealID, Message: message,
	}).Get(ctx, nil)
}

func (w *dealWorkflow) notifyPartner(ctx workflow.Context, key, message string) {
	w.notify(ctx, key, w.in.PartnerID.String(), message)
}

// finish answers every waiting Update before the workflow ends.
func (w *dealWorkflow) finish(ctx workflow.Context) (DealState, error) {
	finished(ctx, w.state.Status)
	w.inbox.close(messageError(domain.Conflict("deal_closed", "the deal is %s", w.state.Status)))
	return w.state, workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
}
