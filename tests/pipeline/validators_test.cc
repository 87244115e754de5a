#include "pipeline/internal/validators.h"

#include <gtest/gtest.h>

namespace parapet::pipeline::internal {
namespace {

TEST(Validators, Luhn) {
  EXPECT_TRUE(LuhnValid("4111111111111111"));
  EXPECT_TRUE(LuhnValid("378282246310005"));
  EXPECT_FALSE(LuhnValid("4111111111111112"));
  EXPECT_FALSE(LuhnValid("1234567890123456"));
  EXPECT_FALSE(LuhnValid(""));
  EXPECT_FALSE(LuhnValid("4111-1111"));
}

TEST(Validators, CardBrandsAndLengths) {
  EXPECT_STREQ(CardBrand("4111111111111111"), "visa");
  EXPECT_STREQ(CardBrand("5555555555554444"), "mastercard");
  EXPECT_STREQ(CardBrand("2223003122003222"), "mastercard");
  EXPECT_STREQ(CardBrand("378282246310005"), "amex");
  EXPECT_STREQ(CardBrand("6011111111111117"), "discover");
  EXPECT_STREQ(CardBrand("3530111333300000"), "jcb");
  EXPECT_STREQ(CardBrand("30569309025904"), "diners");
  EXPECT_STREQ(CardBrand("213176828496175"), "jcb");  // 15-digit legacy range
  EXPECT_STREQ(CardBrand("3521213764418045"), "");    // 3521 is not a JCB IIN
  EXPECT_STREQ(CardBrand("37828224631000"), "");      // amex prefix, 14 digits
  EXPECT_STREQ(CardBrand("9111111111111111"), "");    // no issuer starts with 9
  EXPECT_TRUE(CreditCardValid("4012888888881881"));
  EXPECT_FALSE(CreditCardValid("1234567890123456"));  // fails Luhn and has no issuer
  EXPECT_FALSE(CreditCardValid("0000000000000000"));  // Luhn-valid, no issuer
}

TEST(Validators, Iban) {
  EXPECT_TRUE(IbanValid("GB82WEST12345698765432"));
  EXPECT_TRUE(IbanValid("DE89370400440532013000"));
  EXPECT_FALSE(IbanValid("GB82WEST12345698765433"));  // checksum
  EXPECT_FALSE(IbanValid("GB82WEST1234569876543"));   // GB is 22 long
  EXPECT_FALSE(IbanValid("ZZ82WEST12345698765432"));  // no such country
  EXPECT_FALSE(IbanValid("gb82west12345698765432"));  // callers upper-case first
}

TEST(Validators, Ssn) {
  EXPECT_TRUE(SsnValid("123456789"));
  EXPECT_FALSE(SsnValid("000456789"));
  EXPECT_FALSE(SsnValid("666456789"));
  EXPECT_FALSE(SsnValid("900456789"));
  EXPECT_FALSE(SsnValid("999456789"));
  EXPECT_FALSE(SsnValid("123006789"));
  EXPECT_FALSE(SsnValid("123450000"));
  EXPECT_FALSE(SsnValid("12345678"));
}

TEST(Validators, Nanp) {
  EXPECT_TRUE(NanpValid("4155552671", false));
  EXPECT_FALSE(NanpValid("0155552671", false));  // area code starts with 0
  EXPECT_FALSE(NanpValid("4151552671", false));  // exchange starts with 1
  EXPECT_FALSE(NanpValid("4159112671", false));  // N11 exchange
  EXPECT_TRUE(NanpValid("2125550123", false));
  EXPECT_FALSE(NanpValid("2125550123", true));  // 555-01xx: fiction
}

TEST(Validators, IpAddresses) {
  EXPECT_TRUE(Ipv4Valid("192.168.0.1"));
  EXPECT_TRUE(Ipv4Valid("0.0.0.0"));
  EXPECT_FALSE(Ipv4Valid("256.1.1.1"));
  EXPECT_FALSE(Ipv4Valid("1.2.3"));
  EXPECT_FALSE(Ipv4Valid("1.2.3.4.5"));
  EXPECT_FALSE(Ipv4Valid("01.2.3.4"));
  EXPECT_TRUE(Ipv6Valid("2001:db8::1"));
  EXPECT_TRUE(Ipv6Valid("6e40:4041:c617:e898:c11:40d2:c669:2eb4"));
  EXPECT_FALSE(Ipv6Valid("12:30:45"));
  EXPECT_FALSE(Ipv6Valid("2001:db8::1::2"));
}

TEST(Validators, EntropyAndJwt) {
  EXPECT_DOUBLE_EQ(ShannonEntropy(""), 0.0);
  EXPECT_DOUBLE_EQ(ShannonEntropy("aaaa"), 0.0);
  EXPECT_DOUBLE_EQ(ShannonEntropy("abab"), 1.0);
  EXPECT_GT(ShannonEntropy("sk3Fq9ZpL0xY7wR2tB8nKd4"), 4.0);
  std::string out;
  ASSERT_TRUE(Base64UrlDecode("eyJhbGciOiJIUzI1NiJ9", &out));
  EXPECT_EQ(out, "{\"alg\":\"HS256\"}");
  EXPECT_FALSE(Base64UrlDecode("ab$c", &out));
  EXPECT_TRUE(JwtHeaderValid("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"));
  EXPECT_FALSE(JwtHeaderValid("eyJzdWIiOiIxMjM0NTY3ODkwIn0"));  // {"sub":...}: no alg
}

}  // namespace
}  // namespace parapet::pipeline::internal
