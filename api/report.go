package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/partnerops/partnerops/db"
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
	params := db.PipelineParams{GroupBy: groupBy, FromDate: from, ToDate: to}
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
