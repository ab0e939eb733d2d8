package otpd

import (
	"context"
	"errors"
	"fmt"
)

// Erasure counts what erasing a destination deleted.
type Erasure struct {
	Verifications int // with their messages
	Events        int
	Responses     int // remembered API responses (idempotency records)
	Devices       int // the push device, when the destination is one
}

// EraseDestination deletes everything the service keeps about a
// destination, as a person's right to erasure (GDPR article 17) asks: its
// verifications under any key of the keyring, their messages and events,
// the API responses remembered for idempotent retries, and, for a push
// device id, the device and its token. Rate-limit counts hold no
// destination (only a keyed hash) and run out on their own.
func (e *Engine) EraseDestination(ctx context.Context, serviceID, to string) (Erasure, error) {
	if _, err := e.service(ctx, serviceID); err != nil {
		return Erasure{}, err
	}
	dest, err := ParseDestination(to)
	if err != nil {
		return Erasure{}, err
	}
	out, err := e.store.EraseDestination(ctx, serviceID, e.Keyring().DestinationKeys(serviceID, dest.Address))
	e.pending.clear()
	e.sent.clear()
	if err != nil {
		return Erasure{}, fmt.Errorf("erase destination: %w", err)
	}
	if dest.Kind == DestinationDevice {
		switch err := e.store.DeleteDevice(ctx, serviceID, dest.Address); {
		case err == nil:
			out.Devices = 1
		case !errors.Is(err, ErrNotFound):
			return out, fmt.Errorf("erase destination: %w", err)
		}
	}
	return out, nil
}
