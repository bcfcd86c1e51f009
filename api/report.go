package api

import (
	"net/http"
	"slices"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
)

// pipeline reports open deals by stage, partner or tier: count, total value and
// the probability-weighted forecast, for deals expected to close in [from, to)
// (default: the current quarter).
func (s *Server) pipeline(c *gin.Context) {
	groupBy := c.DefaultQuery("group_by", "stage")
	if groupBy != "stage" && groupBy != "partner" && groupBy != "tier" {
		s.abort(c, newHTTPError(http.StatusBadRequest, "invalid", "group_by must be stage, partner or tier", "group_by"))
		return
	}
	from, to := quarterOf(time.Now().UTC())
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &from}, {"to", &to}} {
		if v := c.Query(p.name); v != "" {
			t, err := time.Parse(time.DateOnly, v)
			if err != nil {
				s.abort(c, newHTTPError(http.StatusBadRequest, "invalid", p.name+" must be a date like 2026-07-01", p.name))
				return
			}
			*p.dst = t
		}
	}
	if !to.After(from) {
		s.abort(c, newHTTPError(http.StatusBadRequest, "invalid", "to must be after from", "to"))
		return
	}
	params := db.PipelineParams{GroupBy: groupBy, FromDate: domain.NewDate(from), ToDate: domain.NewDate(to)}
	var err error
	if params.ProgramID, err = queryUUID(c, "program_id"); err != nil {
		s.abort(c, err)
		return
	}
	rows, err := s.store.Pipeline(c.Request.Context(), params)
	if err != nil {
		s.abort(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"group_by": groupBy, "from": from.Format(time.DateOnly), "to": to.Format(time.DateOnly), "groups": rows})
}

// quarterOf returns the calendar quarter containing t, as [start, end).
func quarterOf(t time.Time) (time.Time, time.Time) {
	start := time.Date(t.Year(), time.Month((int(t.Month())-1)/3*3+1), 1, 0, 0, 0, 0, time.UTC)
	return start, start.AddDate(0, 3, 0)
}

// affiliateReport: clicks, unique and flagged clicks, conversions, conversion
// rate, revenue, commission and EPC (earnings per click) by partner, link or day.
func (s *Server) affiliateReport(c *gin.Context) {
	programID, err := uuid.Parse(c.Query("program_id"))
	if err != nil {
		s.abort(c, newHTTPError(http.StatusBadRequest, "invalid", "program_id (a UUID) is required", "program_id"))
		return
	}
	groupBy := c.DefaultQuery("group_by", "partner")
	if groupBy != "partner" && groupBy != "link" && groupBy != "day" {
		s.abort(c, newHTTPError(http.StatusBadRequest, "invalid", "group_by must be partner, link or day", "group_by"))
		return
	}
	// Whole UTC days (clicks are counted per day): by default the last 30,
	// today included; to is exclusive.
	to := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	from := to.AddDate(0, 0, -30)
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &from}, {"to", &to}} {
		if v := c.Query(p.name); v != "" {
			t, err := time.Parse(time.DateOnly, v)
			if err != nil {
				s.abort(c, newHTTPError(http.StatusBadRequest, "invalid", p.name+" must be a date like 2026-11-01", p.name))
				return
			}
			*p.dst = t
		}
	}
	params := db.AffiliateReportParams{GroupBy: groupBy, ProgramID: programID, FromTime: from, ToTime: to}
	if params.LinkID, err = queryUUID(c, "link_id"); err != nil {
		s.abort(c, err)
		return
	}
	if cl := caller(c); cl.Role == domain.RolePartner {
		params.PartnerID = uuid.NullUUID{UUID: cl.PartnerID, Valid: true}
	}
	rows, err := s.store.AffiliateReport(c.Request.Context(), params)
	if err != nil {
		s.abort(c, err)
		return
	}
	type line struct {
		db.AffiliateReportRow
		// ConversionRate is click_conversions / unique_clicks: only conversions a click
		// brought, so coupon, binding and deal conversions cannot push it past 100 %.
		ConversionRate domain.NullNumeric `json:"conversion_rate"`
		EPC            domain.NullNumeric `json:"epc"` // commission / unique clicks
	}
	out := make([]line, len(rows))
	for i, r := range rows {
		out[i] = line{AffiliateReportRow: r}
		if r.UniqueClicks > 0 {
			uc := decimal.NewFromInt(r.UniqueClicks)
			rate := decimal.NewFromInt(r.ClickConversions).Div(uc).Round(4)
			epc := r.Commission.Div(uc).Round(4)
			out[i].ConversionRate, out[i].EPC = domain.NewNullNumeric(&rate), domain.NewNullNumeric(&epc)
		}
	}
	c.JSON(http.StatusOK, gin.H{"group_by": groupBy, "from": from.Format(time.DateOnly), "to": to.Format(time.DateOnly), "groups": out})
}

// mdfReport: allocated, approved, claimed, reimbursable (approved, not paid yet),
// reimbursed (paid) and expired per partner for a quarter, with utilisation
// (reimbursed / allocated: paid money only) and cost per lead.
func (s *Server) mdfReport(c *gin.Context) {
	quarter, err := s.quarterParam(c.Query("quarter"))
	if err != nil {
		s.abort(c, err)
		return
	}
	params := db.MDFReportParams{Quarter: quarter}
	if params.ProgramID, err = queryUUID(c, "program_id"); err != nil {
		s.abort(c, err)
		return
	}
	rows, err := s.store.MDFReport(c.Request.Context(), params)
	if err != nil {
		s.abort(c, err)
		return
	}
	type line struct {
		db.MDFReportRow
		Utilisation domain.NullNumeric `json:"utilisation"`
		CostPerLead domain.NullNumeric `json:"cost_per_lead"`
	}
	type tierLine struct {
		Tier         string             `json:"tier"`
		Currency     string             `json:"currency"`
		Allocated    domain.Numeric     `json:"allocated"`
		Approved     domain.Numeric     `json:"approved"`
		Claimed      domain.Numeric     `json:"claimed"`
		Reimbursable domain.Numeric     `json:"reimbursable"`
		Reimbursed   domain.Numeric     `json:"reimbursed"`
		Expired      domain.Numeric     `json:"expired"`
		Leads        int64              `json:"leads"`
		Utilisation  domain.NullNumeric `json:"utilisation"`
		CostPerLead  domain.NullNumeric `json:"cost_per_lead"`
	}
	ratios := func(allocated, reimbursed decimal.Decimal, leads int64, cur string) (domain.NullNumeric, domain.NullNumeric) {
		var u, cpl domain.NullNumeric
		if allocated.IsPositive() {
			v := reimbursed.Div(allocated).Round(4)
			u = domain.NewNullNumeric(&v)
		}
		if leads > 0 {
			v := domain.RoundMoney(reimbursed.Div(decimal.NewFromInt(leads)), cur)
			cpl = domain.NewNullNumeric(&v)
		}
		return u, cpl
	}
	lines := []line{}
	var tiers []*tierLine
	for _, r := range rows {
		u, cpl := ratios(r.Allocated.Decimal, r.Reimbursed.Decimal, r.Leads, r.Currency)
		lines = append(lines, line{r, u, cpl})
		i := slices.IndexFunc(tiers, func(t *tierLine) bool { return t.Tier == r.Tier && t.Currency == r.Currency })
		if i < 0 {
			tiers = append(tiers, &tierLine{Tier: r.Tier, Currency: r.Currency})
			i = len(tiers) - 1
		}
		t := tiers[i]
		t.Allocated.Decimal = t.Allocated.Add(r.Allocated.Decimal)
		t.Approved.Decimal = t.Approved.Add(r.Approved.Decimal)
		t.Claimed.Decimal = t.Claimed.Add(r.Claimed.Decimal)
		t.Reimbursable.Decimal = t.Reimbursable.Add(r.Reimbursable.Decimal)
		t.Reimbursed.Decimal = t.Reimbursed.Add(r.Reimbursed.Decimal)
		t.Expired.Decimal = t.Expired.Add(r.Expired.Decimal)
		t.Leads += r.Leads
	}
	for _, t := range tiers {
		t.Utilisation, t.CostPerLead = ratios(t.Allocated.Decimal, t.Reimbursed.Decimal, t.Leads, t.Currency)
	}
	if tiers == nil {
		tiers = []*tierLine{}
	}
	c.JSON(http.StatusOK, gin.H{"quarter": quarter, "partners": lines, "tiers": tiers})
}
