package client_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpd/otpd/client"
)

func TestListAudit(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		p     client.AuditListParams
		query url.Values
		reply string
		want  *client.AuditList
	}{
		{
			name: "filtered",
			p: client.AuditListParams{ServiceID: "svc_1", Action: client.AuditServiceUpdate,
				Since: at.In(time.FixedZone("", 3600)).Add(500 * time.Millisecond), Limit: 5, Cursor: "c1"},
			query: url.Values{"service_id": {"svc_1"}, "action": {"service.update"}, "since": {"2025-03-01T10:00:00.5Z"},
				"limit": {"5"}, "cursor": {"c1"}},
			reply: `{"data":[{"id":"aud_1","at":"2025-03-01T10:00:00.000Z","actor":"admin","action":"service.update",
				"service_id":"svc_1","target":"svc_1","details":{"fields":["name"]}}],"next_cursor":"c2"}`,
			want: &client.AuditList{Data: []client.AuditEntry{{ID: "aud_1", At: at, Actor: "admin", Action: client.AuditServiceUpdate,
				ServiceID: new("svc_1"), Target: new("svc_1"), Details: map[string]any{"fields": []any{"name"}}}}, NextCursor: "c2"},
		},
		{
			name:  "last page",
			query: url.Values{},
			reply: `{"data":[{"id":"aud_2","at":"2025-03-01T10:00:00.000Z","actor":"system","action":"fraud.block",
				"service_id":null,"target":null,"details":{}}],"next_cursor":null}`,
			want: &client.AuditList{Data: []client.AuditEntry{{ID: "aud_2", At: at, Actor: "system", Action: "fraud.block",
				Details: map[string]any{}}}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodGet || r.URL.Path != "/v1/audit" || r.Header.Get("Authorization") != "Bearer tok" {
					http.Error(w, "unexpected request", http.StatusTeapot)
					return
				}
				if got := r.URL.Query(); len(got) != len(tc.query) || got.Encode() != tc.query.Encode() {
					http.Error(w, "query "+got.Encode(), http.StatusTeapot)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(tc.reply))
			}))
			t.Cleanup(srv.Close)
			got, err := client.New(srv.URL, "tok").ListAudit(context.Background(), tc.p)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}
