package client_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/client"
)

const blockJSON = `{"id":"blk_1","service_id":"svc_1","scope":"prefix","key":"+3712512","state":"lifted",
 "level":1,"reason":"3 of 120 verifications approved","created_by":"guard","started":120,"approved":3,
 "created_at":"2025-03-01T10:00:00Z","expires_at":"2025-03-01T11:00:00Z",
 "lifted_at":"2025-03-01T10:05:00Z","lifted_by":"admin"}`

func wantBlock() *client.Block {
	lifted, by := t0.Add(5*time.Minute), "admin"
	return &client.Block{
		ID: "blk_1", ServiceID: "svc_1", Scope: client.BlockScopePrefix, Key: "+3712512", State: "lifted",
		Level: 1, Reason: "3 of 120 verifications approved", CreatedBy: "guard", Started: 120, Approved: 3,
		CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), LiftedAt: &lifted, LiftedBy: &by,
	}
}

func TestBlocks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		call   func(context.Context, *client.Client) (any, error)
		method string
		path   string
		query  url.Values
		body   string
		reply  reply
		want   any
	}{
		{
			name: "CreateBlock",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.CreateBlock(ctx, "svc_1", client.CreateBlockParams{Scope: client.BlockScopeCountry, Key: "LV", Duration: time.Hour, Reason: "ticket 42"})
			},
			method: "POST", path: "/v1/services/svc_1/blocks",
			body:  `{"scope":"country","key":"LV","duration_seconds":3600,"reason":"ticket 42"}`,
			reply: jsonReply(201, blockJSON), want: wantBlock(),
		},
		{
			name: "ListBlocks all",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.ListBlocks(ctx, "svc_1", client.BlockListParams{All: true, Limit: 5, Cursor: "c1"})
			},
			method: "GET", path: "/v1/services/svc_1/blocks", query: url.Values{"state": {"all"}, "limit": {"5"}, "cursor": {"c1"}},
			reply: jsonReply(200, `{"data":[`+blockJSON+`],"next_cursor":null}`),
			want:  &client.BlockList{Data: []client.Block{*wantBlock()}},
		},
		{
			name: "GetBlock",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.GetBlock(ctx, "svc_1", "blk_1")
			},
			method: "GET", path: "/v1/services/svc_1/blocks/blk_1", reply: jsonReply(200, blockJSON), want: wantBlock(),
		},
		{
			name: "LiftBlock",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.LiftBlock(ctx, "svc_1", "blk_1")
			},
			method: "DELETE", path: "/v1/services/svc_1/blocks/blk_1", reply: jsonReply(200, blockJSON), want: wantBlock(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeServer(t, tt.reply)
			got, err := tt.call(t.Context(), f.client())
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			reqs := f.requests()
			require.Len(t, reqs, 1)
			require.Equal(t, tt.method, reqs[0].Method)
			require.Equal(t, tt.path, reqs[0].EscapedPath)
			if tt.query != nil {
				require.Equal(t, tt.query, reqs[0].Query)
			}
			if tt.body != "" {
				require.JSONEq(t, tt.body, reqs[0].Body)
			}
		})
	}
}

// A fraud.* event carries the block, not a verification.
func TestFraudEventData(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, jsonReply(200, `{"data":[{"id":"evt_1","type":"fraud.block_lifted","created_at":"2025-03-01T10:05:00Z",
		"verification_id":"blk_1","message_id":null,"data":`+blockJSON+`,
		"delivery":{"status":"disabled","attempts":0,"next_attempt_at":null,"last_attempt_at":null,
		"last_status_code":null,"last_error":null,"delivered_at":null,"give_up_at":null}}],"next_cursor":null}`))
	list, err := f.client().ListEvents(t.Context(), "svc_1", client.EventListParams{VerificationID: "blk_1"})
	require.NoError(t, err)
	require.Len(t, list.Data, 1)
	ev := list.Data[0]
	require.Equal(t, client.EventFraudBlockLifted, ev.Type)
	require.Equal(t, wantBlock(), ev.Block)
	require.Empty(t, ev.Data.ID)
	require.Equal(t, client.DeliveryDisabled, ev.Delivery.Status)
}
