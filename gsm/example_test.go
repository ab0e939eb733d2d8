package gsm_test

import (
	"fmt"

	"github.com/otpd/otpd/gsm"
)

func ExampleSplit() {
	text := "Your Acme code is 123456.\n\n@acme.example #123456"

	m, _ := gsm.Split(text, gsm.Options{})
	fmt.Println(m.Coding, m.Coding.DataCoding(), m.Segments, m.Units, m.HasNUL())

	// For an SMSC that cuts data_coding 0x00 at the first 0x00 ("@").
	m, _ = gsm.Split(text, gsm.Options{AvoidNUL: true, NULFallback: gsm.Latin1})
	fmt.Println(m.Coding, m.Coding.DataCoding(), m.Segments, m.Units, m.HasNUL())
	// Output:
	// gsm7 0 1 48 true
	// latin1 3 1 48 false
}

func ExampleSplit_concatenated() {
	text := "Kód: 123456. Platnost 10 minut, nikomu jej nesdělujte. Děkujeme, že používáte naše služby."
	m, _ := gsm.Split(text, gsm.Options{Reference: 42})
	fmt.Println(m.Coding, m.Segments)
	for _, p := range m.Parts {
		fmt.Printf("UDHI %v, header % X, %d units\n", p.UDHI(), p.UDH, p.Units)
	}

	back, _ := gsm.Reassemble(m.Coding, m.Parts...)
	fmt.Println(back == text)
	// Output:
	// ucs2 2
	// UDHI true, header 05 00 03 2A 02 01, 67 units
	// UDHI true, header 05 00 03 2A 02 02, 23 units
	// true
}

func ExampleCount() {
	for _, template := range []string{
		"Your {brand} code is {code}",
		"Your code is {code} – valid 10 min", // en dash: not GSM-7
	} {
		coding, segments, units := gsm.Count(template)
		fmt.Println(coding, segments, units)
	}
	// Output:
	// gsm7 1 31
	// ucs2 1 34
}
