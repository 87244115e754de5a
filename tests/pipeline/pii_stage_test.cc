#include "pipeline/stages/pii_stage.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <thread>

namespace parapet::pipeline {
namespace {

PiiStageConfig AllDetectors() {
  PiiStageConfig c;
  for (const std::string& n : PiiDetectorNames()) c.detectors.push_back({.name = n});
  return c;
}

std::unique_ptr<Stage> MustBuild(const PiiStageConfig& c) {
  auto r = NewPiiStage(c);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : nullptr;
}

// "TYPE=value" for each finding, value cut from the ORIGINAL text by the finding's span.
std::vector<std::string> Scan(const Stage& stage, const std::string& text) {
  Input in;
  in.messages.push_back({"user", ScanText(text)});
  StageResult out;
  Status s = stage.Inspect(in, out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  std::vector<std::string> got;
  for (const Finding& f : out.findings) {
    got.push_back(f.type + "=" + text.substr(f.span.begin, f.span.end - f.span.begin));
  }
  return got;
}

using V = std::vector<std::string>;

class PiiStageTest : public ::testing::Test {
 protected:
  void SetUp() override { stage_ = MustBuild(AllDetectors()); }
  V S(const std::string& t) { return Scan(*stage_, t); }
  std::unique_ptr<Stage> stage_;
};

TEST_F(PiiStageTest, Email) {
  EXPECT_EQ(S("mail jane.doe+x@mail.example.co.uk now"), V{"EMAIL=jane.doe+x@mail.example.co.uk"});
  EXPECT_EQ(S("not an email: a@b, x@localhost, user@ or a..b@c.com"), V{});
}

TEST_F(PiiStageTest, CreditCards) {
  EXPECT_EQ(S("card 4111 1111 1111 1111 exp 12/29"), V{"CREDIT_CARD=4111 1111 1111 1111"});
  EXPECT_EQ(S("amex 3782-822463-10005."), V{"CREDIT_CARD=3782-822463-10005"});
  EXPECT_EQ(S("5555555555554444"), V{"CREDIT_CARD=5555555555554444"});
  // A valid card followed by another digit group: the card alone is reported.
  EXPECT_EQ(S("4111 1111 1111 1111 2024"), V{"CREDIT_CARD=4111 1111 1111 1111"});
}

TEST_F(PiiStageTest, NumbersThatLookLikeCardsAreNot) {
  EXPECT_EQ(S("1234-5678-9012-3456"), V{});     // fails Luhn
  EXPECT_EQ(S("4111 1111 1111 1112"), V{});     // one digit off
  EXPECT_EQ(S("order 9000000000000008"), V{});  // Luhn-valid, no issuer starts with 9
  EXPECT_EQ(S("0000 0000 0000 0000"), V{});
  EXPECT_EQ(S("4111-1111 1111-1111"), V{});   // mixed separators
  EXPECT_EQ(S("ts 41111111111111110"), V{});  // 17 digits, Luhn fails
}

TEST_F(PiiStageTest, Iban) {
  EXPECT_EQ(S("pay to GB82 WEST 1234 5698 7654 32 today"), V{"IBAN=GB82 WEST 1234 5698 7654 32"});
  EXPECT_EQ(S("iban de89370400440532013000"), V{"IBAN=de89370400440532013000"});
  EXPECT_EQ(S("GB82WEST12345698765433"), V{});  // checksum off by one
}

TEST_F(PiiStageTest, UsSsn) {
  EXPECT_EQ(S("ssn 123-45-6789"), V{"US_SSN=123-45-6789"});
  EXPECT_EQ(S("id 123-45-6789"), V{"US_SSN=123-45-6789"});
  EXPECT_EQ(S("666-45-6789 900-12-3456 123-00-6789 123-45-0000 000-12-3456"), V{});
  EXPECT_EQ(S("my SSN is 123456789"), V{"US_SSN=123456789"});
  EXPECT_EQ(S("order 123456789 shipped"), V{});  // a bare 9-digit run needs context
  EXPECT_EQ(S("part 123-45-6789-01"), V{});      // part of a longer number
}

TEST_F(PiiStageTest, Phones) {
  EXPECT_EQ(S("call (415) 555-2671 today"), V{"PHONE=(415) 555-2671"});
  EXPECT_EQ(S("415.555.2671"), V{"PHONE=415.555.2671"});
  EXPECT_EQ(S("+1-984-182-0190"), V{"PHONE=+1-984-182-0190"});
  EXPECT_EQ(S("ring +44 20 7946 0958 or +46 (0)8 928 571 38"),
            (V{"PHONE=+44 20 7946 0958", "PHONE=+46 (0)8 928 571 38"}));
  EXPECT_EQ(S("phone: 4155552671"), V{"PHONE=4155552671"});
}

TEST_F(PiiStageTest, NumbersThatLookLikePhonesAreNot) {
  EXPECT_EQ(S("(015) 555-2671"), V{});
  EXPECT_EQ(S("ref 000-12-3456"),
            V{});  // "00" is an international prefix, not a trunk  // area code starts with 0
  EXPECT_EQ(S("415-155-2671"), V{});   // exchange starts with 1
  EXPECT_EQ(S("id 4155552671"), V{});  // bare 10 digits without a phone word
  EXPECT_EQ(S("+12 34"), V{});         // too few digits for E.164
  EXPECT_EQ(S("2024-01-15 10:30"), V{});
  EXPECT_EQ(S("call with id ff7fbdf87916427ab7aa27dc"), V{});  // digits inside a hex id
}

TEST_F(PiiStageTest, IpAddressesNotVersions) {
  EXPECT_EQ(S("from 192.168.10.1, then"), V{"IP_ADDRESS=192.168.10.1"});
  EXPECT_EQ(S("host 2001:db8::8a2e:370:7334 up"), V{"IP_ADDRESS=2001:db8::8a2e:370:7334"});
  EXPECT_EQ(S("upgrade to v1.2.3.4 or version 10.0.0.1 or 1.2.3"), V{});
  EXPECT_EQ(S("999.1.1.1 and 1.2.3.4.5 and 10:30:45 and std::map"), V{});
}

TEST_F(PiiStageTest, Secrets) {
  EXPECT_EQ(S("key AKIAIOSFODNN7EXAMPLE"), V{"SECRET_AWS_ACCESS_KEY=AKIAIOSFODNN7EXAMPLE"});
  EXPECT_EQ(S("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"),
            V{"SECRET_AWS_SECRET_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"});
  std::string gh = "ghp_" + std::string("aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5A");
  EXPECT_EQ(S("token " + gh), V{"SECRET_GITHUB_TOKEN=" + gh});
  EXPECT_EQ(S("xoxb-123456789012-abcdefABCDEF"),
            V{"SECRET_SLACK_TOKEN=xoxb-123456789012-abcdefABCDEF"});
  EXPECT_EQ(S("sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
            V{"SECRET_STRIPE_KEY=sk_live_4eC39HqLyjWDarjtT1zdp7dc"});
  std::string jwt =
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwi"
      "aWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
  EXPECT_EQ(S("Bearer " + jwt), V{"SECRET_JWT=" + jwt});
  std::string pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----";
  EXPECT_EQ(S("x\n" + pem + "\ny"), V{"SECRET_PRIVATE_KEY=" + pem});
  EXPECT_EQ(S("api_key=\"sk3Fq9ZpL0xY7wR2tB8nKd4\""), V{"SECRET_GENERIC=sk3Fq9ZpL0xY7wR2tB8nKd4"});
  EXPECT_EQ(S("{\"Client_Secret\": \"Zx81pQ-7vKd_93LmN2bYt0Rq\"}"),
            V{"SECRET_GENERIC=Zx81pQ-7vKd_93LmN2bYt0Rq"});  // JSON, mixed-case key
}

TEST_F(PiiStageTest, NotSecrets) {
  EXPECT_EQ(S("request_token=123e4567-e89b-12d3-a456-426614174000"), V{});  // a UUID
  EXPECT_EQ(
      S("trace 123e4567-e89b-12d3-a456-426614174000 and 550e8400-e29b-41d4-a716-446655440000"),
      V{});  // UUIDs in prose: no card, phone, SSN or IP in their digits
  EXPECT_EQ(S("password: passwordpasswordpassword"), V{});  // low entropy
  EXPECT_EQ(S("akiaiosfodnn7example AKIA1234"), V{});       // lower case; too short
  EXPECT_EQ(S("ghp_short and eyJub3Q.eyJhIjoxfQ.x"), V{});  // short; JWT header lacks alg
  EXPECT_EQ(S("sk_test_4eC39HqLyjWDarjtT1zdp7dc"), V{});    // test keys are not live secrets
}

TEST(PiiStage, ActionsRuleIdsAndScores) {
  PiiStageConfig c;
  c.id = "in-pii";
  c.detectors = {
      {.name = "email"}, {.name = "secrets"}, {.name = "phone", .action = Action::kFlag}};
  auto stage = MustBuild(c);
  Input in;
  in.messages.push_back({"user", ScanText("a@b.com AKIAIOSFODNN7EXAMPLE call 415-555-2671")});
  StageResult out;
  ASSERT_TRUE(stage->Inspect(in, out).ok());
  ASSERT_EQ(out.findings.size(), 3u);
  EXPECT_EQ(out.findings[0].rule_id, "in-pii.email");
  EXPECT_EQ(out.findings[0].action, Action::kRedact);
  EXPECT_EQ(out.findings[1].rule_id, "in-pii.aws_key");
  EXPECT_EQ(out.findings[1].action, Action::kBlock);
  EXPECT_EQ(out.findings[2].rule_id, "in-pii.phone");
  EXPECT_EQ(out.findings[2].action, Action::kFlag);
  EXPECT_GT(out.findings[2].score, 0.9);  // a phone word just before
  // Only the enabled detectors run.
  EXPECT_EQ(Scan(*stage, "4111111111111111 123-45-6789"), V{});
  c.min_score = 0.99;
  auto strict = MustBuild(c);
  EXPECT_EQ(Scan(*strict, "a@b.com 415-555-2671"), V{"EMAIL=a@b.com"});
}

TEST(PiiStage, FactoryErrorsNameTheField) {
  PiiStageConfig c;
  EXPECT_EQ(NewPiiStage(c).status().message(), "pii.detectors: empty");
  c.detectors = {{.name = "email"}, {.name = "passport"}};
  EXPECT_EQ(NewPiiStage(c).status().message(),
            "pii.detectors[1].name: unknown detector 'passport'");
  c.detectors = {{.name = "email"}, {.name = "email"}};
  EXPECT_EQ(NewPiiStage(c).status().message(),
            "pii.detectors[1].name: detector 'email' listed twice");
  c.detectors = {{.name = "email"}};
  c.min_score = 1.5;
  EXPECT_EQ(NewPiiStage(c).status().message(), "pii.min_score: must be in [0, 1]");
  c.min_score = 0;
  c.detectors = {{.name = "secrets"}, {.name = "email"}};
  c.max_mem_bytes = 16 << 10;  // too small for the email pattern's RE2
  auto small = NewPiiStage(c);
  ASSERT_FALSE(small.ok());
  EXPECT_NE(small.status().message().find("max_mem_bytes"), std::string::npos)
      << small.status().message();
  c.max_mem_bytes = 1 << 20;  // enough for every detector (about 400 KB are needed)
  auto enough = NewPiiStage(c);
  EXPECT_TRUE(enough.ok()) << enough.status().message();
}

TEST(PiiStage, SpansMapBackThroughARewrittenText) {
  auto stage = MustBuild(AllDetectors());
  // "a\u200B@b.com": a zero-width space inside the address, removed by a rewriting stage.
  std::string original = "mail a\xE2\x80\x8B@b.com!";
  Input in;
  in.messages.push_back({"user", ScanText(original)});
  std::vector<uint32_t> origin = {0, 1, 2, 3, 4, 5, 9, 10, 11, 12, 13, 14, 15, 16};
  in.messages[0].text.Rewrite("mail a@b.com!", origin);
  StageResult out;
  ASSERT_TRUE(stage->Inspect(in, out).ok());
  ASSERT_EQ(out.findings.size(), 1u);
  EXPECT_EQ(original.substr(out.findings[0].span.begin,
                            out.findings[0].span.end - out.findings[0].span.begin),
            "a\xE2\x80\x8B@b.com");
}

TEST(PiiStage, SeveralMessagesAndOffsets) {
  auto stage = MustBuild(AllDetectors());
  Input in;
  in.messages.push_back({"system", ScanText("nothing here")});
  in.messages.push_back({"user", ScanText("x 192.168.0.1 y jane@example.org")});
  StageResult out;
  ASSERT_TRUE(stage->Inspect(in, out).ok());
  ASSERT_EQ(out.findings.size(), 2u);
  EXPECT_EQ(out.findings[0].message, 1);
  EXPECT_EQ(out.findings[0].span, (Span{2, 13}));
  EXPECT_EQ(out.findings[1].span, (Span{16, 32}));
}

TEST(PiiStage, ConcurrentInspectFromFourThreads) {
  auto stage = MustBuild(AllDetectors());
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 300; ++i) {
        V got = Scan(
            *stage, "card 4111 1111 1111 1111, mail a@b.com, ip 10.0.0." + std::to_string(i % 256));
        if (got.size() != 3) ++bad;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
}

// Random digit-heavy text (with stray UTF-8 and invalid bytes): every span is non-empty and
// inside the original text; nothing crashes.
TEST(PiiStage, RandomInputSpansStayInRange) {
  auto stage = MustBuild(AllDetectors());
  const std::string alphabet = "0123456789 -.:+()@xAKIAgh_=eyJ\n\xC3\xA9\xFF";
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string text(rng() % 200, ' ');
    for (char& ch : text) ch = alphabet[rng() % alphabet.size()];
    Input in;
    in.messages.push_back({"user", ScanText(text)});
    StageResult out;
    ASSERT_TRUE(stage->Inspect(in, out).ok());
    for (const Finding& f : out.findings) {
      ASSERT_LT(f.span.begin, f.span.end) << text;
      ASSERT_LE(f.span.end, text.size()) << text;
    }
  }
}

// Prints MB/s over ~1 MB of prose with some PII in it; asserts nothing about speed.
TEST(PiiStage, ThroughputOneMegabyte) {
  auto stage = MustBuild(AllDetectors());
  const std::string para =
      "Thanks for the update on the quarterly report, the numbers from 2023 look fine and the "
      "meeting is at 10:30 in room 4.2. Version 1.2.3 shipped; order 12345678 is on its way. ";
  std::string text;
  for (int i = 0; text.size() < (1u << 20); ++i) {
    text += para;
    if (i % 20 == 0)
      text += "Reach me at jane" + std::to_string(i) + "@example.com or 415-555-2671. ";
  }
  Input in;
  in.messages.push_back({"user", ScanText(text)});
  StageResult warm;
  ASSERT_TRUE(stage->Inspect(in, warm).ok());
  const int iters = 5;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < iters; ++i) {
    StageResult out;
    ASSERT_TRUE(stage->Inspect(in, out).ok());
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("pii stage (all detectors): %zu bytes, %zu findings: %.1f MB/s\n", text.size(),
              warm.findings.size(), iters * static_cast<double>(text.size()) / 1e6 / s);
}

}  // namespace
}  // namespace parapet::pipeline
