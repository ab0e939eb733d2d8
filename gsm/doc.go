// Package gsm encodes the text of an SMS and cuts it into parts: the GSM
// 7-bit default alphabet with its extension table (3GPP TS 23.038), UCS-2
// and Latin-1, and concatenation with user data headers (TS 23.040). The
// SMPP route submits what [Split] returns; the simulated SMSC and the tests
// put it back together with [ParsePart] and [Reassemble]; templates report
// their cost with [Count].
//
// # Codings
//
// Auto picks GSM-7 whenever every character of the text is in the default
// alphabet or the extension table, and UCS-2 otherwise; one character
// outside GSM-7 (an emoji, a "ç", a curly quote) makes the whole message
// UCS-2, which is why a template should report its count. There is no
// transliteration and no national language shift table: a message
// reassembles to exactly the text it was made from.
//
//	coding   data_coding  unit                        one SMS  per part (8-bit ref / 16-bit ref)
//	GSM7     0x00         septet; ^{}\[~]|€ and FF: 2  160      153 / 152
//	UCS2     0x08         UTF-16 code unit; emoji: 2   70       67 / 66
//	Latin1   0x03         octet                        140      134 / 133
//
// # Cutting
//
// A part never ends between an escape and the character it introduces, nor
// between the two halves of a surrogate pair; the character moves to the
// next part, which may leave a part one unit short. Every part therefore
// decodes on its own. [Reassemble] joins the parts' texts before decoding,
// so it also understands senders that do cut them.
//
// With Options.Payload the text is one part for the SMPP message_payload
// TLV, and the SMSC cuts it; Message.Segments still says into how many SMS.
//
// # Packing
//
// Over SMPP, SMSCs take data_coding 0x00 unpacked, one septet per octet,
// and pack it for the air interface themselves, so [Split] returns
// unpacked septets by default and the SMPP route sends them as they are.
// Options.Packed packs them ([Pack7]) with the fill bits that align the
// first septet after the header, as TS 23.040 lays out TP-UD, for peers
// that want it so (a modem's PDU mode, a test of the air format).
//
// # "@" and SMSCs that stop at 0x00
//
// In GSM-7 "@" is septet 0x00. Some SMSCs handle the short message of a
// data_coding 0x00 submit as a C string and cut it at the first 0x00, and
// the WebOTP line that ends otpd's SMS begins with "@" ("@example.com
// #123456"): the browser would never see it. A route to such an SMSC sets
// Options.AvoidNUL, which sends such a text as UCS-2, or as Latin-1 (where
// "@" is 0x40) with NULFallback set to Latin1 and an SMSC that supports it.
// [Message.HasNUL] tells whether a message still carries 0x00 in its text.
package gsm
