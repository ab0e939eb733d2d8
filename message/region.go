package message

import "strings"

// LocaleForRegion returns the built-in locale to write in to a phone number
// of region (ISO 3166-1 alpha-2, any case) when neither the request nor the
// service names a language: the language most people there read in SMS
// from banks and services, if the catalog has it. It returns "" when the
// catalog has nothing better than its fallback for the region (Korea,
// Sweden, Greece ...) or the region is unknown; [Catalog.Render] then
// writes English.
//
// Where a country has several languages the table picks the one most
// people read, and some choices are judgement, made on purpose:
//
//   - India gets English, not Hindi: English is what Indian banks and
//     services send OTPs in, what every Indian reader expects there, and
//     half the country does not speak Hindi. Hindi stays available by
//     request.
//   - Morocco, Algeria and Tunisia get French, the language their banks and
//     operators mostly write SMS in; the rest of the Arab world gets Arabic.
//   - Belgium gets Dutch and Switzerland German, the majority languages;
//     Canada English. A request's own locale always wins over this guess.
//   - Ukraine gets nothing (so English), never Russian; Belarus,
//     Kazakhstan, Kyrgyzstan, Tajikistan and Uzbekistan, where Russian is
//     the common language of business, get Russian.
//   - Singapore and Malaysia get English, their language of business
//     (Malay would otherwise match Indonesian); Hong Kong and Macau get
//     Traditional Chinese, Taiwan too, mainland China Simplified.
//   - Brazil gets "pt-BR"; Portugal and the African countries that write
//     European Portuguese get "pt-PT".
func LocaleForRegion(region string) string {
	return regionLocales[strings.ToUpper(strings.TrimSpace(region))]
}

// regionLocales maps a region to the locale LocaleForRegion gives it.
var regionLocales = func() map[string]string {
	m := map[string]string{}
	for locale, regions := range map[string]string{
		"en": "US GB IE AU NZ CA IN PK LK BD NG GH KE UG TZ ZA ZW ZM BW NA MW SL LR GM RW SS " +
			"SG MY PH MT JM BS BB TT GY BZ AG DM GD KN LC VC BM KY VG VI AI MS TC FK " +
			"GU AS MP PW FM MH FJ PG SB VU WS TO KI NR TV CK NU MU SC IO GI IM JE GG",
		"de": "DE AT CH LI",
		"fr": "FR MC LU MA DZ TN CI SN ML BF NE TG BJ GN CM CD CG GA CF TD MG KM DJ HT " +
			"RE GP MQ GF YT PF NC PM BL MF WF BI",
		"es":      "ES MX AR CO PE VE CL EC GT CU BO DO HN PY SV NI CR PA UY PR GQ EA IC",
		"pt-BR":   "BR",
		"pt-PT":   "PT AO MZ CV GW ST TL",
		"it":      "IT SM VA",
		"nl":      "NL BE SR AW CW SX BQ",
		"pl":      "PL",
		"tr":      "TR",
		"ru":      "RU BY KZ KG TJ UZ",
		"ar":      "EG SA AE QA KW BH OM JO LB SY IQ YE PS LY SD MR",
		"id":      "ID",
		"ja":      "JP",
		"zh-Hans": "CN",
		"zh-Hant": "TW HK MO",
	} {
		for _, r := range strings.Fields(regions) {
			if m[r] != "" {
				panic("message: region " + r + " is in two locales")
			}
			m[r] = locale
		}
	}
	return m
}()
