package otpd

import (
	"hash/maphash"
	"net/mail"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
)

// Destination is a validated, normalized place to send a code.
type Destination struct {
	Address string // E.164 number, lower-cased e-mail address, or device id
	Kind    DestinationKind
	Region  string // ISO 3166 alpha-2, for phone numbers
	// Type is what libphonenumber's metadata says a phone number is;
	// NumberUnknown for numbers in ranges it does not classify (such as
	// those reserved for fiction and tests) and other destinations.
	Type NumberType
}

// NumberType is the kind of line a phone number belongs to.
type NumberType string

// Number types, as libphonenumber names them.
const (
	NumberMobile            NumberType = "mobile"
	NumberFixedLine         NumberType = "fixed_line"
	NumberFixedLineOrMobile NumberType = "fixed_line_or_mobile"
	NumberTollFree          NumberType = "toll_free"
	NumberPremiumRate       NumberType = "premium_rate"
	NumberSharedCost        NumberType = "shared_cost"
	NumberVoIP              NumberType = "voip"
	NumberPersonal          NumberType = "personal_number"
	NumberPager             NumberType = "pager"
	NumberUAN               NumberType = "uan"
	NumberVoicemail         NumberType = "voicemail"
	NumberUnknown           NumberType = "unknown"
)

var numberTypes = map[phonenumbers.PhoneNumberType]NumberType{
	phonenumbers.MOBILE:               NumberMobile,
	phonenumbers.FIXED_LINE:           NumberFixedLine,
	phonenumbers.FIXED_LINE_OR_MOBILE: NumberFixedLineOrMobile,
	phonenumbers.TOLL_FREE:            NumberTollFree,
	phonenumbers.PREMIUM_RATE:         NumberPremiumRate,
	phonenumbers.SHARED_COST:          NumberSharedCost,
	phonenumbers.VOIP:                 NumberVoIP,
	phonenumbers.PERSONAL_NUMBER:      NumberPersonal,
	phonenumbers.PAGER:                NumberPager,
	phonenumbers.UAN:                  NumberUAN,
	phonenumbers.VOICEMAIL:            NumberVoicemail,
}

// Reachable reports whether a code may be sent to a number of type t over
// channel c. Premium-rate, shared-cost, toll-free, pager, voicemail and UAN
// numbers are where SMS pumping fraud sends traffic (the fraudster is paid
// per message terminated there) and no person reads a code on them; a
// landline cannot receive an SMS.
func (t NumberType) Reachable(c ChannelName) bool {
	switch t {
	case NumberPremiumRate, NumberSharedCost, NumberTollFree, NumberPager, NumberVoicemail, NumberUAN:
		return false
	case NumberFixedLine:
		return c != ChannelSMS
	}
	return true
}

// DestinationKind says what sort of address a destination is.
type DestinationKind int

// Destination kinds.
const (
	DestinationPhone DestinationKind = iota + 1
	DestinationEmail
	DestinationDevice
)

// Reaches reports whether channel c can deliver to this kind of destination.
func (k DestinationKind) Reaches(c ChannelName) bool {
	switch c {
	case ChannelSMS, ChannelWhatsApp, ChannelRCS:
		return k == DestinationPhone
	case ChannelEmail:
		return k == DestinationEmail
	case ChannelPush:
		return k == DestinationDevice
	}
	return false
}

// ParseDestination validates to and normalizes it. A destination starting
// with '+' is an E.164 phone number, one containing '@' an e-mail address,
// and one starting with "dev_" a registered push device id.
func ParseDestination(to string) (Destination, error) {
	to = strings.TrimSpace(to)
	switch {
	case to == "":
		return Destination{}, invalid("to", "is required")
	case strings.HasPrefix(to, "+"):
		return parsePhoneCached(to)
	case strings.Contains(to, "@"):
		return parseEmail(to)
	case strings.HasPrefix(to, "dev_") && len(to) <= 64:
		return Destination{Address: to, Kind: DestinationDevice}, nil
	}
	return Destination{}, invalid("to", "must be an E.164 phone number such as +447700900123, an e-mail address, or a push device id")
}

// parsePhoneCached is parsePhone with the outcome of recent numbers
// remembered: libphonenumber's parse and classification cost about 0.1 ms
// a call, the largest single item of a start in CPU profiles, and a number
// is parsed again for each start, resend and fraud-guard approval of it.
// Only valid numbers are remembered, and only what the parse found out
// about them (region and type) under a keyed hash of the number, never
// the number: memory holds no destination that an erasure would have to
// reach.
func parsePhoneCached(to string) (Destination, error) {
	k := phones.key(to)
	if f, ok := phones.get(k); ok {
		return f.destination(to), nil
	}
	d, err := parsePhone(to)
	if err == nil {
		if f, ok := factsOf(d); ok {
			phones.put(k, f)
		}
	}
	return d, err
}

// phoneCacheSize bounds each of phoneCache's two generations: 2 × 64Ki
// numbers, about a minute of starts at a thousand a second — long enough
// for the check that approves a verification (the fraud guard's count
// needs the number's region) to find its number still there. An entry is
// a 16-byte key and 3 bytes of facts, about 3 MiB in all.
const phoneCacheSize = 1 << 16

// phones is the process's cache of parsed phone numbers.
var phones = newPhoneCache()

// phoneCache maps a 128-bit keyed hash of a number to what parsePhone
// found, without the number, in a memo (recent.go) of two generations of
// at most phoneCacheSize entries: memory is bounded and numbers in use
// stay. The hash seeds are random per process, so nobody can aim two
// numbers at one entry.
type phoneCache struct {
	seeds [2]maphash.Seed
	*memo[[2]uint64, phoneFacts]
}

func newPhoneCache() *phoneCache {
	return &phoneCache{
		seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
		memo:  newMemo[[2]uint64, phoneFacts](phoneCacheSize),
	}
}

func (c *phoneCache) key(to string) [2]uint64 {
	return [2]uint64{maphash.String(c.seeds[0], to), maphash.String(c.seeds[1], to)}
}

// phoneFacts is what the cache keeps of a valid number, in three bytes:
// its region (ISO 3166 alpha-2) and the index of its type in
// phoneTypes.
type phoneFacts struct {
	region [2]byte
	typ    uint8
}

// phoneTypes indexes the number types for phoneFacts.
var phoneTypes = []NumberType{NumberUnknown, NumberMobile, NumberFixedLine, NumberFixedLineOrMobile,
	NumberTollFree, NumberPremiumRate, NumberSharedCost, NumberVoIP, NumberPersonal, NumberPager,
	NumberUAN, NumberVoicemail}

// factsOf packs what the cache keeps of d, a phone number parsePhone
// accepted; false if it does not fit (never for what parsePhone returns).
func factsOf(d Destination) (phoneFacts, bool) {
	if d.Kind != DestinationPhone || len(d.Region) != 2 {
		return phoneFacts{}, false
	}
	i := slices.Index(phoneTypes, d.Type)
	if i < 0 {
		return phoneFacts{}, false
	}
	return phoneFacts{region: [2]byte{d.Region[0], d.Region[1]}, typ: uint8(i)}, true
}

// destination is the Destination of number to with facts f.
func (f phoneFacts) destination(to string) Destination {
	return Destination{Address: to, Kind: DestinationPhone, Region: regionName(f.region), Type: phoneTypes[f.typ]}
}

// regionNames holds each two-letter region's name as a string, so that a
// cache hit allocates none.
var regionNames = func() map[[2]byte]string {
	m := make(map[[2]byte]string)
	for r := range phonenumbers.GetSupportedRegions() {
		if len(r) == 2 {
			m[[2]byte{r[0], r[1]}] = r
		}
	}
	return m
}()

func regionName(r [2]byte) string {
	if s, ok := regionNames[r]; ok {
		return s
	}
	return string(r[:])
}

func parsePhone(to string) (Destination, error) {
	if len(to) > 16 {
		return Destination{}, invalid("to", "is not a valid E.164 phone number: at most 15 digits after '+'")
	}
	for _, r := range to[1:] {
		if r < '0' || r > '9' {
			return Destination{}, invalid("to", "is not a valid E.164 phone number: only digits may follow '+'")
		}
	}
	num, err := phonenumbers.Parse(to, "")
	// Possible (right length for its country) rather than valid (in an
	// allocated range): reserved ranges such as the UK's 07700 900xxx are
	// what documentation and tests use, and screening number types is the
	// fraud rules' job, not the parser's.
	if err != nil || !phonenumbers.IsPossibleNumber(num) {
		return Destination{}, invalid("to", "is not a valid phone number for its country code")
	}
	if phonenumbers.Format(num, phonenumbers.E164) != to {
		// The parser drops a national trunk prefix (+49 0151… → +49151…);
		// silently sending to another number than the one given is worse
		// than refusing it.
		return Destination{}, invalid("to", "is not in E.164 form: drop the national trunk prefix after the country code")
	}
	region := phonenumbers.GetRegionCodeForNumber(num)
	if region == "" || region == "ZZ" {
		region = phonenumbers.GetRegionCodeForCountryCode(int(num.GetCountryCode()))
	}
	if region == "" || region == "ZZ" || region == "001" {
		return Destination{}, invalid("to", "is not a phone number of a country")
	}
	typ, ok := numberTypes[phonenumbers.GetNumberType(num)]
	if !ok {
		typ = NumberUnknown
	}
	return Destination{
		Address: to,
		Kind:    DestinationPhone,
		Region:  region,
		Type:    typ,
	}, nil
}

func parseEmail(to string) (Destination, error) {
	if len(to) > 254 || !utf8.ValidString(to) {
		return Destination{}, invalid("to", "is not a valid e-mail address")
	}
	addr, err := mail.ParseAddress(to)
	if err != nil || addr.Address != to || addr.Name != "" {
		return Destination{}, invalid("to", "is not a valid e-mail address (give the bare address, such as ana@example.com)")
	}
	at := strings.LastIndexByte(to, '@')
	local, domain := to[:at], strings.ToLower(to[at+1:])
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		return Destination{}, invalid("to", "is not a valid e-mail address: the domain needs a dot")
	}
	return Destination{Address: local + "@" + domain, Kind: DestinationEmail}, nil
}

// MaskDestination returns a form of a destination that is safe for logs and
// metrics: enough to tell numbers apart when debugging, too little to
// identify a person. "+447700900123" → "+44*******123", "ana@example.com"
// → "a***@example.com".
func MaskDestination(to string) string {
	switch {
	case strings.HasPrefix(to, "+") && len(to) > 6:
		return to[:3] + strings.Repeat("*", len(to)-6) + to[len(to)-3:]
	case strings.Contains(to, "@"):
		at := strings.LastIndexByte(to, '@')
		if at <= 0 {
			return "***" + to[at:]
		}
		// A fixed number of stars hides the local part's length too.
		r, _ := utf8.DecodeRuneInString(to)
		return string(r) + "***" + to[at:]
	case len(to) > 8:
		return to[:6] + "…"
	}
	return "***"
}
