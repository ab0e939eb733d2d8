// Package rowcodec encodes the parts of domain values that both stores keep
// in JSON text columns, so that SQLite and PostgreSQL read and write them
// the same way.
package rowcodec

import (
	"encoding/json"
	"fmt"

	"github.com/otpd/otpd"
)

// List encodes a list; nil and empty both become []. It is a string, which
// pgx sends as JSON text to a JSONB column in every query execution mode (a
// []byte would go as bytea with the simple protocol).
func List[T any](l []T) (string, error) {
	if len(l) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(l)
	return string(b), err
}

// ServiceColumns are a service's JSON columns.
type ServiceColumns struct {
	Channels, Countries, Limits, SafeList string
}

// EncodeService returns the JSON columns of s.
func EncodeService(s *otpd.Service) (ServiceColumns, error) {
	var c ServiceColumns
	var err error
	if c.Channels, err = List(s.Channels); err != nil {
		return c, err
	}
	if c.Countries, err = List(s.Countries); err != nil {
		return c, err
	}
	limits, err := json.Marshal(s.Limits.Named())
	if err != nil {
		return c, err
	}
	c.Limits = string(limits)
	c.SafeList, err = List(s.SafeList)
	return c, err
}

// DecodeService sets s's fields from its JSON columns; empty lists become
// nil, as a service that sets none has them.
func DecodeService(s *otpd.Service, c ServiceColumns) error {
	if err := json.Unmarshal([]byte(c.Channels), &s.Channels); err != nil {
		return fmt.Errorf("service %s: channels: %w", s.ID, err)
	}
	if err := json.Unmarshal([]byte(c.Countries), &s.Countries); err != nil {
		return fmt.Errorf("service %s: countries: %w", s.ID, err)
	}
	var named map[string]otpd.RateLimit
	if err := json.Unmarshal([]byte(c.Limits), &named); err != nil {
		return fmt.Errorf("service %s: limits: %w", s.ID, err)
	}
	limits, err := otpd.LimitsFromNamed(named)
	if err != nil {
		return fmt.Errorf("service %s: limits: %w", s.ID, err)
	}
	s.Limits = limits
	if err := json.Unmarshal([]byte(c.SafeList), &s.SafeList); err != nil {
		return fmt.Errorf("service %s: safe list: %w", s.ID, err)
	}
	if len(s.SafeList) == 0 {
		s.SafeList = nil
	}
	if len(s.Channels) == 0 {
		s.Channels = nil
	}
	if len(s.Countries) == 0 {
		s.Countries = nil
	}
	return nil
}

// Where the personal columns stand in the verification arguments both
// stores build (their verificationArgs): to_addr first, client_ip eighth,
// fallback_to last.
const (
	argTo       = 0
	argClientIP = 7
)

// SealVerificationArgs seals, in place, the personal columns of a store's
// verification arguments (to_addr, client_ip and fallback_to) for the
// verification id. Sealing comes after a store compares plain values: a
// fresh nonce would make every update look like a change.
func SealVerificationArgs(sl otpd.Sealer, id string, args []any) error {
	if sl == nil {
		return nil
	}
	to, ip, err := otpd.SealVerificationFields(sl, &otpd.Verification{ID: id, To: args[argTo].(string), ClientIP: args[argClientIP].(string)})
	if err != nil {
		return err
	}
	last := len(args) - 1 // fallback_to
	fallbackTo, err := otpd.SealFallbackTo(sl, id, args[last].(string))
	if err != nil {
		return err
	}
	args[argTo], args[argClientIP], args[last] = to, ip, fallbackTo
	return nil
}
