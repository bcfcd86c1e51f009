package main

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/partnerops/partnerops/activities"
	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
)

// The conversion pipeline is plain functions over the database: no HTTP, no
// caches (the zero Ingest reads everything itself), no Temporal unless flagged.
func TestIngestWithoutHTTP(t *testing.T) {
	f := affiliateProgram(t)
	coupon := expect(t, do(t, call{method: "POST", path: "/v1/coupons", key: f.manager, body: map[string]any{"partner_id": f.partnerID}}), 201).str("code")
	ctx := context.Background()
	programID := uuid.MustParse(f.programID)
	record := func(c activities.Conversion) (db.Conversion, []db.CommissionLine) {
		t.Helper()
		var row db.Conversion
		var lines []db.CommissionLine
		err := sys.store.InTx(ctx, func(q *db.Queries) error {
			var err error
			row, lines, err = (&activities.Ingest{}).Record(ctx, q, c)
			return err
		})
		if err != nil {
			t.Fatalf("record %s: %v", c.ExternalID, err)
		}
		return row, lines
	}
	at := time.Now().UTC().Add(-time.Hour)
	sale, lines := record(activities.Conversion{ProgramID: programID, ExternalID: "i-" + uuid.NewString()[:8], Kind: domain.KindSale,
		Amount: decimal.RequireFromString("150.00"), Currency: "EUR", OccurredAt: at, CouponCode: coupon, RequestHash: []byte("h1")})
	if sale.PartnerID.UUID.String() != f.partnerID || *sale.AttributionMethod != string(domain.ByCoupon) || len(lines) != 1 || lines[0].Amount.String() != "30.00" || lines[0].Status != "pending" {
		t.Fatalf("sale: %+v %+v", sale, lines)
	}
	_, lines = record(activities.Conversion{ProgramID: programID, ExternalID: "r-" + uuid.NewString()[:8], Kind: domain.KindRefund,
		Amount: decimal.RequireFromString("150.00"), Currency: "EUR", OccurredAt: at.Add(time.Minute), RefundOf: sale.ExternalID, RequestHash: []byte("h2")})
	if len(lines) != 1 || lines[0].Status != "void" {
		t.Fatalf("a full refund before any close voids the line: %+v", lines)
	}
	// An unknown program is bad input, not a failure.
	err := sys.store.InTx(ctx, func(q *db.Queries) error {
		_, _, err := (&activities.Ingest{}).Record(ctx, q, activities.Conversion{ProgramID: uuid.New(), ExternalID: "x", Kind: domain.KindSale, Currency: "EUR", OccurredAt: at})
		return err
	})
	if de, ok := domain.AsError(err); !ok || de.Code != "unknown_program" {
		t.Fatalf("unknown program: %v", err)
	}
}
