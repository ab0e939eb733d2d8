// Command otpd is the otpd one-time-password verification server and its
// command-line tools.
//
//	otpd serve                      run the server (see otpd serve --help)
//	otpd service create|list        manage services (admin token)
//	otpd key create|revoke|list     manage service keys (admin token)
//	otpd keys list|rotate|add|activate  manage the server keyring (file)
//	otpd verify start|check|status  drive verifications against a running server
//	otpd smsc                       run the SMSC simulator
//	otpd bench                      load a server and report throughput and latency
//	otpd version                    print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintln(os.Stderr, "otpd:", err)
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "otpd:", err)
		os.Exit(1)
	}
}

// usageError is a mistake in how otpd was called; it exits with status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// env gives subcommands the environment; tests replace it.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

const topUsage = `otpd — self-hosted one-time-password verification

Usage:
  otpd serve [flags]                      run the server (otpd serve --help lists every setting)
  otpd service create|list [flags]        manage services (needs the admin token)
  otpd key create|list|revoke [flags]     manage a service's API keys (needs the admin token)
  otpd keys list|rotate|add|activate      manage the server keyring (the keys codes are derived with)
  otpd verify start|check|status [flags]  start, check and inspect verifications
  otpd erase --service SVC --to DEST      erase everything kept about a destination (GDPR)
  otpd smsc [flags]                       run the SMSC simulator (SMPP server + HTTP listing)
  otpd bench [flags]                      load otpd (its own, or --target) and report throughput and latency
  otpd version                            print the version

Commands that talk to a running server take --server (OTPD_SERVER, default
http://127.0.0.1:8080) and --token (OTPD_TOKEN; else OTPD_ADMIN_TOKEN, the token
otpd serve printed once when it generated it).
`

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv}
	return e.run(ctx, args)
}

func (e *env) run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, topUsage)
		return usagef("no command given")
	}
	switch args[0] {
	case "serve":
		return e.serve(ctx, args[1:])
	case "service", "services":
		return e.serviceCmd(ctx, args[1:])
	case "key":
		return e.keyCmd(ctx, args[1:])
	case "keys":
		return e.keysCmd(ctx, args[1:])
	case "verify":
		return e.verifyCmd(ctx, args[1:])
	case "erase":
		return e.eraseCmd(ctx, args[1:])
	case "smsc":
		return e.smscCmd(ctx, args[1:])
	case "bench":
		return e.benchCmd(ctx, args[1:])
	case "bench-echo":
		return e.benchEchoCmd(ctx, args[1:])
	case "version", "--version", "-version":
		fmt.Fprintln(e.stdout, "otpd", version)
		return nil
	case "help", "-h", "--help", "-help":
		fmt.Fprint(e.stdout, topUsage)
		return nil
	}
	fmt.Fprint(e.stderr, topUsage)
	return usagef("unknown command %q", args[0])
}
