package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/partnerops/partnerops/starts"
	"io"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
	"github.com/partnerops/partnerops/workflows"
	"github.com/partnerops/partnerops/workflows/ids"
)

type MDFRequestBody struct {
	ActivityType     string           `json:"activity_type" validate:"required,oneof=event digital_ads content webinar tradeshow other"`
	Description      string           `json:"description" validate:"required,max=2000"`
	StartDate        string           `json:"start_date" validate:"required,datetime=2006-01-02"`
	EndDate          string           `json:"end_date" validate:"required,datetime=2006-01-02"`
	Amount           *Amount          `json:"amount" validate:"required"`
	Currency         string           `json:"currency" validate:"required"`
	ExpectedOutcomes map[string]int64 `json:"expected_outcomes" validate:"max=20"`
}

type MDFDecisionRequest struct {
	Reason string  `json:"reason" validate:"max=2000"`
	Amount *Amount `json:"amount"`
}

// MDFView is a request with its files, timeline and workflow.
type MDFView struct {
	db.MDFRequest
	Files    []db.MDFFile  `json:"files"`
	Timeline []db.MDFEvent `json:"timeline"`
}

// BalanceView is a partner's funds for one quarter, derived from the ledger.
type BalanceView struct {
	PartnerID uuid.UUID `json:"partner_id"`
	Quarter   string    `json:"quarter"`
	Currency  string    `json:"currency"`
	domain.MDFBalance
}

func (s *Server) quarterParam(q string) (string, error) {
	if q == "" {
		return domain.Quarter(time.Now()), nil
	}
	if _, _, ok := domain.QuarterBounds(q); !ok {
		return "", domain.Invalid("quarter", "invalid", "quarter reads like 2026-Q4")
	}
	return q, nil
}

func balanceView(ctx context.Context, q *db.Queries, partnerID uuid.UUID, quarter, currency string) (BalanceView, error) {
	b, err := q.Balances(ctx, partnerID, quarter)
	if err != nil {
		return BalanceView{}, err
	}
	return BalanceView{PartnerID: partnerID, Quarter: quarter, Currency: currency, MDFBalance: b.MDF(currency)}, nil
}

func (s *Server) getBalance(c *gin.Context) {
	quarter, err := s.quarterParam(c.Query("quarter"))
	if err != nil {
		s.abort(c, err)
		return
	}
	partnerID := caller(c).PartnerID
	if caller(c).Role != domain.RolePartner {
		id, perr := uuid.Parse(c.Query("partner_id"))
		if perr != nil {
			s.abort(c, newHTTPError(http.StatusBadRequest, "invalid", "partner_id (a UUID) is required", "partner_id"))
			return
		}
		partnerID = id
	}
	p, err := s.loadPartner(c.Request.Context(), partnerID)
	var prog db.Program
	if err == nil {
		prog, err = s.store.GetProgram(c.Request.Context(), p.ProgramID)
	}
	var b BalanceView
	if err == nil {
		b, err = balanceView(c.Request.Context(), s.store.Queries, p.ID, quarter, prog.Currency)
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	c.JSON(http.StatusOK, b)
}

func (s *Server) createMDFRequest(c *gin.Context) {
	var req MDFRequestBody
	body, err := s.readJSON(c, &req)
	var start, end time.Time
	if err == nil {
		start, _ = time.Parse(time.DateOnly, req.StartDate)
		end, _ = time.Parse(time.DateOnly, req.EndDate)
		switch {
		case strings.TrimSpace(req.Description) == "":
			err = domain.Invalid("description", "required", "description may not be blank")
		case end.Before(start):
			err = domain.Invalid("end_date", "invalid", "end_date must not be before start_date")
		case end.Sub(start) > 366*24*time.Hour:
			err = domain.Invalid("end_date", "invalid", "an activity lasts at most a year")
		}
		for k, v := range req.ExpectedOutcomes {
			if err == nil && (v < 0 || len(k) > 50) {
				err = domain.Invalid("expected_outcomes", "invalid", "expected outcomes are counts, such as {\"leads\": 50}")
			}
		}
	}
	var p db.Partner
	if err == nil {
		p, err = s.loadPartner(c.Request.Context(), caller(c).PartnerID)
	}
	if err == nil && p.Status != domain.StatusActive {
		err = domain.Forbidden("partner_not_active", "only an active partner can request funds; this partner is %s", strings.ReplaceAll(p.Status, "_", " "))
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	quarter := domain.Quarter(time.Now())
	s.write(c, body, func(ctx context.Context, q *db.Queries) (answer, error) {
		prog, err := q.GetProgram(ctx, p.ProgramID)
		if err != nil {
			return answer{}, err
		}
		if req.Currency != prog.Currency {
			return answer{}, domain.Invalid("currency", "wrong_currency", "this program's funds are in %s", prog.Currency)
		}
		if !domain.ValidAmount(req.Amount.Decimal, prog.Currency) {
			return answer{}, domain.Invalid("amount", "invalid", "amount must be a positive amount in %s", prog.Currency)
		}
		// The allocation row lock serialises concurrent requests: never more than is available.
		alloc, err := q.LockAllocation(ctx, db.LockAllocationParams{PartnerID: p.ID, Quarter: quarter})
		if errors.Is(err, pgx.ErrNoRows) {
			return answer{}, domain.Conflict("no_allocation", "there are no MDF funds allocated to this partner for %s", quarter)
		}
		if err != nil {
			return answer{}, err
		}
		if alloc.ExpiredAt != nil {
			return answer{}, domain.Conflict("quarter_expired", "the funds of %s have expired", quarter)
		}
		bal, err := q.Balances(ctx, p.ID, quarter)
		if err != nil {
			return answer{}, err
		}
		entry, err := domain.Reserve(bal, req.Amount.Decimal)
		var short *domain.ErrInsufficientFunds
		if errors.As(err, &short) {
			return answer{}, &httpError{status: http.StatusConflict, detail: ErrorDetail{Code: "insufficient_funds", Field: "amount",
				Message: fmt.Sprintf("only %s %s is available for %s", short.Available.StringFixed(domain.MinorUnits(prog.Currency)), prog.Currency, quarter)}}
		}
		if err != nil {
			return answer{}, err
		}
		id := uuid.Must(uuid.NewV7())
		outcomes, _ := json.Marshal(req.ExpectedOutcomes)
		r, err := q.CreateMDFRequest(ctx, db.CreateMDFRequestParams{ID: id, ProgramID: p.ProgramID, PartnerID: p.ID, TierID: p.TierID, Quarter: quarter,
			ActivityType: req.ActivityType, Description: strings.TrimSpace(req.Description), StartDate: domain.NewDate(start), EndDate: domain.NewDate(end),
			RequestedAmount: domain.NewNumeric(req.Amount.Decimal), Currency: prog.Currency, ExpectedOutcomes: outcomes, WorkflowID: ids.MDF(id)})
		if err != nil {
			return answer{}, err
		}
		if _, err := q.PostEntry(ctx, db.Posting{Key: "mdf/" + id.String() + "/reserve", PartnerID: p.ID, Quarter: quarter,
			RequestID: uuid.NullUUID{UUID: id, Valid: true}, Currency: prog.Currency, Memo: "reserved for " + req.ActivityType, At: time.Now()}, entry); err != nil {
			return answer{}, err
		}
		if err := starts.Record(ctx, q, workflows.MDFStart(workflows.MDFInput{RequestID: id, PartnerID: p.ID, Requested: req.Amount.Decimal, Currency: prog.Currency}, p.ProgramID, quarter,
			domain.MDFSummary(req.ActivityType, req.Amount.Decimal, prog.Currency, p.Company, quarter))); err != nil {
			return answer{}, err
		}
		return answer{Status: http.StatusCreated, Body: MDFView{MDFRequest: r, Files: []db.MDFFile{}, Timeline: []db.MDFEvent{}}}, nil
	})
}

// mdfFor loads the request in the path; a partner sees only its own (else 404).
func (s *Server) mdfFor(c *gin.Context) (db.MDFRequest, error) {
	return loadOwned(c, "MDF request", s.store.GetMDFRequest, func(r db.MDFRequest) uuid.UUID { return r.PartnerID })
}

func (s *Server) mdfView(ctx context.Context, q *db.Queries, id uuid.UUID) (MDFView, error) {
	r, err := q.GetMDFRequest(ctx, id)
	if err != nil {
		return MDFView{}, err
	}
	v := MDFView{MDFRequest: r}
	if v.Files, err = q.ListMDFFiles(ctx, id); err != nil {
		return v, err
	}
	v.Timeline, err = q.ListMDFEvents(ctx, id)
	return v, err
}

func (s *Server) getMDFRequest(c *gin.Context) {
	r, err := s.mdfFor(c)
	var v MDFView
	if err == nil {
		v, err = s.mdfView(c.Request.Context(), s.store.Queries, r.ID)
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

func (s *Server) listMDFRequests(c *gin.Context) {
	limit, after, err := s.pageParams(c)
	if err != nil {
		s.abort(c, err)
		return
	}
	params := db.ListMDFRequestsParams{Limit: limit, After: after, Status: queryString(c, "status"), Quarter: queryString(c, "quarter")}
	if params.PartnerID, err = queryUUID(c, "partner_id"); err == nil {
		params.ProgramID, err = queryUUID(c, "program_id")
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	if cl := caller(c); cl.Role == domain.RolePartner {
		params.PartnerID = uuid.NullUUID{UUID: cl.PartnerID, Valid: true}
	}
	rows, err := s.store.ListMDFRequests(c.Request.Context(), params)
	if err != nil {
		s.abort(c, err)
		return
	}
	c.JSON(http.StatusOK, page(rows, limit, func(r db.MDFRequest) uuid.UUID { return r.ID }))
}

// mdfDecision sends a JSON decision to the request's workflow as an Update.
func (s *Server) mdfDecision(name string) gin.HandlerFunc {
	return func(c *gin.Context) {
		r, err := s.mdfFor(c)
		var req MDFDecisionRequest
		var body []byte
		if err == nil {
			body, err = s.readJSON(c, &req)
		}
		if err != nil {
			s.abort(c, err)
			return
		}
		arg := workflows.MDFDecision{Actor: caller(c).Actor(), Reason: req.Reason, Amount: req.Amount.dec()}
		s.mdfMessage(c, r, name, body, req.Reason, nil, func(json.RawMessage) (any, error) { return arg, nil })
	}
}

// mdfMessage sends one message to the request's workflow and answers with the
// request as it stands afterwards.
func (s *Server) mdfMessage(c *gin.Context, r db.MDFRequest, name string, body []byte, reason string,
	prepare func(context.Context, *db.Queries, json.RawMessage) (json.RawMessage, error), arg func(json.RawMessage) (any, error)) {
	var st workflows.MDFState
	s.decide(c, decision{
		Record: "mdf_request", RecordID: r.ID, WorkflowID: r.WorkflowID, Update: name, Reason: reason, Body: body,
		Prepare: prepare, Arg: arg, Result: &st,
		Ended: func() error { return domain.Conflict("request_closed", "the request is %s", r.Status) },
		Answer: func(ctx context.Context, _ json.RawMessage) (answer, error) {
			v, err := s.mdfView(ctx, s.store.Queries, r.ID)
			return answer{Status: http.StatusOK, Body: v}, err
		},
	})
}

// Proof files: what a claim may carry.
var proofTypes = []string{"application/pdf", "image/png", "image/jpeg", "image/webp", "text/plain; charset=utf-8"}

const maxProofFiles = 10

type proofFile struct {
	name, contentType, sha string
	data                   []byte
}

// claimMDF takes a multipart claim: "amount", "results" (a JSON object of counts)
// and one or more "files". Files are checked (count, size, sniffed type), stored
// by their SHA-256, recorded, and the claim goes to the workflow as an Update.
func (s *Server) claimMDF(c *gin.Context) {
	r, err := s.mdfFor(c)
	if err != nil {
		s.abort(c, err)
		return
	}
	limit := s.cfg.MaxFileBytes*maxProofFiles + 1<<20
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
	if err := c.Request.ParseMultipartForm(8 << 20); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.abort(c, newHTTPError(http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("a claim may carry at most %d files of %d bytes", maxProofFiles, s.cfg.MaxFileBytes), "files"))
			return
		}
		s.abort(c, newHTTPError(http.StatusBadRequest, "invalid_form", "send the claim as multipart/form-data with amount, results and files", ""))
		return
	}
	defer c.Request.MultipartForm.RemoveAll()
	form := c.Request.MultipartForm
	for k := range form.Value {
		if k != "amount" && k != "results" {
			s.abort(c, domain.Invalid(k, "unknown_field", "unknown field %q", k))
			return
		}
	}
	for k := range form.File {
		if k != "files" {
			s.abort(c, domain.Invalid(k, "unknown_field", "unknown file field %q (use \"files\")", k))
			return
		}
	}
	amount, err := decimal.NewFromString(c.Request.FormValue("amount"))
	if err != nil {
		s.abort(c, domain.Invalid("amount", "invalid", "amount must be a decimal amount such as \"1250.00\""))
		return
	}
	if err := checkBound(amount, moneyBound, "amount"); err != nil {
		s.abort(c, err)
		return
	}
	results := map[string]int64{}
	if v := c.Request.FormValue("results"); v != "" {
		if err := json.Unmarshal([]byte(v), &results); err != nil || len(results) > 20 {
			s.abort(c, domain.Invalid("results", "invalid", "results must be a JSON object of counts, such as {\"leads\": 42, \"attendees\": 120}"))
			return
		}
		for k, n := range results {
			if !cleanText(k) || len(k) > 100 {
				s.abort(c, domain.Invalid("results", "invalid", "a result's name is text of at most 100 bytes"))
				return
			}
			if n < 0 {
				s.abort(c, domain.Invalid("results", "invalid", "results are counts and cannot be negative"))
				return
			}
		}
	}
	files, err := s.readProofFiles(form.File["files"])
	if err != nil {
		s.abort(c, err)
		return
	}
	ctx := c.Request.Context()
	for _, f := range files {
		if err := s.files.Put(ctx, f.sha, bytes.NewReader(f.data)); err != nil {
			s.abort(c, fmt.Errorf("store proof file: %w", err))
			return
		}
	}
	// What makes two claims the same for the Idempotency-Key: the values, not the
	// multipart encoding (whose boundary differs on every send).
	canonical := fmt.Sprintf("amount=%s\nresults=%v\n", amount.String(), results)
	for _, f := range files {
		canonical += f.sha + "\n"
	}
	// The proof files are recorded before the claim is sent (a retry with the same
	// Idempotency-Key reuses them); a refused claim removes them again.
	actor := caller(c).Actor()
	prepare := func(ctx context.Context, q *db.Queries, earlier json.RawMessage) (json.RawMessage, error) {
		if earlier != nil {
			return earlier, nil
		}
		ids := make([]uuid.UUID, 0, len(files))
		for _, f := range files {
			row, err := q.CreateMDFFile(ctx, db.CreateMDFFileParams{ID: uuid.Must(uuid.NewV7()), RequestID: r.ID, Name: f.name, ContentType: f.contentType,
				SizeBytes: int64(len(f.data)), Sha256: f.sha, StorageKey: f.sha, UploadedBy: actor})
			if err != nil {
				return nil, err
			}
			ids = append(ids, row.ID)
		}
		return json.Marshal(ids)
	}
	var st workflows.MDFState
	s.decide(c, decision{
		Record: "mdf_request", RecordID: r.ID, WorkflowID: r.WorkflowID, Update: workflows.MDFClaim, Reason: "claim " + amount.String(), Body: []byte(canonical),
		Prepare: prepare,
		Arg: func(prepared json.RawMessage) (any, error) {
			var ids []uuid.UUID
			if err := json.Unmarshal(prepared, &ids); err != nil {
				return nil, err
			}
			return workflows.MDFClaimInput{Actor: actor, Amount: amount, Results: results, FileIDs: ids}, nil
		},
		Result: &st,
		Ended:  func() error { return domain.Conflict("request_closed", "the request is %s", r.Status) },
		Refused: func(ctx context.Context, q *db.Queries, prepared json.RawMessage) error {
			var ids []uuid.UUID
			if err := json.Unmarshal(prepared, &ids); err != nil {
				return err
			}
			return q.DeleteMDFFiles(ctx, ids)
		},
		Answer: func(ctx context.Context, _ json.RawMessage) (answer, error) {
			v, err := s.mdfView(ctx, s.store.Queries, r.ID)
			return answer{Status: http.StatusOK, Body: v}, err
		},
	})
}

func (s *Server) readProofFiles(headers []*multipart.FileHeader) ([]proofFile, error) {
	if len(headers) == 0 {
		return nil, domain.Invalid("files", "required", "a claim needs proof of performance: attach at least one file")
	}
	if len(headers) > maxProofFiles {
		return nil, domain.Invalid("files", "too_many", "at most %d files per claim", maxProofFiles)
	}
	var out []proofFile
	for _, h := range headers {
		if !cleanText(h.Filename) || len(h.Filename) > 255 {
			return nil, domain.Invalid("files", "invalid_name", "a file name must be UTF-8 text of at most 255 bytes without NUL")
		}
		if h.Size > s.cfg.MaxFileBytes {
			return nil, domain.Invalid("files", "too_large", "%s is larger than %d bytes", h.Filename, s.cfg.MaxFileBytes)
		}
		f, err := h.Open()
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(io.LimitReader(f, s.cfg.MaxFileBytes+1))
		f.Close()
		if err != nil {
			return nil, err
		}
		if len(data) == 0 {
			return nil, domain.Invalid("files", "empty", "%s is empty", h.Filename)
		}
		// The type is what the bytes are, not what the client says they are.
		ct := http.DetectContentType(data)
		if !slices.Contains(proofTypes, ct) {
			return nil, domain.Invalid("files", "unsupported_type", "%s is %s; proof may be PDF, PNG, JPEG, WebP or plain text (CSV)", h.Filename, ct)
		}
		sum := sha256.Sum256(data)
		name := domain.BaseFileName(h.Filename) // the client's directories are none of ours
		if len(name) > 200 {
			name = name[:200]
		}
		out = append(out, proofFile{name: name, contentType: ct, sha: hex.EncodeToString(sum[:]), data: data})
	}
	return out, nil
}

// downloadMDFFile serves a proof file to its partner or to staff.
func (s *Server) downloadMDFFile(c *gin.Context) {
	r, err := s.mdfFor(c)
	if err != nil {
		s.abort(c, err)
		return
	}
	fileID, err := uuid.Parse(c.Param("file_id"))
	if err != nil {
		s.abort(c, domain.NotFound("file"))
		return
	}
	f, err := s.store.GetMDFFile(c.Request.Context(), db.GetMDFFileParams{ID: fileID, RequestID: r.ID})
	if errors.Is(err, pgx.ErrNoRows) {
		err = domain.NotFound("file")
	}
	var rc io.ReadCloser
	if err == nil {
		rc, err = s.files.Open(c.Request.Context(), f.StorageKey)
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	defer rc.Close()
	c.Header("Content-Disposition", domain.ContentDisposition(f.Name))
	c.Header("X-Content-SHA256", f.Sha256)
	c.DataFromReader(http.StatusOK, f.SizeBytes, f.ContentType, rc, nil)
}
