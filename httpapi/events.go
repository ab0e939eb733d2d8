package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/otpd/otpd"
)

// EventData encodes v as the API shows it at time at — the object GET
// /v1/services/{sid}/verifications/{vid} would have returned then — for
// the data of an event. It is what otpd.Config.EventData expects, so that
// an event carries the state it is about even when the verification has
// changed since.
func EventData(v *otpd.Verification, at time.Time) ([]byte, error) {
	return encodeCompact(toVerificationJSON(v, at))
}

// EventBody returns the body of the webhook request that delivers e:
//
//	{"id":"evt_…","type":"…","created_at":"…","data":{…}}
//
// with created_at in the API's time format and data e.Data as recorded.
// The same event always gives the same bytes, so a sender may build the
// body again for each attempt and sign exactly what it sends. It fails
// only when e.Data is not JSON.
func EventBody(e *otpd.Event) ([]byte, error) {
	if !json.Valid(e.Data) {
		return nil, fmt.Errorf("httpapi: event %s: data is not JSON", e.ID)
	}
	return encodeCompact(webhookJSON{
		ID:        e.ID,
		Type:      e.Type,
		CreatedAt: formatTime(e.CreatedAt),
		Data:      json.RawMessage(e.Data),
	})
}

// encodeCompact encodes v as the API does (no HTML escaping), without the
// trailing newline that json.Encoder adds: a webhook body and an event's
// data are exact byte strings, not lines.
func encodeCompact(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("httpapi: encoding %T: %w", v, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// webhookJSON is the body of a webhook request (API.md, Webhooks).
type webhookJSON struct {
	ID        string          `json:"id"`
	Type      otpd.EventType  `json:"type"`
	CreatedAt string          `json:"created_at"`
	Data      json.RawMessage `json:"data"`
}

// eventJSON is an event as the events endpoints show it.
type eventJSON struct {
	ID             string          `json:"id"`
	Type           otpd.EventType  `json:"type"`
	CreatedAt      string          `json:"created_at"`
	VerificationID string          `json:"verification_id"`
	MessageID      *string         `json:"message_id"`
	Data           json.RawMessage `json:"data"`
	Delivery       deliveryJSON    `json:"delivery"`
}

// deliveryJSON is the state of an event's webhook delivery. The times
// that only mean something while a delivery is pending — when the next
// attempt is due, when retrying stops — are null otherwise, so a client
// cannot mistake a stale schedule for a plan.
type deliveryJSON struct {
	Status         otpd.EventDeliveryState `json:"status"`
	Attempts       int                     `json:"attempts"`
	NextAttemptAt  *string                 `json:"next_attempt_at"`
	LastAttemptAt  *string                 `json:"last_attempt_at"`
	LastStatusCode *int                    `json:"last_status_code"`
	LastError      *string                 `json:"last_error"`
	DeliveredAt    *string                 `json:"delivered_at"`
	GiveUpAt       *string                 `json:"give_up_at"`
}

// eventDetailJSON is one event with its delivery attempts, oldest first.
type eventDetailJSON struct {
	eventJSON
	Attempts []attemptJSON `json:"attempts"`
}

type attemptJSON struct {
	At         string  `json:"at"`
	URL        string  `json:"url"`
	StatusCode *int    `json:"status_code"`
	Error      *string `json:"error"`
	DurationMS int64   `json:"duration_ms"`
}

// errEventData is a stored event whose data is not JSON; encoding it
// would fail, so the request is a 500 (logged) instead of a panic.
var errEventData = errors.New("httpapi: stored event data is not JSON")

func toEventJSON(e *otpd.Event) (eventJSON, error) {
	if !json.Valid(e.Data) {
		return eventJSON{}, fmt.Errorf("event %s: %w", e.ID, errEventData)
	}
	d := e.Delivery
	out := eventJSON{
		ID:             e.ID,
		Type:           e.Type,
		CreatedAt:      formatTime(e.CreatedAt),
		VerificationID: e.VerificationID,
		MessageID:      optString(e.MessageID),
		Data:           json.RawMessage(e.Data),
		Delivery: deliveryJSON{
			Status:         d.State,
			Attempts:       d.Attempts,
			LastAttemptAt:  optTime(d.LastAttemptAt),
			LastStatusCode: optInt(d.LastStatusCode),
			LastError:      optString(d.LastError),
			DeliveredAt:    optTime(d.DeliveredAt),
		},
	}
	if d.State == otpd.EventPending {
		out.Delivery.NextAttemptAt = optTime(d.NextAttemptAt)
		out.Delivery.GiveUpAt = optTime(d.Deadline)
	}
	return out, nil
}

func optInt(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
}

// GET /v1/services/{sid}/events?type=&since=&verification_id=&limit=&cursor=,
// newest first.
func (s *Server) listEvents(ctx context.Context, c *call) (int, any, error) {
	p, err := parsePage(c.r, otpd.PrefixEvent)
	if err != nil {
		return 0, nil, err
	}
	q := c.r.URL.Query()
	f := otpd.EventFilter{
		ServiceID: c.sid,
		Type:      otpd.EventType(q.Get("type")),
		Before:    p.after,
		Limit:     p.limit + 1,
	}
	if f.Type != "" && !f.Type.Valid() {
		// The engine says so too; saying it here names the known types.
		return 0, nil, invalidParam("type", "must be one of %s", eventTypeList())
	}
	if v := q.Get("since"); v != "" {
		if f.Since, err = time.Parse(time.RFC3339Nano, v); err != nil {
			return 0, nil, invalidParam("since", "must be an RFC 3339 time such as 2025-03-01T10:00:00Z (a + in an offset must be sent as %%2B)")
		}
	}
	if v := q.Get("verification_id"); v != "" {
		if !otpd.HasPrefix(v, otpd.PrefixVerification) && !otpd.HasPrefix(v, otpd.PrefixBlock) {
			return 0, nil, invalidParam("verification_id", "must be a verification id (ver_…) or, for fraud events, a block id (blk_…)")
		}
		f.VerificationID = v
	}
	evs, err := s.engine.ListEvents(ctx, f)
	if err != nil {
		return 0, nil, err
	}
	out := make([]eventJSON, 0, len(evs))
	for _, e := range evs {
		ev, err := toEventJSON(e)
		if err != nil {
			return 0, nil, err
		}
		out = append(out, ev)
	}
	return http.StatusOK, paginate(out, p, func(e eventJSON) string { return e.ID },
		func(e eventJSON) eventJSON { return e }), nil
}

func eventTypeList() string {
	names := make([]string, len(otpd.EventTypes))
	for i, t := range otpd.EventTypes {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

// GET /v1/services/{sid}/events/{eid}
func (s *Server) getEvent(ctx context.Context, c *call) (int, any, error) {
	eid, err := pathID(c.r, "eid", otpd.PrefixEvent)
	if err != nil {
		return 0, nil, err
	}
	e, attempts, err := s.engine.GetEvent(ctx, c.sid, eid)
	if err != nil {
		return 0, nil, err
	}
	ev, err := toEventJSON(e)
	if err != nil {
		return 0, nil, err
	}
	out := eventDetailJSON{eventJSON: ev, Attempts: make([]attemptJSON, 0, len(attempts))}
	for _, a := range attempts {
		out.Attempts = append(out.Attempts, attemptJSON{
			At:         formatTime(a.At),
			URL:        a.URL,
			StatusCode: optInt(a.StatusCode),
			Error:      optString(a.Error),
			DurationMS: a.Duration.Milliseconds(),
		})
	}
	return http.StatusOK, out, nil
}

// POST /v1/services/{sid}/events/{eid}/redeliver: 202, as the delivery
// itself happens later; the body, if any, must be an empty object.
func (s *Server) redeliverEvent(ctx context.Context, c *call) (int, any, error) {
	eid, err := pathID(c.r, "eid", otpd.PrefixEvent)
	if err != nil {
		return 0, nil, err
	}
	if err := decode(c.body, &struct{}{}); err != nil {
		return 0, nil, err
	}
	e, err := s.engine.RedeliverEvent(ctx, c.sid, eid)
	if err != nil {
		return 0, nil, err
	}
	out, err := toEventJSON(e)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusAccepted, out, nil
}
