package whatsapp

import "strings"

// supportedLanguages are the template languages WhatsApp has long
// supported, in the order of Meta's list
// (https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/supported-languages).
// Meta adds languages and regional variants over time (en_AU, ar_EG, ...);
// those are used only when listed in Config.Languages, so an unlisted
// locale falls back to its base language, which templates are far more
// often translated into.
var supportedLanguages = []string{
	"af", "sq", "ar", "az", "bn", "bg", "ca", "zh_CN", "zh_HK", "zh_TW",
	"hr", "cs", "da", "nl", "en", "en_GB", "en_US", "et", "fil", "fi",
	"fr", "de", "el", "gu", "ha", "he", "hi", "hu", "id", "ga",
	"it", "ja", "kn", "kk", "ko", "lo", "lv", "lt", "mk", "ms",
	"ml", "mr", "nb", "fa", "pl", "pt_BR", "pt_PT", "pa", "ro", "ru",
	"sr", "sk", "sl", "es", "es_AR", "es_ES", "es_MX", "sw", "sv", "ta",
	"te", "th", "tr", "uk", "ur", "uz", "vi", "zu",
}

// languageAliases map BCP 47 language subtags to the one WhatsApp uses.
var languageAliases = map[string]string{
	"no": "nb", // Norwegian: WhatsApp has Bokmål
	"iw": "he", // deprecated subtag for Hebrew
	"in": "id", // deprecated subtag for Indonesian
	"tl": "fil",
}

// matchLanguage maps a BCP 47 locale (en-US, pt-br, zh-Hant-TW) to one of
// available, trying in order: language_REGION (en_US); for Chinese, the
// region its script implies (Hant: zh_TW then zh_HK; Hans: zh_CN); the
// bare language (en); and the first of available with that language
// (pt: pt_BR, when there is no bare pt). ok is false when none fits.
func matchLanguage(locale string, available []string) (code string, ok bool) {
	lang, script, region := parseLocale(locale)
	if lang == "" {
		return "", false
	}
	if a, ok := languageAliases[lang]; ok {
		lang = a
	}
	var candidates []string
	if region != "" {
		candidates = append(candidates, lang+"_"+region)
	}
	if lang == "zh" {
		switch script {
		case "Hant":
			candidates = append(candidates, "zh_TW", "zh_HK")
		case "Hans":
			candidates = append(candidates, "zh_CN")
		}
	}
	candidates = append(candidates, lang)
	for _, c := range candidates {
		for _, a := range available {
			if a == c {
				return a, true
			}
		}
	}
	for _, a := range available {
		if strings.HasPrefix(a, lang+"_") {
			return a, true
		}
	}
	return "", false
}

// parseLocale reads the language, script and region subtags of a BCP 47
// tag (also with '_' separators), normalised to lowercase, title case and
// uppercase. A numeric region (es-419) is ignored. lang is "" for a tag
// that does not start with a 2 or 3 letter language.
func parseLocale(tag string) (lang, script, region string) {
	parts := strings.FieldsFunc(tag, func(r rune) bool { return r == '-' || r == '_' })
	if len(parts) == 0 || len(parts[0]) < 2 || len(parts[0]) > 3 || !allLetters(parts[0]) {
		return "", "", ""
	}
	lang = strings.ToLower(parts[0])
	for _, p := range parts[1:] {
		switch {
		case len(p) == 4 && allLetters(p) && script == "" && region == "":
			script = strings.ToUpper(p[:1]) + strings.ToLower(p[1:])
		case len(p) == 2 && allLetters(p):
			return lang, script, strings.ToUpper(p)
		case len(p) == 3 && allDigits(p):
			return lang, script, ""
		default:
			return lang, script, "" // a variant or extension: no region follows
		}
	}
	return lang, script, ""
}

func allLetters(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return s != ""
}
