// Validators of the pii stage: Luhn, card IIN ranges, IBAN mod-97, SSN ranges, NANP, IPs, entropy.
#include "pipeline/internal/validators.h"

#include <arpa/inet.h>

#include <array>
#include <cmath>
#include <cstring>

namespace parapet::pipeline::internal {
namespace {

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

int PrefixNum(std::string_view d, size_t n) {
  int v = 0;
  for (size_t i = 0; i < n && i < d.size(); ++i) v = v * 10 + (d[i] - '0');
  return v;
}

struct IbanCountry {
  const char* code;
  int length;
};

// ISO 13616 registry (SWIFT IBAN registry), country code -> IBAN length.
constexpr std::array<IbanCountry, 88> kIbanLengths = {{
    {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16}, {"BG", 22},
    {"BH", 22}, {"BI", 27}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24},
    {"DE", 22}, {"DJ", 27}, {"DK", 18}, {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18},
    {"FK", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22}, {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27},
    {"GT", 28}, {"HR", 21}, {"HU", 28}, {"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IS", 26}, {"IT", 27},
    {"JO", 30}, {"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20}, {"LU", 20},
    {"LV", 21}, {"LY", 25}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19}, {"MN", 20}, {"MR", 27},
    {"MT", 31}, {"MU", 30}, {"NI", 28}, {"NL", 18}, {"NO", 15}, {"OM", 23}, {"PK", 24}, {"PL", 28},
    {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"RU", 33}, {"SA", 24}, {"SC", 31},
    {"SD", 18}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"SO", 23}, {"ST", 25}, {"SV", 28},
    {"TL", 23}, {"TN", 24}, {"TR", 26}, {"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20}, {"YE", 30},
}};

int IbanLength(std::string_view cc) {
  for (const IbanCountry& c : kIbanLengths) {
    if (cc == c.code) return c.length;
  }
  return -1;
}

int Base64UrlValue(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-' || c == '+') return 62;
  if (c == '_' || c == '/') return 63;
  return -1;
}

}  // namespace

std::string DigitsOnly(std::string_view s) {
  std::string d;
  for (char c : s) {
    if (c >= '0' && c <= '9') d.push_back(c);
  }
  return d;
}

bool LuhnValid(std::string_view digits) {
  if (!AllDigits(digits)) return false;
  int sum = 0;
  bool dbl = false;
  for (size_t i = digits.size(); i-- > 0;) {
    int v = digits[i] - '0';
    if (dbl) v = v * 2 > 9 ? v * 2 - 9 : v * 2;
    sum += v;
    dbl = !dbl;
  }
  return sum % 10 == 0;
}

const char* CardBrand(std::string_view d) {
  if (!AllDigits(d)) return "";
  const size_t n = d.size();
  const int p1 = PrefixNum(d, 1), p2 = PrefixNum(d, 2), p3 = PrefixNum(d, 3), p4 = PrefixNum(d, 4),
            p6 = PrefixNum(d, 6);
  if (p1 == 4 && (n == 13 || n == 16 || n == 19)) return "visa";
  if (((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) && n == 16) return "mastercard";
  if ((p2 == 34 || p2 == 37) && n == 15) return "amex";
  if ((p4 == 6011 || p2 == 65 || (p3 >= 644 && p3 <= 649) || (p6 >= 622126 && p6 <= 622925)) &&
      n >= 16 && n <= 19) {
    return "discover";
  }
  if (p4 >= 3528 && p4 <= 3589 && n >= 16 && n <= 19) return "jcb";
  if ((p4 == 2131 || p4 == 1800) && n == 15) return "jcb";  // JCB's older 15-digit ranges
  if (((p3 >= 300 && p3 <= 305) || p2 == 36 || p2 == 38 || p2 == 39) && n >= 14 && n <= 19) {
    return "diners";
  }
  return "";
}

bool CreditCardValid(std::string_view digits) {
  return digits.size() >= 13 && digits.size() <= 19 && CardBrand(digits)[0] != '\0' &&
         LuhnValid(digits);
}

bool IbanValid(std::string_view s) {
  if (s.size() < 15 || s.size() > 34) return false;
  if (!(s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z')) return false;
  if (!(s[2] >= '0' && s[2] <= '9' && s[3] >= '0' && s[3] <= '9')) return false;
  if (IbanLength(s.substr(0, 2)) != static_cast<int>(s.size())) return false;
  // Move the first four characters to the end, letters -> 10..35, then mod 97 piecewise.
  int rem = 0;
  for (size_t k = 0; k < s.size(); ++k) {
    char c = s[(k + 4) % s.size()];
    if (c >= '0' && c <= '9') {
      rem = (rem * 10 + (c - '0')) % 97;
    } else if (c >= 'A' && c <= 'Z') {
      rem = (rem * 100 + (c - 'A' + 10)) % 97;
    } else {
      return false;
    }
  }
  return rem == 1;
}

bool SsnValid(std::string_view d) {
  if (d.size() != 9 || !AllDigits(d)) return false;
  const int area = PrefixNum(d, 3), group = PrefixNum(d.substr(3), 2),
            serial = PrefixNum(d.substr(5), 4);
  if (area == 0 || area == 666 || area >= 900) return false;
  return group != 0 && serial != 0;
}

bool NanpValid(std::string_view d, bool reject_fiction) {
  if (d.size() != 10 || !AllDigits(d)) return false;
  if (d[0] < '2' || d[3] < '2') return false;
  // N11 codes (211, 311, ..., 911) are service codes, never area codes or exchanges.
  if (d[1] == '1' && d[2] == '1') return false;
  if (d[4] == '1' && d[5] == '1') return false;
  if (reject_fiction && d.substr(3, 3) == "555") {
    int line = PrefixNum(d.substr(6), 4);
    if (line >= 100 && line <= 199) return false;
  }
  return true;
}

bool Ipv4Valid(std::string_view s) {
  int parts = 0;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = i;
    while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
    size_t len = j - i;
    if (len == 0 || len > 3 || (len > 1 && s[i] == '0')) return false;
    if (PrefixNum(s.substr(i), len) > 255) return false;
    ++parts;
    if (j == s.size()) break;
    if (s[j] != '.') return false;
    i = j + 1;
  }
  return parts == 4;
}

bool Ipv6Valid(std::string_view s) {
  if (s.size() < 2 || s.size() > 45) return false;
  char buf[64];
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  unsigned char addr[16];
  return inet_pton(AF_INET6, buf, addr) == 1;
}

double ShannonEntropy(std::string_view s) {
  if (s.empty()) return 0.0;
  std::array<int, 256> counts{};
  for (char c : s) ++counts[static_cast<unsigned char>(c)];
  double h = 0.0;
  const double n = static_cast<double>(s.size());
  for (int c : counts) {
    if (c == 0) continue;
    double p = c / n;
    h -= p * std::log2(p);
  }
  return h;
}

bool Base64UrlDecode(std::string_view in, std::string* out) {
  out->clear();
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = Base64UrlValue(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return true;
}

bool JwtHeaderValid(std::string_view header_b64url) {
  std::string json;
  if (!Base64UrlDecode(header_b64url, &json)) return false;
  size_t b = json.find_first_not_of(" \t\r\n");
  size_t e = json.find_last_not_of(" \t\r\n");
  if (b == std::string::npos || json[b] != '{' || json[e] != '}') return false;
  return json.find("\"alg\"") != std::string::npos;
}

}  // namespace parapet::pipeline::internal
