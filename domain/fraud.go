package domain

import (
	"bytes"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// botMarkers are lower-case fragments of user agents of bots, crawlers, link
// previewers and scripted clients.
var botMarkers = []string{
	"bot", "crawl", "spider", "slurp", "preview", "facebookexternalhit", "headless", "phantomjs", "python-requests",
	"python-urllib", "curl/", "wget/", "go-http-client", "java/", "okhttp", "libwww", "httpclient", "scrapy", "lighthouse",
	"pingdom", "uptime", "monitor", "whatsapp", "embedly", "quora link", "bingpreview", "pinterest",
}

// IsBot reports a known bot or crawler user agent.
func IsBot(ua string) bool {
	var buf [512]byte // lower-cased on the stack: this runs on every click
	n := copy(buf[:], ua)
	for i := range n {
		if c := buf[i]; 'A' <= c && c <= 'Z' {
			buf[i] = c + 'a' - 'A'
		}
	}
	l := buf[:n]
	for _, m := range botMarkers {
		if bytes.Contains(l, []byte(m)) {
			return true
		}
	}
	return false
}

// MalformedClick reports requests no browser sends: no user agent, or absurd sizes.
func MalformedClick(ua string, queryLen int) bool {
	return ua == "" || len(ua) > 512 || queryLen > 2048
}

// Conversion fraud flags.
const (
	FlagSelfReferral   = "self_referral"
	FlagFastConversion = "fast_conversion"
	FlagDuplicateOrder = "duplicate_order"
	FlagHighRefundRate = "high_refund_rate"
)

// FraudInput is what is known about a conversion when it arrives.
type FraudInput struct {
	PartnerEmail   string
	CustomerEmail  string
	PartnerIPHash  []byte // the hash of the address the partner last used the API from
	CustomerIPHash []byte
	ClickedAt      *time.Time
	ConvertedAt    time.Time
	DuplicateOrder bool
	Sales90d       int // the partner's sales in the last 90 days
	Refunds90d     int // ...and how many of them were refunded
}

// FastConversionThreshold: a purchase this soon after the click is a script, not a person.
const FastConversionThreshold = 15 * time.Second

// MaxRefundRate above which a partner's conversions wait for review.
var MaxRefundRate = decimal.RequireFromString("0.25")

// FraudFlags scores a conversion; any flag sends its commission to review.
func FraudFlags(in FraudInput) []string {
	flags := []string{}
	if (in.CustomerEmail != "" && strings.EqualFold(in.CustomerEmail, in.PartnerEmail)) ||
		(len(in.CustomerIPHash) > 0 && bytes.Equal(in.CustomerIPHash, in.PartnerIPHash)) {
		flags = append(flags, FlagSelfReferral)
	}
	if in.ClickedAt != nil && in.ConvertedAt.Sub(*in.ClickedAt) < FastConversionThreshold {
		flags = append(flags, FlagFastConversion)
	}
	if in.DuplicateOrder {
		flags = append(flags, FlagDuplicateOrder)
	}
	if in.Sales90d > 0 && decimal.NewFromInt(int64(in.Refunds90d)).Div(decimal.NewFromInt(int64(in.Sales90d))).GreaterThan(MaxRefundRate) {
		flags = append(flags, FlagHighRefundRate)
	}
	return flags
}
