package message

import (
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/currency"
	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
	xmessage "golang.org/x/text/message"
	"golang.org/x/text/unicode/norm"

	"github.com/otpd/otpd"
)

// locale is one language's wording and conventions.
type locale struct {
	tag language.Tag
	// rtl marks a right-to-left script: the e-mail HTML gets dir="rtl", and
	// the templates are written so that no value needs a bidirectional
	// control to keep its place (see the package documentation).
	rtl bool

	// Numbers, as CLDR has them for the language. Group separators and the
	// space between number and currency are the no-break spaces CLDR uses
	// (U+00A0, U+202F for French); an SMS turns them into plain spaces (see
	// smsSpaces).
	decimal     string
	group       string
	minGrouping int  // CLDR minimumGroupingDigits: es groups 12.345 but not 1234
	lakh        bool // Indian grouping after the first three digits: 12,34,567

	// currency is CLDR's currency pattern: ¤ for the symbol, # for the
	// number ("¤#" gives "€125.00", "#\u00a0¤" gives "125,00 €").
	currency string
	// currencies overrides the pattern and symbol of single currencies with
	// a literal pattern: the yen in Japanese is "1,500円", not "￥1,500".
	currencies map[string]string
	// isoCodes shows every currency as its ISO code (Arabic: see locale_ar.go).
	isoCodes bool

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

// amount formats a transaction's amount with its currency, the way the
// locale writes money: "€125.00", "125,00 €", "R$ 1.250,00", "1,500円". The
// digits are shown exactly as bound, never rounded (the customer confirms
// this amount); only leading zeros, and trailing zeros beyond the currency's
// minor unit, go, and missing minor digits are added: "125" EUR shows as
// 125.00, "1.5" BHD as 1.500, "125.001" EUR stays 125.001. Digits are
// always ASCII, in every locale (see locale_ar.go).
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
	unit, err := currency.ParseISO(cur)
	known := err == nil
	if known {
		scale, _ = currency.Standard.Rounding(unit)
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
	if p, ok := l.currencies[cur]; ok {
		return strings.Replace(p, "#", num, 1), nil
	}
	sym := cur
	if known && !l.isoCodes {
		sym = l.symbol(unit)
	}
	pattern := l.currency
	// CLDR's currencySpacing: a symbol that meets the digits with a letter
	// ("CHF", "Rp") is set apart from them by a no-break space.
	first, _ := utf8.DecodeRuneInString(sym)
	last, _ := utf8.DecodeLastRuneInString(sym)
	if strings.Contains(pattern, "¤#") && unicode.IsLetter(last) {
		pattern = strings.Replace(pattern, "¤#", "¤\u00a0#", 1)
	}
	if strings.Contains(pattern, "#¤") && unicode.IsLetter(first) {
		pattern = strings.Replace(pattern, "#¤", "#\u00a0¤", 1)
	}
	// One pass: neither value is scanned for the other's mark.
	return strings.NewReplacer("¤", sym, "#", num).Replace(pattern), nil
}

// ambiguousSymbols are CLDR symbols that several currencies use: "$" in a
// German text is the US dollar to CLDR, but a reader in Canada or Mexico
// may take it for their own. A customer confirming an amount must not have
// to guess, so these are replaced by unambiguousSymbols or the ISO code;
// locales write their own currency through currencies instead.
var ambiguousSymbols = map[string]bool{"$": true, "¥": true, "￥": true, "元": true, "kr": true, "R": true, "Rs": true}

var unambiguousSymbols = map[string]string{"USD": "US$", "JPY": "JP¥", "CNY": "CN¥", "TWD": "NT$", "HKD": "HK$"}

// symbol is CLDR's standard symbol for u in the locale's language ("€",
// "US$", "£", "₹"), or a symbol or code that cannot be mistaken for another
// currency's.
func (l *locale) symbol(u currency.Unit) string {
	sym := xmessage.NewPrinter(l.tag).Sprint(currency.Symbol(u))
	if ambiguousSymbols[sym] {
		if s, ok := unambiguousSymbols[u.String()]; ok {
			return s
		}
		return u.String()
	}
	// CLDR's Arabic-script symbols carry bidirectional marks ("ر.س.\u200f"),
	// which no value in a message may; such a symbol gives way to the code.
	if clean(sym) != sym || sym == "" {
		return u.String()
	}
	return sym
}

// groupDigits puts the locale's group separator into a run of digits: every
// three digits, or three and then every two for Indian grouping; not at all
// when there are fewer than 3+minGrouping digits.
func (l *locale) groupDigits(d string) string {
	if len(d) < 3+l.minGrouping {
		return d
	}
	size := 3
	if l.lakh {
		size = 2
	}
	head, groups := d[:len(d)-3], []string{d[len(d)-3:]}
	for len(head) > size {
		groups = append(groups, head[len(head)-size:])
		head = head[:len(head)-size]
	}
	groups = append(groups, head)
	slices.Reverse(groups)
	return strings.Join(groups, l.group)
}

// smsSpaces turns the no-break spaces of amounts (and French e-mail
// typography, should a template use it) into plain spaces in an SMS: they
// are outside the GSM 7-bit alphabet, and one of them would make a whole
// Latin-script message UCS-2, which halves what fits in one SMS.
var smsSpaces = strings.NewReplacer("\u00a0", " ", "\u202f", " ")

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
