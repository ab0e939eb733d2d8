package main

import (
	"context"
	"fmt"
	"text/tabwriter"
)

func (e *env) keyCmd(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("key: give a subcommand: create, list or revoke")
	}
	switch args[0] {
	case "create":
		return e.keyCreate(ctx, args[1:])
	case "list":
		return e.keyList(ctx, args[1:])
	case "revoke":
		return e.keyRevoke(ctx, args[1:])
	}
	return usagef("key: unknown subcommand %q (create, list, revoke)", args[0])
}

func (e *env) keyCreate(ctx context.Context, args []string) error {
	fs := newFlagSet(e, "otpd key create", "otpd key create --service SVC_ID [--name NAME] [flags]")
	cf := e.addClientFlags(fs)
	service := fs.String("service", "", "service id (required)")
	name := fs.String("name", "default", "a name that says where the key is used")
	if _, err := parseSub(fs, args); err != nil {
		return err
	}
	if *service == "" {
		return usagef("key create: --service is required")
	}
	c, err := e.client(cf)
	if err != nil {
		return err
	}
	k, err := c.CreateKey(ctx, *service, *name)
	if err != nil {
		return apiError(err)
	}
	if cf.json {
		return e.printJSON(k)
	}
	fmt.Fprintf(e.stdout, "Created key %s (%s) for %s\n", k.ID, k.Name, k.ServiceID)
	fmt.Fprintf(e.stdout, "Secret (shown once; use it as the bearer token): %s\n", k.Secret)
	return nil
}

func (e *env) keyList(ctx context.Context, args []string) error {
	fs := newFlagSet(e, "otpd key list", "otpd key list --service SVC_ID [flags]")
	cf := e.addClientFlags(fs)
	service := fs.String("service", "", "service id (required)")
	if _, err := parseSub(fs, args); err != nil {
		return err
	}
	if *service == "" {
		return usagef("key list: --service is required")
	}
	c, err := e.client(cf)
	if err != nil {
		return err
	}
	page, err := c.ListKeys(ctx, *service, clientListAll)
	if err != nil {
		return apiError(err)
	}
	if cf.json {
		return e.printJSON(page.Data)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tCREATED\tLAST USED")
	for _, k := range page.Data {
		used := "never"
		if k.LastUsedAt != nil {
			used = k.LastUsedAt.Format("2006-01-02 15:04")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.ID, k.Name, k.CreatedAt.Format("2006-01-02 15:04"), used)
	}
	return tw.Flush()
}

func (e *env) keyRevoke(ctx context.Context, args []string) error {
	fs := newFlagSet(e, "otpd key revoke", "otpd key revoke --service SVC_ID KEY_ID [flags]")
	cf := e.addClientFlags(fs)
	service := fs.String("service", "", "service id (required)")
	pos, err := parseSub(fs, args)
	if err != nil {
		return err
	}
	if *service == "" || len(pos) != 1 {
		return usagef("key revoke: give --service and exactly one key id")
	}
	c, err := e.client(cf)
	if err != nil {
		return err
	}
	if err := c.RevokeKey(ctx, *service, pos[0]); err != nil {
		return apiError(err)
	}
	fmt.Fprintf(e.stdout, "Revoked key %s\n", pos[0])
	return nil
}
