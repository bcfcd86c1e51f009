package api

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

type checkedInner struct {
	Note   string  `json:"note"`
	Amount *Amount `json:"amount"`
}

type CheckedEmbedded struct {
	Label string `json:"label"`
}

type checkedRequest struct {
	CheckedEmbedded
	Name     string            `json:"name"`
	Untagged string            // named by its Go name
	Rate     Rate              `json:"rate"`
	At       *time.Time        `json:"at"`
	Inner    checkedInner      `json:"inner"`
	Items    []checkedInner    `json:"items"`
	Tags     map[string]string `json:"tags"`
	Count    int               `json:"count"`
	hidden   string
}

// checkValues names the field it refuses by its JSON path, and passes what a
// column can hold.
func TestCheckValuesNamesTheField(t *testing.T) {
	amount := func(s string) *Amount { return &Amount{decimal.RequireFromString(s)} }
	now := time.Now()
	ok := checkedRequest{CheckedEmbedded: CheckedEmbedded{"l"}, Name: "n", Untagged: "u", Rate: Rate{decimal.RequireFromString("0.2")}, At: &now,
		Inner: checkedInner{Note: "x", Amount: amount("12.50")}, Items: []checkedInner{{Note: "y"}}, Tags: map[string]string{"k": "v"}, hidden: "\x00"}
	if err := checkValues(reflect.ValueOf(&ok), ""); err != nil {
		t.Fatalf("a clean request: %v", err)
	}
	for _, c := range []struct {
		field string
		bad   func(r *checkedRequest)
	}{
		{"name", func(r *checkedRequest) { r.Name = "a\x00b" }},
		{"label", func(r *checkedRequest) { r.Label = "\xff" }},
		{"Untagged", func(r *checkedRequest) { r.Untagged = "\x00" }},
		{"rate", func(r *checkedRequest) { r.Rate = Rate{decimal.RequireFromString("0.12345")} }},
		{"inner.note", func(r *checkedRequest) { r.Inner.Note = "\x00" }},
		{"inner.amount", func(r *checkedRequest) { r.Inner.Amount = amount("1000000000000") }},
		{"inner.amount", func(r *checkedRequest) { r.Inner.Amount = amount("1.001") }},
		{"items[1].note", func(r *checkedRequest) { r.Items = append(r.Items, checkedInner{Note: "\x00"}) }},
		{"items[0].amount", func(r *checkedRequest) { r.Items[0].Amount = amount("-1000000000000.00") }},
		{"tags.k", func(r *checkedRequest) { r.Tags = map[string]string{"k": "\x00"} }},
		{"tags", func(r *checkedRequest) { r.Tags = map[string]string{"\x00": "v"} }},
	} {
		r := ok
		r.Items = append([]checkedInner(nil), ok.Items...)
		c.bad(&r)
		err := checkValues(reflect.ValueOf(&r), "")
		var he *httpError
		if !errors.As(err, &he) || he.detail.Field != c.field {
			t.Errorf("%s: %v", c.field, err)
		}
	}
}
