package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Fraud event types: a fraud block was made or lifted. Their
// VerificationID is the block's id, and Event.Block (WebhookEvent.Block)
// holds the block instead of Data.
const (
	EventFraudBlockCreated = "fraud.block_created"
	EventFraudBlockLifted  = "fraud.block_lifted"
)

// Block scopes: what a block's Key names.
const (
	BlockScopePrefix  = "prefix"  // an E.164 number prefix, such as +3712512
	BlockScopeCountry = "country" // an ISO 3166 alpha-2 code, such as LV
)

// Block stops a service's verifications to a number prefix or a country
// while it is active: starts are refused with Code destination_blocked.
// The server's conversion-rate guard makes them when a range's
// verifications are almost never completed (SMS pumping); an admin can
// make and lift them too.
type Block struct {
	ID        string `json:"id"`
	ServiceID string `json:"service_id"`
	Scope     string `json:"scope"` // BlockScopePrefix or BlockScopeCountry
	Key       string `json:"key"`
	State     string `json:"state"` // "active", "expired" or "lifted"
	// Level counts the key's earlier blocks in the escalation window;
	// each level blocks for longer.
	Level     int    `json:"level"`
	Reason    string `json:"reason"`
	CreatedBy string `json:"created_by"` // "guard" or "admin"
	// Started and Approved are the verifications the guard judged (0 for
	// a block made by an admin).
	Started   int64      `json:"started"`
	Approved  int64      `json:"approved"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	LiftedAt  *time.Time `json:"lifted_at"`
	LiftedBy  *string    `json:"lifted_by"`
}

// BlockList is a page of blocks, newest first.
type BlockList struct {
	Data []Block `json:"data"`
	// NextCursor is the Cursor of the next page; empty on the last page.
	NextCursor string `json:"next_cursor"`
}

// BlockListParams select a page of ListBlocks.
type BlockListParams struct {
	All    bool // also expired and lifted blocks; else only active ones
	Limit  int
	Cursor string
}

// CreateBlockParams make a block by hand.
type CreateBlockParams struct {
	Scope    string        // BlockScopePrefix or BlockScopeCountry
	Key      string        // the prefix (with +) or the country code
	Duration time.Duration // whole seconds, from a minute to 90 days
	Reason   string        // optional, at most 500 characters
}

// Block calls take the admin token. The server answers 404 for all of them
// when its fraud guard is off.

// ListBlocks returns a page of a service's blocks, newest first.
func (c *Client) ListBlocks(ctx context.Context, sid string, p BlockListParams) (*BlockList, error) {
	q := url.Values{}
	if p.All {
		q.Set("state", "all")
	}
	var out BlockList
	err := c.do(ctx, request{method: http.MethodGet, path: servicePath(sid) + "/blocks", query: pageValues(q, p.Limit, p.Cursor)}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// GetBlock returns a block of the service.
func (c *Client) GetBlock(ctx context.Context, sid, bid string) (*Block, error) {
	var out Block
	if err := c.do(ctx, request{method: http.MethodGet, path: blockPath(sid, bid)}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateBlock blocks a prefix or a country of the service. When the key
// already has an active block, that block is returned and nothing is made.
// Like other creating calls it sends a generated Idempotency-Key (or the
// one from [ContextWithIdempotencyKey]).
func (c *Client) CreateBlock(ctx context.Context, sid string, p CreateBlockParams) (*Block, error) {
	body := struct {
		Scope    string `json:"scope"`
		Key      string `json:"key"`
		Duration int64  `json:"duration_seconds"`
		Reason   string `json:"reason,omitempty"`
	}{p.Scope, p.Key, int64(p.Duration / time.Second), p.Reason}
	var out Block
	err := c.do(ctx, request{method: http.MethodPost, path: servicePath(sid) + "/blocks", body: body,
		idempotencyKey: idempotencyKey(ctx, "", true)}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// LiftBlock ends an active block now and returns it. A block that is not
// active (it expired or was lifted) is an [*Error] with Code not_found —
// also when a retry follows a lift whose answer was lost.
func (c *Client) LiftBlock(ctx context.Context, sid, bid string) (*Block, error) {
	var out Block
	if err := c.do(ctx, request{method: http.MethodDelete, path: blockPath(sid, bid)}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func blockPath(sid, bid string) string {
	return servicePath(sid) + "/blocks/" + url.PathEscape(bid)
}

// eventHead is what decides how an event's data decodes.
type eventHead struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

// decodeEvent decodes b into plain (an event type without its
// UnmarshalJSON) and returns its head, for dataInto.
func decodeEvent(b []byte, plain any) (eventHead, error) {
	var h eventHead
	if err := json.Unmarshal(b, plain); err != nil {
		return h, err
	}
	return h, json.Unmarshal(b, &h)
}

// dataInto puts the block of a fraud.* event into b (and clears v, which
// decoding b into the event filled with what fitted), or leaves v as
// decoded.
func (h eventHead) dataInto(v *Verification, b **Block) error {
	if !strings.HasPrefix(h.Type, "fraud.") || len(h.Data) == 0 || string(h.Data) == "null" {
		return nil
	}
	*v, *b = Verification{}, new(Block)
	return json.Unmarshal(h.Data, *b)
}

// UnmarshalJSON decodes data into Block for fraud.* events, else into
// Data.
func (e *Event) UnmarshalJSON(b []byte) error {
	type plain Event
	h, err := decodeEvent(b, (*plain)(e))
	if err != nil {
		return err
	}
	return h.dataInto(&e.Data, &e.Block)
}

// UnmarshalJSON decodes data into Block for fraud.* events, else into
// Data.
func (e *WebhookEvent) UnmarshalJSON(b []byte) error {
	type plain WebhookEvent
	h, err := decodeEvent(b, (*plain)(e))
	if err != nil {
		return err
	}
	return h.dataInto(&e.Data, &e.Block)
}
