package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/otpd/otpd/client"
)

func (e *env) serviceCmd(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("service: give a subcommand: create or list")
	}
	switch args[0] {
	case "create":
		return e.serviceCreate(ctx, args[1:])
	case "list":
		return e.serviceList(ctx, args[1:])
	}
	return usagef("service: unknown subcommand %q (create, list)", args[0])
}

func (e *env) serviceCreate(ctx context.Context, args []string) error {
	fs := newFlagSet(e, "otpd service create", "otpd service create --name NAME [flags]")
	cf := e.addClientFlags(fs)
	var p client.CreateServiceParams
	var channels, countries string
	cooldown := -1
	fs.StringVar(&p.Name, "name", "", "brand shown in messages (required)")
	fs.IntVar(&p.CodeLength, "code-length", 0, "code length, 4..10 (default 6)")
	fs.StringVar(&p.CodeAlphabet, "alphabet", "", "digits or alphanumeric (default digits)")
	fs.IntVar(&p.TTLSeconds, "ttl", 0, "code lifetime in seconds, 60..259200 (default 600)")
	fs.IntVar(&p.MaxTTLSeconds, "max-ttl", 0, "longest per-request ttl override in seconds (default: --ttl)")
	fs.IntVar(&p.MaxCheckAttempts, "max-attempts", 0, "checks allowed per verification, 1..20 (default 5)")
	fs.IntVar(&p.MaxSends, "max-sends", 0, "sends (first + resends) per verification, 1..10 (default 5)")
	fs.IntVar(&cooldown, "resend-cooldown", -1, "seconds between sends (default 30)")
	fs.StringVar(&channels, "channels", "", "comma-separated default channel order, e.g. sms,email (default sms)")
	fs.StringVar(&countries, "countries", "", "comma-separated ISO 3166 alpha-2 codes allowed (default all)")
	fs.StringVar(&p.DefaultLocale, "locale", "", "default locale (default en)")
	fs.StringVar(&p.WebhookURL, "webhook-url", "", "URL that receives signed events")
	fs.StringVar(&p.AppHash, "app-hash", "", "Android SMS Retriever app hash")
	fs.StringVar(&p.WebOTPDomain, "webotp-domain", "", "domain for the WebOTP line of SMS")
	pos, err := parseSub(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("service create takes flags only, got %q", pos[0])
	}
	if p.Name == "" {
		return usagef("service create: --name is required")
	}
	if cooldown >= 0 {
		p.ResendCooldownSeconds = &cooldown
	}
	p.Channels, p.AllowedCountries = splitList(channels), splitList(countries)
	c, err := e.client(cf)
	if err != nil {
		return err
	}
	svc, err := c.CreateService(ctx, p)
	if err != nil {
		return apiError(err)
	}
	if cf.json {
		return e.printJSON(svc)
	}
	fmt.Fprintf(e.stdout, "Created service %s (%s)\n", svc.ID, svc.Name)
	fmt.Fprintf(e.stdout, "Webhook secret (shown once): %s\n", svc.WebhookSecret)
	fmt.Fprintf(e.stdout, "Next: otpd key create --service %s --name backend\n", svc.ID)
	return nil
}

func (e *env) serviceList(ctx context.Context, args []string) error {
	fs := newFlagSet(e, "otpd service list", "otpd service list [flags]")
	cf := e.addClientFlags(fs)
	if _, err := parseSub(fs, args); err != nil {
		return err
	}
	c, err := e.client(cf)
	if err != nil {
		return err
	}
	var all []client.Service
	opts := client.ListOptions{Limit: 500}
	for {
		page, err := c.ListServices(ctx, opts)
		if err != nil {
			return apiError(err)
		}
		all = append(all, page.Data...)
		if page.NextCursor == "" {
			break
		}
		opts.Cursor = page.NextCursor
	}
	if cf.json {
		return e.printJSON(all)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tCHANNELS\tCODE\tTTL\tCREATED")
	for _, s := range all {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d %s\t%ds\t%s\n", s.ID, s.Name, strings.Join(s.Channels, ","), s.CodeLength, s.CodeAlphabet, s.TTLSeconds, s.CreatedAt.Format("2006-01-02 15:04"))
	}
	return tw.Flush()
}
