//go:build e2e

package main

// Bad input never reaches a column it cannot fit: every amount beyond its
// column, every string with a NUL byte or invalid UTF-8, every query parameter
// with either, is a 4xx that writes nothing (and never a 500).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// rowCount is every row the API could write, summed over the tables (outboxes
// that timers fill on their own and the click partitions aside).
func rowCount(t *testing.T) int64 {
	t.Helper()
	rows, err := sys.store.Pool.Query(context.Background(), `SELECT table_name FROM information_schema.tables
		WHERE table_schema = 'public' AND table_type = 'BASE TABLE'
		  AND table_name NOT LIKE 'clicks%' AND table_name NOT IN ('goose_db_version', 'notifications')`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		_ = rows.Scan(&n)
		tables = append(tables, fmt.Sprintf("(SELECT count(*) FROM %q)", n))
	}
	rows.Close()
	var total int64
	if err := sys.store.Pool.QueryRow(context.Background(), "SELECT "+strings.Join(tables, " + ")).Scan(&total); err != nil {
		t.Fatal(err)
	}
	return total
}

// writeRoute is a route that writes, with a body it would accept and the paths of
// its amount fields (money, or rate for fractions).
type writeRoute struct {
	name, method, path, key string
	body                    func() map[string]any
	money, rates            []string
}

// set replaces the value at a dotted path ("tiers.0.default_margin") in a body.
func set(body any, path string, v any) {
	parts := strings.Split(path, ".")
	cur := body
	for i, p := range parts {
		last := i == len(parts)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				c[p] = v
				return
			}
			cur = c[p]
		case []any:
			var n int
			fmt.Sscan(p, &n)
			if last {
				c[n] = v
				return
			}
			cur = c[n]
		}
	}
}

// stringPaths lists the dotted paths of every string in a body (map keys too,
// as "key:<path>").
func stringPaths(v any, prefix string) []string {
	var out []string
	switch c := v.(type) {
	case map[string]any:
		for k, x := range c {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			out = append(out, stringPaths(x, p)...)
		}
	case []any:
		for i, x := range c {
			out = append(out, stringPaths(x, fmt.Sprintf("%s.%d", prefix, i))...)
		}
	case string:
		out = append(out, prefix)
	}
	return out
}

// normalise turns a body into plain JSON values (maps, []any, strings).
func normalise(b map[string]any) map[string]any {
	js, _ := json.Marshal(b)
	var out map[string]any
	_ = json.Unmarshal(js, &out)
	return out
}

func TestBadInputWritesNothing(t *testing.T) {
	f := affiliateProgram(t)
	_, reseller := activePartner(t, f.fixture, "reseller")
	company, dom := uniqueCompany()
	pending := expect(t, do(t, call{method: "POST", path: "/v1/deals", key: reseller, body: dealBody(company, dom)}), http.StatusCreated).str("id")
	company, dom = uniqueCompany()
	approved := expect(t, do(t, call{method: "POST", path: "/v1/deals", key: reseller, body: dealBody(company, dom)}), http.StatusCreated).str("id")
	expect(t, do(t, call{method: "POST", path: "/v1/deals/" + approved + "/approve", key: f.manager, body: map[string]any{}}), http.StatusOK)
	resellerID := expect(t, do(t, call{method: "GET", path: "/v1/me", key: reseller}), http.StatusOK).str("id")
	allocate(t, f.fixture, resellerID, "5000.00")
	mdf := expect(t, do(t, call{method: "POST", path: "/v1/mdf/requests", key: reseller, body: mdfBody("1000.00")}), http.StatusCreated).str("id")
	applicant := apply(t, f.fixture, "affiliate")
	line(t, f.programID, f.partnerID, "commission", "60.00", time.Now().UTC().AddDate(0, -1, -time.Now().UTC().Day()+1), "payable")
	closeID := expect(t, do(t, call{method: "POST", path: "/v1/closes", key: f.finance,
		body: map[string]any{"program_id": f.programID, "month": time.Now().UTC().AddDate(0, -1, 0).Format("2006-01")}}), http.StatusCreated).str("id")
	waitClose(t, f.finance, closeID, "review")
	from := time.Now().AddDate(0, -1, 0).UTC().Format(time.RFC3339)

	routes := []writeRoute{
		{name: "program", method: "POST", path: "/v1/programs", key: f.admin, body: func() map[string]any {
			return map[string]any{"name": "P " + uuid.NewString()[:6], "kind": "channel", "currency": "EUR", "agreement_version": "v1",
				"tiers":          []any{map[string]any{"name": "Gold", "rank": 1, "mdf_quarterly_allocation": "100.00", "default_margin": "0.20", "required_certifications": []any{"gold"}}},
				"certifications": map[string]any{"reseller": []any{"sales"}}}
		}, money: []string{"tiers.0.mdf_quarterly_allocation"}, rates: []string{"tiers.0.default_margin"}},
		{name: "tier", method: "POST", path: "/v1/programs/" + f.programID + "/tiers", key: f.admin, body: func() map[string]any {
			return map[string]any{"name": "Platinum " + uuid.NewString()[:4], "rank": 7, "mdf_quarterly_allocation": "100.00", "default_margin": "0.25"}
		}, money: []string{"mdf_quarterly_allocation"}, rates: []string{"default_margin"}},
		{name: "application", method: "POST", path: "/v1/applications", body: func() map[string]any { return application(f.fixture, "affiliate") }},
		{name: "deal", method: "POST", path: "/v1/deals", key: reseller, body: func() map[string]any {
			c, d := uniqueCompany()
			return dealBody(c, d)
		}, money: []string{"estimated_value"}},
		{name: "deal approval", method: "POST", path: "/v1/deals/" + pending + "/approve", key: f.manager,
			body: func() map[string]any { return map[string]any{"reason": "fine", "margin": "0.15"} }, rates: []string{"margin"}},
		{name: "deal won", method: "POST", path: "/v1/deals/" + approved + "/won", key: reseller,
			body: func() map[string]any { return map[string]any{"final_amount": "50000.00"} }, money: []string{"final_amount"}},
		{name: "partner rejection", method: "POST", path: "/v1/partners/" + applicant + "/reject", key: f.manager,
			body: func() map[string]any { return map[string]any{"reason": "not a fit"} }},
		{name: "allocation", method: "POST", path: "/v1/mdf/allocations", key: f.manager,
			body: func() map[string]any { return map[string]any{"partner_id": resellerID, "amount": "100.00"} }, money: []string{"amount"}},
		{name: "MDF request", method: "POST", path: "/v1/mdf/requests", key: reseller, body: func() map[string]any { return mdfBody("100.00") }, money: []string{"amount"}},
		{name: "MDF approval", method: "POST", path: "/v1/mdf/requests/" + mdf + "/approve", key: f.manager,
			body: func() map[string]any { return map[string]any{"amount": "500.00", "reason": "ok"} }, money: []string{"amount"}},
		{name: "commission rule", method: "POST", path: "/v1/commission-rules", key: f.admin, body: func() map[string]any {
			return map[string]any{"program_id": f.programID, "event": "lead", "kind": "flat", "amount": "5.00", "effective_from": from}
		}, money: []string{"amount"}},
		{name: "percent rule", method: "POST", path: "/v1/commission-rules", key: f.admin, body: func() map[string]any {
			return map[string]any{"program_id": f.programID, "event": "sale", "kind": "percent", "rate": "0.10", "effective_from": from}
		}, rates: []string{"rate"}},
		{name: "conversion", method: "POST", path: "/v1/conversions", key: f.integration, body: func() map[string]any {
			return map[string]any{"program_id": f.programID, "external_id": "o-" + uuid.NewString(), "kind": "sale", "amount": "10.00", "currency": "EUR", "order_id": "A-1"}
		}, money: []string{"amount"}},
		{name: "adjustment", method: "POST", path: "/v1/closes/" + closeID + "/adjustments", key: f.finance,
			body: func() map[string]any {
				return map[string]any{"partner_id": f.partnerID, "amount": "5.00", "reason": "bonus"}
			}, money: []string{"amount"}},
		{name: "payout settings", method: "PUT", path: "/v1/programs/" + f.programID + "/payouts", key: f.admin,
			body: func() map[string]any { return map[string]any{"payout_minimum": "50.00", "payout_provider": "file"} }, money: []string{"payout_minimum"}},
		{name: "deal settings", method: "PUT", path: "/v1/programs/" + f.programID + "/deals", key: f.admin, body: func() map[string]any {
			return map[string]any{"approval_sla_hours": 48, "auto_decision": "none", "max_extensions": 1, "extension_days": 30,
				"stages": []any{map[string]any{"name": "registered", "probability": "0.10"}}}
		}, rates: []string{"stages.0.probability"}},
		{name: "link", method: "POST", path: "/v1/links", key: f.partnerKey,
			body: func() map[string]any {
				return map[string]any{"destination": "https://shop.example/a", "sub_id": "news"}
			}},
		{name: "key", method: "POST", path: "/v1/keys", key: f.admin, body: func() map[string]any { return map[string]any{"role": "manager", "label": "ops"} }},
		{name: "agreement", method: "POST", path: "/v1/me/agreement", key: reseller, body: func() map[string]any { return map[string]any{"version": "2026-01"} }},
	}
	badMoney := []string{"1e15", "1e400", "-1e15", "0.001", "1000000000000"}
	badRates := []string{"1e15", "1e400", "-1e15", "0.00001", "1000"}

	before := rowCount(t)
	check := func(what string, r response) {
		t.Helper()
		if r.status < 400 || r.status >= 500 {
			t.Errorf("%s: answered %d, want 4xx: %s", what, r.status, r.raw)
		}
		if r.str("error", "code") == "" {
			t.Errorf("%s: no error body: %s", what, r.raw)
		}
		if after := rowCount(t); after != before {
			t.Fatalf("%s: %d rows written", what, after-before)
		}
	}
	for _, rt := range routes {
		for _, field := range rt.money {
			for _, v := range badMoney {
				b := normalise(rt.body())
				set(b, field, v)
				check(fmt.Sprintf("%s %s=%s", rt.name, field, v), do(t, call{method: rt.method, path: rt.path, key: rt.key, body: b}))
			}
		}
		for _, field := range rt.rates {
			for _, v := range badRates {
				b := normalise(rt.body())
				set(b, field, v)
				check(fmt.Sprintf("%s %s=%s", rt.name, field, v), do(t, call{method: rt.method, path: rt.path, key: rt.key, body: b}))
			}
		}
		for _, field := range stringPaths(normalise(rt.body()), "") {
			b := normalise(rt.body())
			var cur any = b
			for _, p := range strings.Split(field, ".") {
				switch c := cur.(type) {
				case map[string]any:
					cur = c[p]
				case []any:
					var n int
					fmt.Sscan(p, &n)
					cur = c[n]
				}
			}
			set(b, field, cur.(string)+"\x00x")
			check(rt.name+" NUL in "+field, do(t, call{method: rt.method, path: rt.path, key: rt.key, body: b}))
		}
		// Invalid UTF-8: a raw 0xff byte inside the first string of the body.
		js, _ := json.Marshal(rt.body())
		i := bytes.Index(js, []byte(`":"`))
		raw := string(js[:i+3]) + "\xff" + string(js[i+3:])
		check(rt.name+" invalid UTF-8", do(t, call{method: rt.method, path: rt.path, key: rt.key, body: raw}))
		// And a NUL in a key of the body.
		check(rt.name+" NUL in a field name", do(t, call{method: rt.method, path: rt.path, key: rt.key, body: `{"na\u0000me": "x"}`}))
	}

	// Query parameters and path segments on the lists and records.
	reads := []struct{ path, key string }{
		{"/v1/deals", f.manager}, {"/v1/partners", f.manager}, {"/v1/applications", f.manager}, {"/v1/mdf/requests", f.manager},
		{"/v1/conversions", f.manager}, {"/v1/links", f.partnerKey}, {"/v1/commission-rules", f.manager}, {"/v1/audit", f.admin},
		{"/v1/programs", f.manager}, {"/v1/statements", f.finance}, {"/v1/reports/pipeline", f.manager}, {"/v1/reports/mdf", f.manager},
	}
	for _, rd := range reads {
		for _, q := range []string{"?status=%00", "?status=%FF", "?cursor=%00", "?partner_id=%00", "?x%00=1"} {
			check(rd.path+q, do(t, call{method: "GET", path: rd.path + q, key: rd.key}))
		}
	}
	check("NUL in a path id", do(t, call{method: "GET", path: "/v1/deals/%00", key: f.manager}))
	check("NUL in an Idempotency-Key", do(t, call{method: "POST", path: "/v1/mdf/allocations", key: f.manager,
		body: map[string]any{"partner_id": resellerID, "amount": "1.00"}, headers: map[string]string{"Idempotency-Key": "k\xffz"}}))

	// The deal that was sent 1e15 is not wedged: it is still approved and can be won.
	won := expect(t, do(t, call{method: "POST", path: "/v1/deals/" + approved + "/won", key: reseller, body: map[string]any{"final_amount": "50000.00"}}), http.StatusOK)
	if won.str("status") != "won_reported" {
		t.Fatalf("won after bad amounts: %s", won.raw)
	}
}
