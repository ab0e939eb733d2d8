package main

import (
	"context"
	"fmt"
)

// eraseCmd is `otpd erase`: everything a service keeps about one
// destination, for a person's request for erasure.
func (e *env) eraseCmd(ctx context.Context, args []string) error {
	fs := newFlagSet(e, "otpd erase", "otpd erase --service SVC_ID --to DESTINATION [flags]")
	cf := e.addClientFlags(fs)
	service := fs.String("service", "", "service id (required)")
	to := fs.String("to", "", "the destination: an E.164 number, an e-mail address or a push device id (required)")
	pos, err := parseSub(fs, args)
	if err != nil {
		return err
	}
	if *service == "" || *to == "" || len(pos) != 0 {
		return usagef("erase: give --service and --to")
	}
	c, err := e.client(cf)
	if err != nil {
		return err
	}
	out, err := c.EraseDestination(ctx, *service, *to)
	if err != nil {
		return apiError(err)
	}
	fmt.Fprintf(e.stdout, "Erased %d verifications, %d events, %d remembered responses and %d devices\n",
		out.Verifications, out.Events, out.Responses, out.Devices)
	return nil
}
