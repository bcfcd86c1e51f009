package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
	"github.com/partnerops/partnerops/workflows/ids"
)

// WebhookDeliveryWorkflow is the registered name of the delivery workflow
// (workflows/webhook_delivery.go); activities start it by name.
const WebhookDeliveryWorkflow = "WebhookDelivery"

// Event is something that happened that webhook endpoints may want: one id,
// one type from domain.EventTypes, the program and partner it concerns.
type Event struct {
	ID        uuid.UUID
	Type      string
	ProgramID uuid.UUID
	PartnerID uuid.NullUUID
	Data      any
	At        time.Time
}

// eventID is the same for the same change however often its activity runs, so a
// retried activity enqueues nothing twice and receivers see one event id.
func eventID(parts ...string) uuid.UUID {
	key := ""
	for _, p := range parts {
		key += p + "/"
	}
	return uuid.NewSHA1(eventNamespace, []byte(key))
}

var eventNamespace = uuid.MustParse("5b0e6c0e-7d2a-4d39-9c53-0f2b7c1a9e41")

// eventBody is what a delivery posts.
type eventBody struct {
	ID        uuid.UUID     `json:"id"`
	Type      string        `json:"type"`
	CreatedAt time.Time     `json:"created_at"`
	ProgramID uuid.UUID     `json:"program_id"`
	PartnerID uuid.NullUUID `json:"partner_id"`
	Data      any           `json:"data"`
}

// events collects what a transaction published, to start its deliveries once
// the transaction has committed.
type events struct{ deliveries []uuid.UUID }

// publish enqueues one delivery per endpoint that wants the event, in the
// caller's transaction: an event and the change it reports commit together.
func (e *events) publish(ctx context.Context, q *db.Queries, ev Event) error {
	body, err := json.Marshal(eventBody{ID: ev.ID, Type: ev.Type, CreatedAt: ev.At.UTC(), ProgramID: ev.ProgramID, PartnerID: ev.PartnerID, Data: ev.Data})
	if err != nil {
		return err
	}
	got, err := q.EnqueueWebhookDeliveries(ctx, db.EnqueueWebhookDeliveriesParams{EventID: ev.ID, EventType: ev.Type, Payload: body,
		ProgramID: ev.ProgramID, PartnerID: ev.PartnerID})
	e.deliveries = append(e.deliveries, got...)
	return err
}

// inTxWithEvents runs fn in a transaction and starts the deliveries of the events
// it published after the commit. A delivery whose workflow does not start now is
// started by the housekeeping sweep.
func (a *Activities) inTxWithEvents(ctx context.Context, fn func(q *db.Queries, ev *events) error) error {
	var ev events
	if err := a.Store.InTx(ctx, func(q *db.Queries) error { ev.deliveries = nil; return fn(q, &ev) }); err != nil {
		return err
	}
	for _, id := range ev.deliveries {
		if err := a.startDelivery(ctx, id); err != nil && a.Logger != nil {
			a.Logger.WarnContext(ctx, "webhook delivery not started (the sweep will)", "delivery", id, "error", err)
		}
	}
	return nil
}

// startDelivery starts a new run of a delivery's workflow (the first, or a replay).
func (a *Activities) startDelivery(ctx context.Context, id uuid.UUID) error {
	if a.Temporal == nil {
		return errors.New("no Temporal client")
	}
	_, err := StartWebhookRun(ctx, a.Store, a.Temporal, a.TaskQueue, id)
	return err
}

// StartWebhookRun is the one way a delivery's run starts (the activities after
// an event, the sweep, the API's replay): it numbers the run in PostgreSQL, then
// starts webhook-<delivery>-<run>. It answers the run.
func StartWebhookRun(ctx context.Context, store *db.Store, c client.Client, taskQueue string, id uuid.UUID) (int32, error) {
	r, err := store.StartWebhookRun(ctx, id)
	if err != nil {
		return 0, err
	}
	_, err = c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: ids.WebhookDelivery(id, r.Runs), TaskQueue: taskQueue,
		StaticSummary: domain.WebhookSummary(r.EventType, r.URL, r.Runs)},
		WebhookDeliveryWorkflow, WebhookRun{DeliveryID: id, Run: r.Runs})
	return r.Runs, err
}

// SweepWebhookDeliveries starts deliveries whose workflow did not start when
// their event was published (the Temporal client was unreachable at that moment).
func (a *Activities) SweepWebhookDeliveries(ctx context.Context) (int, error) {
	pending, err := a.Store.UnstartedWebhookDeliveries(ctx)
	if err != nil {
		return 0, err
	}
	for _, id := range pending {
		if err := a.startDelivery(ctx, id); err != nil {
			return 0, err
		}
	}
	return len(pending), nil
}

// WebhookRun is one run of one delivery.
type WebhookRun struct {
	DeliveryID uuid.UUID `json:"delivery_id"`
	Run        int32     `json:"run"`
}

// ErrEndpointGone: the endpoint was deleted or disabled; retrying cannot help.
const ErrEndpointGone = "endpoint_gone"

// DeliverWebhook makes one attempt: POST the event, signed, to the endpoint.
// A 2xx is delivered; anything else is recorded and returned as an error, so
// Temporal retries it with the workflow's backoff (each attempt is kept).
func (a *Activities) DeliverWebhook(ctx context.Context, r WebhookRun) error {
	d, err := a.Store.GetWebhookDelivery(ctx, r.DeliveryID)
	if errors.Is(err, pgx.ErrNoRows) {
		return temporal.NewNonRetryableApplicationError("no such delivery", ErrEndpointGone, err)
	}
	if err != nil {
		return err
	}
	if d.EndpointDisabledAt != nil {
		return temporal.NewNonRetryableApplicationError("the endpoint is disabled", ErrEndpointGone, nil)
	}
	if d.Status == "delivered" && d.Runs == r.Run {
		return nil
	}
	attempt := activity.GetInfo(ctx).Attempt
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Payload))
	if err != nil {
		return temporal.NewNonRetryableApplicationError("the endpoint's URL does not parse", ErrEndpointGone, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "partnerops-webhooks/1")
	req.Header.Set("X-Partnerops-Event", d.EventType)
	req.Header.Set("X-Partnerops-Event-Id", d.EventID.String())
	req.Header.Set("X-Partnerops-Delivery", d.ID.String())
	req.Header.Set("X-Partnerops-Attempt", strconv.Itoa(int(attempt)))
	req.Header.Set("X-Partnerops-Signature", domain.SignWebhook(d.Secrets, d.Payload, start))
	resp, err := a.webhookClient().Do(req)
	var status pgtype.Int4
	var answer string
	if err == nil {
		status = pgtype.Int4{Int32: int32(resp.StatusCode), Valid: true}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		answer = fmt.Sprintf("%d %s", resp.StatusCode, bytes.ToValidUTF8(bytes.ReplaceAll(b, []byte{0}, nil), nil))
	} else {
		answer = err.Error()
	}
	ok := err == nil && resp.StatusCode >= 200 && resp.StatusCode < 300
	var lastErr *string
	if !ok {
		lastErr = &answer
	}
	if err := a.Store.RecordWebhookAttempt(ctx, db.RecordWebhookAttemptParams{ID: d.ID, Attempt: attempt, Run: r.Run, At: start,
		LastStatus: status, LastError: lastErr, DurationMs: int32(time.Since(start).Milliseconds())}); err != nil {
		return err
	}
	if ok {
		return a.Store.MarkWebhookDelivered(ctx, d.ID)
	}
	return fmt.Errorf("endpoint answered: %s", answer)
}

// WebhookGaveUp ends a run that exhausted its retries: the delivery is failed,
// and an endpoint that has not accepted anything for three days is disabled and
// its owner told.
func (a *Activities) WebhookGaveUp(ctx context.Context, r WebhookRun) error {
	d, err := a.Store.GetWebhookDelivery(ctx, r.DeliveryID)
	if err != nil {
		return err
	}
	return a.Store.InTx(ctx, func(q *db.Queries) error {
		if err := q.MarkWebhookFailed(ctx, d.ID); err != nil {
			return err
		}
		e, err := q.GetWebhookEndpoint(ctx, d.EndpointID)
		if err != nil || e.DisabledAt != nil {
			return err
		}
		since := e.CreatedAt
		if e.LastSuccessAt != nil {
			since = *e.LastSuccessAt
		}
		if time.Since(since) < 72*time.Hour {
			return nil
		}
		if err := q.DisableWebhookEndpoint(ctx, db.DisableWebhookEndpointParams{ID: e.ID, Reason: "failing for 3 days"}); err != nil {
			return err
		}
		recipient := domain.RoleAdmin
		if e.PartnerID.Valid {
			recipient = e.PartnerID.UUID.String()
		}
		return q.CreateNotification(ctx, db.CreateNotificationParams{DedupeKey: "webhook-endpoint-disabled/" + e.ID.String(), Kind: "webhook_endpoint_disabled",
			Recipient: recipient, SubjectType: "webhook_endpoint", SubjectID: e.ID,
			Message: "Your webhook endpoint " + e.URL + " failed for 3 days and was disabled: fix it and register it again"})
	})
}

// webhookClient posts deliveries: 10 s per attempt, no redirects followed, and —
// unless private targets are allowed (make run's demo mode, tests) — a dialer
// that refuses every address that is not public, whatever the DNS answered.
func (a *Activities) webhookClient() *http.Client {
	a.hookOnce.Do(func() {
		dialer := &net.Dialer{Timeout: 5 * time.Second}
		if !a.WebhookAllowPrivate {
			dialer.Control = func(_, address string, _ syscall.RawConn) error {
				host, _, _ := net.SplitHostPort(address)
				if ip := net.ParseIP(host); ip == nil || !domain.PublicIP(ip) {
					return fmt.Errorf("refused: %s is not a public address", host)
				}
				return nil
			}
		}
		// otelhttp: a client span per attempt, and the trace context in its headers.
		a.hookClient = &http.Client{Timeout: 10 * time.Second, Transport: otelhttp.NewTransport(&http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: 4}),
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	})
	return a.hookClient
}
