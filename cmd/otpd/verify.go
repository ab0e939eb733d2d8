package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/otpd/otpd/client"
)

var clientListAll = client.ListOptions{Limit: 500}

func (e *env) verifyCmd(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("verify: give a subcommand: start, check or status")
	}
	switch args[0] {
	case "start":
		return e.verifyStart(ctx, args[1:])
	case "check":
		return e.verifyCheck(ctx, args[1:])
	case "status":
		return e.verifyStatus(ctx, args[1:])
	}
	return usagef("verify: unknown subcommand %q (start, check, status)", args[0])
}

// txnFlags are the flags of a transaction-bound code.
type txnFlags struct{ amount, currency, payee string }

func (t *txnFlags) transaction() (*client.Transaction, error) {
	if t.amount == "" && t.currency == "" && t.payee == "" {
		return nil, nil
	}
	if t.amount == "" || t.currency == "" || t.payee == "" {
		return nil, usagef("a transaction needs all of --amount, --currency and --payee")
	}
	return &client.Transaction{Amount: t.amount, Currency: t.currency, Payee: t.payee}, nil
}

func (e *env) verifyStart(ctx context.Context, args []string) error {
	fs := newFlagSet(e, "otpd verify start", "otpd verify start --service SVC_ID --to DESTINATION [flags]")
	cf := e.addClientFlags(fs)
	service := fs.String("service", "", "service id (required)")
	var p client.StartParams
	var tf txnFlags
	fs.StringVar(&p.To, "to", "", "E.164 number or e-mail address (required)")
	fs.StringVar(&p.Channel, "channel", "", "sms, whatsapp, rcs, push, email or auto (default auto)")
	fs.StringVar(&p.Locale, "locale", "", "message locale (default: the service's)")
	fs.StringVar(&p.Purpose, "purpose", "", "login, transaction, password_reset, delivery, ...")
	fs.IntVar(&p.TTLSeconds, "ttl", 0, "code lifetime in seconds (default: the service's)")
	fs.StringVar(&p.Reference, "reference", "", "your own reference, echoed back")
	fs.StringVar(&tf.amount, "amount", "", "transaction amount the code is bound to, e.g. 125.00")
	fs.StringVar(&tf.currency, "currency", "", "transaction currency, e.g. EUR")
	fs.StringVar(&tf.payee, "payee", "", "transaction payee")
	if _, err := parseSub(fs, args); err != nil {
		return err
	}
	if *service == "" || p.To == "" {
		return usagef("verify start: --service and --to are required")
	}
	var err error
	if p.Transaction, err = tf.transaction(); err != nil {
		return err
	}
	c, err := e.client(cf)
	if err != nil {
		return err
	}
	v, err := c.StartVerification(ctx, *service, p)
	if err != nil {
		return apiError(err)
	}
	if cf.json {
		return e.printJSON(v)
	}
	fmt.Fprintf(e.stdout, "Started %s: %s to %s, expires %s\n", v.ID, v.Channel, v.To, v.ExpiresAt.Format(time.RFC3339))
	fmt.Fprintf(e.stdout, "Check it: otpd verify check --service %s --id %s --code CODE\n", v.ServiceID, v.ID)
	return nil
}

func (e *env) verifyCheck(ctx context.Context, args []string) error {
	fs := newFlagSet(e, "otpd verify check", "otpd verify check --service SVC_ID (--id VER_ID | --to DESTINATION) --code CODE [flags]")
	cf := e.addClientFlags(fs)
	service := fs.String("service", "", "service id (required)")
	id := fs.String("id", "", "verification id")
	to := fs.String("to", "", "check the newest pending verification of this destination instead of --id")
	code := fs.String("code", "", "the code the person received (required)")
	var tf txnFlags
	fs.StringVar(&tf.amount, "amount", "", "transaction amount, for a transaction-bound code")
	fs.StringVar(&tf.currency, "currency", "", "transaction currency")
	fs.StringVar(&tf.payee, "payee", "", "transaction payee")
	if _, err := parseSub(fs, args); err != nil {
		return err
	}
	if *service == "" || *code == "" || (*id == "") == (*to == "") {
		return usagef("verify check: give --service, --code, and one of --id or --to")
	}
	txn, err := tf.transaction()
	if err != nil {
		return err
	}
	c, err := e.client(cf)
	if err != nil {
		return err
	}
	var res *client.CheckResult
	if *id != "" {
		res, err = c.CheckVerification(ctx, *service, *id, client.CheckParams{Code: *code, Transaction: txn})
	} else {
		res, err = c.CheckByDestination(ctx, *service, client.CheckByDestinationParams{To: *to, Code: *code, Transaction: txn})
	}
	if err != nil {
		return apiError(err)
	}
	if cf.json {
		if err := e.printJSON(res); err != nil {
			return err
		}
	} else if res.Valid {
		fmt.Fprintf(e.stdout, "Valid: %s is approved\n", res.Verification.ID)
	} else {
		fmt.Fprintf(e.stdout, "Invalid code: %s is %s, %d attempts remaining\n", res.Verification.ID, res.Status, res.AttemptsRemaining)
	}
	if !res.Valid {
		return errInvalidCode
	}
	return nil
}

// errInvalidCode makes a failed check exit non-zero, so scripts can branch.
var errInvalidCode = fmt.Errorf("the code is not valid")

func (e *env) verifyStatus(ctx context.Context, args []string) error {
	fs := newFlagSet(e, "otpd verify status", "otpd verify status --service SVC_ID VER_ID [flags]")
	cf := e.addClientFlags(fs)
	service := fs.String("service", "", "service id (required)")
	pos, err := parseSub(fs, args)
	if err != nil {
		return err
	}
	if *service == "" || len(pos) != 1 {
		return usagef("verify status: give --service and exactly one verification id")
	}
	c, err := e.client(cf)
	if err != nil {
		return err
	}
	v, err := c.GetVerification(ctx, *service, pos[0])
	if err != nil {
		return apiError(err)
	}
	if cf.json {
		return e.printJSON(v)
	}
	fmt.Fprintf(e.stdout, "%s: %s, %s to %s, expires %s, %d attempts and %d sends remaining\n",
		v.ID, v.Status, v.Channel, v.To, v.ExpiresAt.Format(time.RFC3339), v.AttemptsRemaining, v.SendsRemaining)
	for _, m := range v.Messages {
		line := fmt.Sprintf("  %s %s %s (%s)", m.ID, m.Channel, m.Status, m.UpdatedAt.Format(time.RFC3339))
		if m.Error != nil {
			line += ": " + *m.Error
		}
		fmt.Fprintln(e.stdout, strings.TrimRight(line, " "))
	}
	return nil
}
