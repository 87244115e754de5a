// Validators of the pii stage: checksum and structure rules that turn a regex candidate into a
// finding (a Luhn-valid card with a real issuer prefix, an IBAN whose mod-97 is 1, an SSN outside
// the never-issued ranges, ...). Pure functions of their arguments; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace parapet::pipeline::internal {

// The ASCII digits of `s`, in order (separators dropped).
std::string DigitsOnly(std::string_view s);

// Luhn (mod 10) checksum over a string of ASCII digits. False for empty or non-digit input.
bool LuhnValid(std::string_view digits);

// The card brand whose issuer prefix (IIN) and length fit `digits` ("visa", "mastercard",
// "amex", "discover", "jcb", "diners"), or "" when none does.
const char* CardBrand(std::string_view digits);

// A card number: 13..19 digits, a known brand and Luhn-valid.
bool CreditCardValid(std::string_view digits);

// An IBAN without spaces, upper case: known country, that country's length, mod-97 == 1.
bool IbanValid(std::string_view compact);

// A US SSN as 9 digits: area not 000, 666 or 900-999; group not 00; serial not 0000.
bool SsnValid(std::string_view nine_digits);

// A NANP number as 10 digits (area code + exchange + line): area code and exchange start with
// 2-9; with `reject_fiction` the 555-0100..555-0199 range reserved for fiction is rejected.
bool NanpValid(std::string_view ten_digits, bool reject_fiction);

// Dotted-quad IPv4 with each octet 0..255 and no leading zeros ("01" is rejected).
bool Ipv4Valid(std::string_view s);
// IPv6 as inet_pton(AF_INET6) accepts it.
bool Ipv6Valid(std::string_view s);

// Shannon entropy of the bytes of `s`, bits per byte; 0 for empty input.
double ShannonEntropy(std::string_view s);

// Decodes base64url (padding optional). False on any character outside the alphabet.
bool Base64UrlDecode(std::string_view in, std::string* out);

// A JWT header: base64url that decodes to a JSON object ('{' ... '}') naming "alg".
bool JwtHeaderValid(std::string_view header_b64url);

}  // namespace parapet::pipeline::internal
