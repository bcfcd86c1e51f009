package api

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/partnerops/partnerops/domain"
)

// What the page templates print: amounts with thousands separators, dates and
// times in UTC, and bar charts as inline SVG (no script, readable by a screen
// reader through its title and the table beside it).

// formatMoney prints "12345.5" as "12,345.50"; anything else as it is.
func formatMoney(v any) string {
	var d decimal.Decimal
	switch x := v.(type) {
	case nil:
		return "–"
	case decimal.Decimal:
		d = x
	case domain.Numeric:
		d = x.Decimal
	case domain.NullNumeric:
		if !x.Valid {
			return "–"
		}
		d = x.Decimal
	default:
		s := fmt.Sprint(v)
		if s == "" || s == "<nil>" {
			return "–"
		}
		var err error
		if d, err = decimal.NewFromString(s); err != nil {
			return s
		}
	}
	neg := d.IsNegative()
	out := domain.GroupThousands(d.Abs().StringFixed(2))
	if neg {
		out = "−" + out
	}
	return out
}

func parseTime(v any) (time.Time, bool) {
	switch x := v.(type) {
	case time.Time:
		return x, !x.IsZero()
	case *time.Time:
		if x == nil {
			return time.Time{}, false
		}
		return *x, true
	case string:
		t, err := time.Parse(time.RFC3339Nano, x)
		return t, err == nil
	}
	return time.Time{}, false
}

// formatTime prints a timestamp as "2026-11-23 14:05 UTC".
func formatTime(v any) string {
	t, ok := parseTime(v)
	if !ok {
		if s := fmt.Sprint(v); s != "<nil>" && s != "" {
			return s
		}
		return "–"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// formatDate prints a day.
func formatDate(v any) string {
	if t, ok := parseTime(v); ok {
		return t.UTC().Format("2006-01-02")
	}
	switch x := v.(type) {
	case domain.Date:
		return x.String()
	case nil:
		return "–"
	}
	return fmt.Sprint(v)
}

// bar is one bar of a chart.
type bar struct {
	Label string
	Value string // a decimal
}

// barChart draws horizontal bars scaled to the largest value, as SVG.
func barChart(bars []bar, title string) template.HTML {
	if len(bars) == 0 {
		return ""
	}
	vals, maxV := chartValues(bars)
	const width, rowH, labelW, valueW = 640, 28, 180, 110
	var b strings.Builder
	openChart(&b, title, width, len(bars)*rowH+10)
	for i, br := range bars {
		y := i*rowH + 5
		w := 0
		if maxV.IsPositive() {
			w = int(vals[i].Div(maxV).Mul(decimal.NewFromInt(width - labelW - valueW)).IntPart())
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" class="chart-label">%s</text>`, labelW-8, y+18, template.HTMLEscapeString(br.Label))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" class="chart-bar"></rect>`, labelW, y+4, max(w, 1), rowH-10)
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="chart-value">%s</text>`, labelW+max(w, 1)+6, y+18, template.HTMLEscapeString(formatMoney(br.Value)))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every value above is escaped
}

// columnChart draws one column per period (oldest left), as SVG; every tenth
// label is printed under its column.
func columnChart(cols []bar, title string) template.HTML {
	if len(cols) == 0 {
		return ""
	}
	vals, maxV := chartValues(cols)
	const width, height, base = 640, 180, 150
	colW := max(4, (width-40)/len(cols))
	var b strings.Builder
	openChart(&b, title, width, height)
	fmt.Fprintf(&b, `<text x="0" y="12" class="chart-label">max %s</text>`, template.HTMLEscapeString(maxV.String()))
	for i, c := range cols {
		h := 0
		if maxV.IsPositive() {
			h = int(vals[i].Div(maxV).Mul(decimal.NewFromInt(base - 24)).IntPart())
		}
		x := 30 + i*colW
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" class="chart-bar"><title>%s: %s</title></rect>`,
			x, base-h, colW-2, max(h, 1), template.HTMLEscapeString(c.Label), template.HTMLEscapeString(c.Value))
		if i%10 == 0 {
			fmt.Fprintf(&b, `<text x="%d" y="%d" class="chart-label">%s</text>`, x, base+18, template.HTMLEscapeString(c.Label))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every value above is escaped
}

// dailySeries lays report rows keyed by day (YYYY-MM-DD) over the days from
// from to to, filling missing days with zero, for one field.
func dailySeries(groups []map[string]any, from, to time.Time, field string) []bar {
	byDay := map[string]string{}
	for _, g := range groups {
		byDay[fmt.Sprint(g["group_key"])] = fmt.Sprint(g[field])
	}
	var out []bar
	for d := from; d.Before(to); d = d.AddDate(0, 0, 1) {
		key := d.Format(time.DateOnly)
		v, ok := byDay[key]
		if !ok {
			v = "0"
		}
		out = append(out, bar{Label: key[5:], Value: v})
	}
	return out
}

// chartValues reads the bars' decimals (a negative or malformed one draws as
// zero) and their largest.
func chartValues(bars []bar) ([]decimal.Decimal, decimal.Decimal) {
	maxV := decimal.Zero
	vals := make([]decimal.Decimal, len(bars))
	for i, b := range bars {
		v, err := decimal.NewFromString(b.Value)
		if err != nil || v.IsNegative() {
			v = decimal.Zero
		}
		vals[i] = v
		if v.GreaterThan(maxV) {
			maxV = v
		}
	}
	return vals, maxV
}

// openChart starts an SVG chart that reads as an image with its title.
func openChart(b *strings.Builder, title string, width, height int) {
	t := template.HTMLEscapeString(title)
	fmt.Fprintf(b, `<svg class="chart" role="img" aria-label="%s" viewBox="0 0 %d %d" width="100%%" preserveAspectRatio="xMinYMin meet"><title>%s</title>`, t, width, height, t)
}
