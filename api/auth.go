package api

import (
	"context"
	"errors"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"golang.org/x/time/rate"

	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
)

// Caller is who is calling, from the API key: its role and, for a partner key,
// the one partner it acts for.
type Caller struct {
	KeyID     uuid.UUID
	Prefix    string
	Label     string
	Role      string
	PartnerID uuid.UUID // zero unless Role is partner
	UserID    uuid.UUID // a portal user (signed in by e-mail); zero for an API key
}

// Actor is how the caller appears in timelines and workflow histories.
func (c Caller) Actor() string {
	if c.Label != "" {
		return c.Role + ":" + c.Label
	}
	return c.Role + ":" + c.Prefix
}

const callerKey = "partnerops.caller"

func caller(c *gin.Context) Caller {
	v, _ := c.Get(callerKey)
	cl, _ := v.(Caller)
	return cl
}

var (
	errNoKey    = newHTTPError(http.StatusUnauthorized, "unauthenticated", "send an API key as 'Authorization: Bearer <key>'", "")
	errBadKey   = newHTTPError(http.StatusUnauthorized, "unauthenticated", "the API key is unknown or revoked", "")
	errRateHigh = newHTTPError(http.StatusTooManyRequests, "rate_limited", "too many requests for this API key; slow down", "")
	// errTooManyFailures: this address (or key id) failed too often; it waits Retry-After.
	errTooManyFailures = newHTTPError(http.StatusTooManyRequests, "too_many_failed_authentications",
		"too many failed authentications from this address or for this key; wait and retry with a valid key", "")
)

// authenticate is the middleware every non-public route gets: the API key, then
// the caller's role against the route's.
func (s *Server) authenticate(roles []string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if s.identify(c, roles) {
			c.Next()
		}
	}
}

// identify checks the request's API key and role; on failure it has answered
// (401, 403 or 429) and returns false. On success the caller is on the context.
//
// Failed attempts are throttled, never valid credentials: unknown or malformed
// keys count per client address, wrong secrets and revoked keys per key id.
// Past the burst a failing attempt is answered 429 (Retry-After) instead of
// 401, while a valid key is served whoever else failed from its address (behind
// a proxy without TRUSTED_PROXIES every caller shares one address).
func (s *Server) identify(c *gin.Context, roles []string) bool {
	raw, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	if !ok || raw == "" {
		s.abort(c, errNoKey)
		return false
	}
	prefix, hash, ok := domain.ParseAPIKey(strings.TrimSpace(raw))
	if !ok {
		s.authFailed(c, "ip:"+c.ClientIP())
		return false
	}
	key, err := s.keys.get(prefix, func() (db.APIKey, error) { return s.store.GetAPIKeyByPrefix(c.Request.Context(), prefix) })
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		s.authFailed(c, "ip:"+c.ClientIP())
		return false
	case err != nil:
		s.abort(c, err)
		return false
	case key.RevokedAt != nil || key.ActivatedAt == nil || !domain.HashesEqual(key.SecretHash, hash):
		s.authFailed(c, "key:"+prefix)
		return false
	}
	q := s.limiter.take(prefix)
	setQuota(c, q)
	if !q.ok {
		s.abort(c, errRateHigh)
		return false
	}
	if !slices.Contains(roles, key.Role) {
		s.abort(c, newHTTPError(http.StatusForbidden, "forbidden", "the "+key.Role+" role may not call this endpoint", ""))
		return false
	}
	c.Set(callerKey, Caller{KeyID: key.ID, Prefix: key.Prefix, Label: key.Label, Role: key.Role, PartnerID: key.PartnerID.UUID})
	return true
}

// authFailed answers a failed authentication: 401, or 429 once the failures
// counted under who (an address, or a key id) exceed their burst.
//
// Failures are counted in PostgreSQL, so the throttle holds across every API
// replica; this process's own bucket is asked first, so a flood of failures
// is refused without a write each (and the local count stands in when the
// database does not answer).
func (s *Server) authFailed(c *gin.Context, who string) {
	q := s.authFailures.take(who)
	if q.ok && s.cfg.AuthFailuresPerMinute > 0 {
		q = s.sharedFailures(c.Request.Context(), who, q)
	}
	if !q.ok {
		c.Header("Retry-After", strconv.Itoa(max(1, int(math.Ceil(q.retryAfter.Seconds())))))
		s.abort(c, errTooManyFailures)
		return
	}
	s.abort(c, errBadKey)
}

// limiter keeps one token bucket per API key (or client address for public routes).
type limiter struct {
	mu      sync.Mutex
	perSec  rate.Limit
	burst   int
	buckets map[string]*rate.Limiter
}

func newLimiter(perSec float64, burst int) *limiter {
	return &limiter{perSec: rate.Limit(perSec), burst: burst, buckets: map[string]*rate.Limiter{}}
}

func (l *limiter) bucket(key string) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) > 100_000 { // bounded memory: forget everyone, start fresh
			l.buckets = map[string]*rate.Limiter{}
		}
		b = rate.NewLimiter(l.perSec, l.burst)
		l.buckets[key] = b
	}
	return b
}

// quota is what the RateLimit headers say after a request was counted.
type quota struct {
	ok         bool
	limit      int
	remaining  int
	reset      time.Duration // until the bucket is full again
	retryAfter time.Duration // until the next request may pass (when !ok)
}

// take counts one request for key.
func (l *limiter) take(key string) quota {
	if l.perSec <= 0 {
		return quota{ok: true}
	}
	b, now := l.bucket(key), time.Now()
	ok := b.AllowN(now, 1)
	tokens := b.TokensAt(now)
	q := quota{ok: ok, limit: l.burst, remaining: max(int(math.Floor(tokens)), 0)}
	q.reset = time.Duration((float64(l.burst) - tokens) / float64(l.perSec) * float64(time.Second))
	if !ok {
		q.retryAfter = time.Duration((1 - tokens) / float64(l.perSec) * float64(time.Second))
	}
	return q
}

// setQuota writes the RateLimit headers (IETF draft-ietf-httpapi-ratelimit-headers)
// and, on a refusal, Retry-After from the limiter.
func setQuota(c *gin.Context, q quota) {
	if q.limit == 0 {
		return
	}
	c.Header("RateLimit-Limit", strconv.Itoa(q.limit))
	c.Header("RateLimit-Remaining", strconv.Itoa(q.remaining))
	c.Header("RateLimit-Reset", strconv.Itoa(int(math.Ceil(q.reset.Seconds()))))
	if !q.ok {
		c.Header("Retry-After", strconv.Itoa(max(1, int(math.Ceil(q.retryAfter.Seconds())))))
	}
}

// limitPublic rate-limits unauthenticated routes by client address.
func (s *Server) limitPublic(c *gin.Context) {
	q := s.limiter.take("ip:" + c.ClientIP())
	setQuota(c, q)
	if !q.ok {
		s.abort(c, errRateHigh)
		return
	}
	c.Next()
}

// loadOwned loads the record named by the :id path parameter. A partner may see
// only its own records: anyone else's is answered exactly like a missing one (404,
// never 403), so IDs cannot be probed. This is the one place the rule is written.
func loadOwned[T any](c *gin.Context, what string, get func(context.Context, uuid.UUID) (T, error), owner func(T) uuid.UUID) (T, error) {
	var zero T
	id, err := pathID(c, what)
	if err != nil {
		return zero, err
	}
	v, err := get(c.Request.Context(), id)
	if errors.Is(err, pgx.ErrNoRows) {
		return zero, domain.NotFound(what)
	}
	if err != nil {
		return zero, err
	}
	if cl := caller(c); cl.Role == domain.RolePartner && owner(v) != cl.PartnerID {
		return zero, domain.NotFound(what)
	}
	return v, nil
}

// sharedFailures counts a failed authentication of who for every replica (one
// row per caller and minute) and refuses it once the sliding-minute estimate
// (the previous minute's failures weighted by how much of it is still in the
// last 60 s, plus this minute's) passes AuthFailuresPerMinute.
func (s *Server) sharedFailures(ctx context.Context, who string, local quota) quota {
	now := time.Now()
	window := now.Truncate(time.Minute)
	row, err := s.store.CountAuthFailure(ctx, db.CountAuthFailureParams{Who: who, WindowStart: window, PreviousStart: window.Add(-time.Minute)})
	if err != nil {
		s.logger.Warn("failed-authentication count not shared (counted by this replica only)", "error", err)
		return local
	}
	elapsed := now.Sub(window)
	estimate := float64(row.PreviousFailures)*(1-elapsed.Seconds()/60) + float64(row.CurrentFailures)
	if estimate <= float64(s.cfg.AuthFailuresPerMinute) {
		return local
	}
	return quota{ok: false, retryAfter: time.Minute - elapsed}
}
