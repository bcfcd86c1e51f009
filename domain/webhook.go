package domain

import (
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
)

// EventTypes is every event an outbound webhook can carry: one list, one name
// per event (the OpenAPI document's webhooks section describes their payloads).
var EventTypes = []string{
	"partner.approved", "partner.rejected", "partner.tier_changed",
	"deal.approved", "deal.rejected", "deal.won", "deal.lost", "deal.expired",
	"payout.paid", "payout.failed",
	"notification.created", // whatever a process tells the partner (reminders, protection expiring, more proof wanted…)
	"webhook.test",
}

// ValidEventType reports whether s is one of EventTypes.
func ValidEventType(s string) bool { return slices.Contains(EventTypes, s) }

// WebhookURL checks an endpoint's address: https (http only where insecure
// targets are allowed, as under make run), a host name or address, no
// credentials or fragment. Where the host is an address it must be public
// unless private targets are allowed (SSRF: a webhook must not reach the
// network partnerops runs in).
func WebhookURL(raw string, allowInsecure bool) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" || len(raw) > 2000 {
		return "", Invalid("url", "invalid", "url must be an absolute https URL without credentials")
	}
	if u.Scheme != "https" && !(allowInsecure && u.Scheme == "http") {
		return "", Invalid("url", "insecure", "webhook endpoints must use https")
	}
	host := u.Hostname()
	if addr, err := netip.ParseAddr(host); err == nil && !allowInsecure && !PublicAddress(addr) {
		return "", Invalid("url", "private_address", "webhook endpoints must be reachable on the public internet")
	}
	if !allowInsecure && (host == "localhost" || strings.HasSuffix(host, ".localhost") || strings.HasSuffix(host, ".internal") || !strings.Contains(host, ".")) {
		return "", Invalid("url", "private_address", "webhook endpoints must be reachable on the public internet")
	}
	return u.String(), nil
}

// PublicAddress: not loopback, private, link-local, multicast, unspecified or
// shared (CGNAT) space; the delivery's dialer checks every address it connects to.
func PublicAddress(a netip.Addr) bool {
	a = a.Unmap()
	if a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsMulticast() ||
		a.IsUnspecified() || a.IsInterfaceLocalMulticast() {
		return false
	}
	cgnat := netip.MustParsePrefix("100.64.0.0/10")
	return !cgnat.Contains(a)
}

// PublicIP is PublicAddress for a net.IP.
func PublicIP(ip net.IP) bool {
	a, ok := netip.AddrFromSlice(ip)
	return ok && PublicAddress(a)
}

// SignWebhook signs an outbound delivery like inbound conversions are signed:
// t=<unix>,v1=<HMAC-SHA256 over "<t>.<body>"> — one v1 per current secret, so a
// receiver rotating its secret accepts either.
func SignWebhook(secrets []string, body []byte, at time.Time) string {
	var b strings.Builder
	for i, s := range secrets {
		sig := SignPayload([]byte(s), body, at)
		if i == 0 {
			b.WriteString(sig)
			continue
		}
		_, v1, _ := strings.Cut(sig, ",")
		b.WriteString("," + v1)
	}
	return b.String()
}
