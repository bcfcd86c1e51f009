package api

import (
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

func TestFormatMoney(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want string
	}{
		{"1234567.5", "1,234,567.50"}, {"-1200", "−1,200.00"}, {"0", "0.00"}, {"999", "999.00"}, {"1000", "1,000.00"},
		{nil, "–"}, {"", "–"}, {"not a number", "not a number"}, {decimal.RequireFromString("12.345"), "12.35"},
	} {
		if got := formatMoney(tc.in); got != tc.want {
			t.Errorf("formatMoney(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// Bars scale to the largest value; a negative or malformed value draws as zero;
// labels are escaped.
func TestCharts(t *testing.T) {
	vals, maxV := chartValues([]bar{{Value: "50"}, {Value: "200"}, {Value: "-3"}, {Value: "x"}})
	if !maxV.Equal(decimal.NewFromInt(200)) || !vals[2].IsZero() || !vals[3].IsZero() || !vals[0].Equal(decimal.NewFromInt(50)) {
		t.Fatalf("values %v, max %v", vals, maxV)
	}
	svg := string(barChart([]bar{{Label: "<b>", Value: "10"}, {Label: "b", Value: "20"}}, "t & t"))
	if strings.Contains(svg, "<b>") || !strings.Contains(svg, "&lt;b&gt;") || !strings.Contains(svg, `aria-label="t &amp; t"`) || strings.Count(svg, `class="chart-bar"`) != 2 {
		t.Fatalf("bar chart: %s", svg)
	}
	if barChart(nil, "t") != "" || columnChart(nil, "t") != "" {
		t.Fatal("an empty chart is drawn")
	}
	cols := string(columnChart([]bar{{Label: "11-01", Value: "0"}, {Label: "11-02", Value: "4"}}, "c"))
	if strings.Count(cols, `class="chart-bar"`) != 2 || !strings.Contains(cols, "max 4") {
		t.Fatalf("column chart: %s", cols)
	}
}
