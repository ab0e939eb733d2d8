package message

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/currency"
	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
	"golang.org/x/text/unicode/norm"

	"github.com/otpd/otpd"
)

// locale is one language's wording and conventions.
type locale struct {
	tag language.Tag

	// Numbers. Separators are ASCII on purpose: a no-break space (French
	// typography) is outside the GSM 7-bit alphabet and would double the
	// cost of every SMS.
	decimal       string
	group         string
	minGrouping   int  // CLDR minimumGroupingDigits: es groups 12.345 but not 1234
	currencyFirst bool // "EUR 125.00" rather than "125,00 EUR"

	// units holds "# minutes" patterns per plural form; Other is required.
	units map[unit]map[plural.Form]string

	text  map[string]string   // KindText wording by purpose
	email map[string]Template // KindEmail wording by purpose
}

type unit int

const (
	minute unit = iota
	hour
	day
)

// expiry words ttl, rounded up to a whole unit: minutes under two hours,
// hours under two days, days beyond. Rounding up keeps a 10-minute code
// saying "10 minutes" when the send happens a few milliseconds into its
// life; the unit is chosen after rounding so 119.5 minutes reads "2 hours".
func (l *locale) expiry(ttl time.Duration) string {
	n, u := expiryUnits(ttl)
	form := plural.Cardinal.MatchPlural(l.tag, n, 0, 0, 0, 0)
	pattern, ok := l.units[u][form]
	if !ok {
		pattern = l.units[u][plural.Other]
	}
	return strings.Replace(pattern, "#", strconv.Itoa(n), 1)
}

func expiryUnits(ttl time.Duration) (int, unit) {
	if m := ceilDiv(ttl, time.Minute); m < 120 {
		return int(m), minute
	}
	if h := ceilDiv(ttl, time.Hour); h < 48 {
		return int(h), hour
	}
	return int(ceilDiv(ttl, 24*time.Hour)), day
}

func ceilDiv(d, u time.Duration) time.Duration {
	n := d / u
	if d%u != 0 {
		n++
	}
	return n
}

var (
	amountRe   = regexp.MustCompile(`^[0-9]{1,15}(\.[0-9]{1,6})?$`)
	currencyRe = regexp.MustCompile(`^[A-Z]{3}$`)
)

// amount formats a transaction's amount with its ISO currency code. The
// digits are shown exactly as bound, never rounded (the customer confirms
// this amount); only leading zeros, and trailing zeros beyond the currency's
// minor unit, go, and missing minor digits are added: "125" EUR shows as
// 125.00, "1.5" BHD as 1.500, "125.001" EUR stays 125.001.
func (l *locale) amount(t *otpd.Transaction) (string, error) {
	amount := strings.TrimSpace(t.Amount)
	if !amountRe.MatchString(amount) {
		return "", errors.New("message: transaction amount is not a decimal number")
	}
	cur := strings.ToUpper(strings.TrimSpace(t.Currency))
	if !currencyRe.MatchString(cur) {
		return "", errors.New("message: transaction currency is not an ISO 4217 code")
	}
	scale := 2
	if u, err := currency.ParseISO(cur); err == nil {
		scale, _ = currency.Standard.Rounding(u)
	}
	whole, frac, _ := strings.Cut(amount, ".")
	whole = strings.TrimLeft(whole, "0")
	if whole == "" {
		whole = "0"
	}
	for len(frac) > scale && frac[len(frac)-1] == '0' {
		frac = frac[:len(frac)-1]
	}
	for len(frac) < scale {
		frac += "0"
	}
	num := l.groupDigits(whole)
	if frac != "" {
		num += l.decimal + frac
	}
	if l.currencyFirst {
		return cur + " " + num, nil
	}
	return num + " " + cur, nil
}

func (l *locale) groupDigits(d string) string {
	if len(d) < 3+l.minGrouping {
		return d
	}
	var b strings.Builder
	first := len(d) % 3
	if first == 0 {
		first = 3
	}
	b.WriteString(d[:first])
	for i := first; i < len(d); i += 3 {
		b.WriteString(l.group)
		b.WriteString(d[i : i+3])
	}
	return b.String()
}

// clean makes a caller-supplied value safe to place in any message: valid
// UTF-8 in NFC, control characters (line breaks included) as spaces, no
// bidirectional controls, white space collapsed.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		switch {
		case unicode.Is(unicode.Bidi_Control, r):
			return -1
		case unicode.IsControl(r), r == '\u2028', r == '\u2029':
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(norm.NFC.String(s)), " ")
}
