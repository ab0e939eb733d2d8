package message_test

import (
	"fmt"
	"time"

	"github.com/otpd/otpd"
	"github.com/otpd/otpd/message"
)

func Example() {
	catalog := message.New()

	sms, err := catalog.Render(otpd.RenderRequest{
		Channel:      otpd.ChannelSMS,
		Locale:       "en-GB",
		Purpose:      "transaction",
		Brand:        "Acme Bank",
		Code:         "123456",
		TTL:          10 * time.Minute,
		Transaction:  &otpd.Transaction{Amount: "125.00", Currency: "EUR", Payee: "ACME Shop"},
		AppHash:      "FA+9qCX9VSu",
		WebOTPDomain: "acmebank.example",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(sms.Locale)
	fmt.Println(sms.Text)

	email, err := catalog.Render(otpd.RenderRequest{
		Channel: otpd.ChannelEmail,
		Locale:  "de-AT",
		Brand:   "Acme Bank",
		Code:    "123456",
		TTL:     10 * time.Minute,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(email.Locale)
	fmt.Println(email.Subject)
	fmt.Println(email.Text)
	// Output:
	// en
	// Your Acme Bank code to pay €125.00 to ACME Shop is 123456. It expires in 10 minutes. Don't share it.
	// FA+9qCX9VSu
	// @acmebank.example #123456
	// de
	// Ihr Bestätigungscode für Acme Bank
	// Ihr Bestätigungscode für Acme Bank lautet:
	//
	// 123456
	//
	// Er ist 10 Minuten gültig. Geben Sie ihn an niemanden weiter.
	//
	// Sie haben diesen Code nicht angefordert? Dann können Sie diese E-Mail ignorieren.
}

func ExampleValidate() {
	fmt.Println(message.Validate(otpd.ChannelSMS, "{brand}: your code is {code}"))
	fmt.Println(message.Validate(otpd.ChannelSMS, "{brand}: your code is {Code}"))
	// Output:
	// <nil>
	// message: invalid template: unknown placeholder {Code}
}

func ExampleLocaleForRegion() {
	// Neither the request nor the service names a language: write in the
	// one of the phone number's country.
	for _, region := range []string{"BR", "PT", "MX", "TW", "EG", "IN", "KR"} {
		fmt.Printf("%s %q\n", region, message.LocaleForRegion(region))
	}
	// Output:
	// BR "pt-BR"
	// PT "pt-PT"
	// MX "es"
	// TW "zh-Hant"
	// EG "ar"
	// IN "en"
	// KR ""
}
