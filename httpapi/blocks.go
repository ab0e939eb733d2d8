package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/otpd/otpd"
)

// BlockAdmin is what the blocks endpoints need of the fraud guard;
// *fraud.Guard implements it. Server.Config.Blocks is nil when the guard
// is off, and the endpoints then answer 404.
type BlockAdmin interface {
	// ListBlocks returns a service's blocks, newest first: the active
	// ones, or all with all set, after the cursor, at most limit.
	ListBlocks(ctx context.Context, serviceID string, all bool, before string, limit int) ([]*otpd.Block, error)
	// GetBlock returns a block of the service.
	GetBlock(ctx context.Context, serviceID, id string) (*otpd.Block, error)
	// Block blocks a prefix or a country for d; when the key has an
	// active block it is returned instead, with created false.
	Block(ctx context.Context, serviceID string, scope otpd.BlockScope, key string, d time.Duration, reason string) (b *otpd.Block, created bool, err error)
	// Lift ends an active block; one that is not active is ErrNotFound.
	Lift(ctx context.Context, serviceID, id, by string) (*otpd.Block, error)
}

// blockJSON is a block as the API shows it.
type blockJSON struct {
	ID        string          `json:"id"`
	ServiceID string          `json:"service_id"`
	Scope     otpd.BlockScope `json:"scope"`
	Key       string          `json:"key"`
	// State is "active", "expired" or "lifted" at the time shown.
	State     string  `json:"state"`
	Level     int     `json:"level"`
	Reason    string  `json:"reason"`
	CreatedBy string  `json:"created_by"`
	Started   int64   `json:"started"`
	Approved  int64   `json:"approved"`
	CreatedAt string  `json:"created_at"`
	ExpiresAt string  `json:"expires_at"`
	LiftedAt  *string `json:"lifted_at"`
	LiftedBy  *string `json:"lifted_by"`
}

func toBlockJSON(b *otpd.Block, now time.Time) blockJSON {
	state := "active"
	switch {
	case !b.LiftedAt.IsZero():
		state = "lifted"
	case !now.Before(b.ExpiresAt):
		state = "expired"
	}
	return blockJSON{
		ID:        b.ID,
		ServiceID: b.ServiceID,
		Scope:     b.Scope,
		Key:       b.Key,
		State:     state,
		Level:     b.Level,
		Reason:    b.Reason,
		CreatedBy: b.CreatedBy,
		Started:   b.Started,
		Approved:  b.Approved,
		CreatedAt: formatTime(b.CreatedAt),
		ExpiresAt: formatTime(b.ExpiresAt),
		LiftedAt:  optTime(b.LiftedAt),
		LiftedBy:  optString(b.LiftedBy),
	}
}

// BlockEventData encodes b as the blocks API shows it at time at, for the
// data of fraud.* events; it is what fraud.Config.EventData expects.
func BlockEventData(b *otpd.Block, at time.Time) ([]byte, error) {
	return encodeCompact(toBlockJSON(b, at))
}

// blockRequest makes a block by hand.
type blockRequest struct {
	Scope    otpd.BlockScope `json:"scope"`
	Key      string          `json:"key"`
	Duration int64           `json:"duration_seconds"`
	Reason   string          `json:"reason"`
}

// errGuardOff answers the blocks endpoints on a server without a guard.
var errGuardOff = &otpd.Error{Kind: otpd.ErrNotFound, Detail: "the fraud guard is off on this server, so there are no blocks"}

// blockAdmin returns the guard, or an error when there is none.
func (s *Server) blockAdmin() (BlockAdmin, error) {
	if s.blocks == nil {
		return nil, errGuardOff
	}
	return s.blocks, nil
}

// GET /v1/services/{sid}/blocks?state=active|all&limit=&cursor=, newest
// first.
func (s *Server) listBlocks(ctx context.Context, c *call) (int, any, error) {
	g, err := s.blockAdmin()
	if err != nil {
		return 0, nil, err
	}
	p, err := parsePage(c.r, otpd.PrefixBlock)
	if err != nil {
		return 0, nil, err
	}
	all := false
	switch state := c.r.URL.Query().Get("state"); state {
	case "", "active":
	case "all":
		all = true
	default:
		return 0, nil, invalidParam("state", `must be "active" or "all"`)
	}
	bs, err := g.ListBlocks(ctx, c.sid, all, p.after, p.limit+1)
	if err != nil {
		return 0, nil, err
	}
	now := s.now()
	return http.StatusOK, paginate(bs, p, func(b *otpd.Block) string { return b.ID },
		func(b *otpd.Block) blockJSON { return toBlockJSON(b, now) }), nil
}

// blockByID returns the guard and the {bid} of the path.
func (s *Server) blockByID(c *call) (BlockAdmin, string, error) {
	g, err := s.blockAdmin()
	if err != nil {
		return nil, "", err
	}
	bid, err := pathID(c.r, "bid", otpd.PrefixBlock)
	return g, bid, err
}

// GET /v1/services/{sid}/blocks/{bid}
func (s *Server) getBlock(ctx context.Context, c *call) (int, any, error) {
	g, bid, err := s.blockByID(c)
	if err != nil {
		return 0, nil, err
	}
	b, err := g.GetBlock(ctx, c.sid, bid)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toBlockJSON(b, s.now()), nil
}

// POST /v1/services/{sid}/blocks: 201 with a new block, or 200 with the
// key's block that is already active.
func (s *Server) createBlock(ctx context.Context, c *call) (int, any, error) {
	g, err := s.blockAdmin()
	if err != nil {
		return 0, nil, err
	}
	var req blockRequest
	if err := decode(c.body, &req); err != nil {
		return 0, nil, err
	}
	// Clamped so that the multiplication cannot overflow; the guard
	// refuses what is out of its range with the range in the message.
	d := time.Duration(min(max(req.Duration, 0), 1<<32)) * time.Second
	b, created, err := g.Block(ctx, c.sid, req.Scope, req.Key, d, req.Reason)
	if err != nil {
		return 0, nil, err
	}
	status := http.StatusCreated
	if !created {
		status = http.StatusOK
	}
	return status, toBlockJSON(b, s.now()), nil
}

// DELETE /v1/services/{sid}/blocks/{bid}: lifts an active block and
// answers 200 with it; a block that is not active (expired, lifted, or
// none) is 404, so lifting twice is harmless.
func (s *Server) liftBlock(ctx context.Context, c *call) (int, any, error) {
	g, bid, err := s.blockByID(c)
	if err != nil {
		return 0, nil, err
	}
	b, err := g.Lift(ctx, c.sid, bid, otpd.BlockByAdmin)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toBlockJSON(b, s.now()), nil
}
