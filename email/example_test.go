package email_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/email"
)

// A Sender configured from a URL, as `otpd serve` takes it. Printing the
// config, or logging it, never shows the password.
func ExampleParseURL() {
	cfg, err := email.ParseURL("smtp://otp%40acme.example:app-password@smtp.example.com:587?from=otp@acme.example&auth=plain")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg)
	fmt.Println(cfg.TLS == "", cfg.Port)

	_, err = email.ParseURL("smtp://otp:app-password@smtp.example.com?from=otp@acme.example&tls=none")
	fmt.Println(err)
	// Output:
	// smtp://otp%40acme.example:xxxxx@smtp.example.com:587?auth=plain&from=otp%40acme.example
	// true 587
	// email url: TLS none sends the password and every code in plain text, so it is only for a server on this machine (localhost, 127.0.0.1, ::1), not "smtp.example.com": use starttls or implicit
}

// Sending one message, as the delivery queue does: the texts come
// rendered by package message, and the error says whether a retry can
// help.
func ExampleSender_Send() {
	sender, err := email.New(email.Config{
		Host:     "smtp.example.com",
		TLS:      email.TLSImplicit,
		Username: "otp@acme.example",
		Password: "app-password",
		From:     "otp@acme.example",
		MaxConns: 4,
	})
	if err != nil {
		panic(err)
	}
	defer sender.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := sender.Send(ctx, &otpd.Outbound{
		MessageID: "msg_01j9z3k4m5n6p7q8r9s0t1v2w3",
		Channel:   otpd.ChannelEmail,
		To:        "ana@example.com",
		Brand:     "Acme Bank",
		ExpiresAt: time.Now().Add(10 * time.Minute),
		Rendered: otpd.Rendered{
			Subject: "Your Acme Bank verification code",
			Text:    "Your Acme Bank verification code is:\n\n491038\n\n...",
			HTML:    "<!DOCTYPE html>...",
			Locale:  "en",
		},
	})
	var se *otpd.SendError
	switch {
	case err == nil:
		fmt.Println("sent as", res.ProviderID) // <msg_01j9z3k4m5n6p7q8r9s0t1v2w3@acme.example>
	case errors.As(err, &se) && se.Permanent:
		fmt.Println("refused for good:", se.Code, err) // 550 user unknown
	case errors.Is(err, email.ErrAuth):
		fmt.Println("fix the SMTP login:", err) // and retry later
	default:
		fmt.Println("retry later:", err)
	}
}
