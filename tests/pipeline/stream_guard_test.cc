#include "pipeline/stream_guard.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <tuple>

#include "pipeline/stages/keywords_stage.h"
#include "pipeline/stages/length_stage.h"
#include "pipeline/stages/pii_stage.h"
#include "pipeline/stages/regex_stage.h"
#include "pipeline/stages/unicode_stage.h"

namespace parapet::pipeline {
namespace {

template <typename T>
std::unique_ptr<const Stage> Must(Result<T> r) {
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(*r) : nullptr;
}

std::unique_ptr<const Stage> Regex(std::string id, std::string pattern, Action action,
                                   Mode mode = Mode::kEnforce) {
  RegexStageConfig c;
  c.id = std::move(id);
  c.mode = mode;
  c.action = action;
  RegexPatternConfig p;
  p.id = "p";
  p.pattern = std::move(pattern);
  c.patterns.push_back(p);
  return Must(NewRegexStage(c));
}

std::unique_ptr<const Stage> Keywords(std::vector<std::string> words, Action action) {
  KeywordsStageConfig c;
  c.id = "kw";
  KeywordList l;
  l.name = "names";
  l.words = std::move(words);
  l.action = action;
  c.lists.push_back(l);
  return Must(NewKeywordsStage(c));
}

std::unique_ptr<const Stage> Pii() {
  PiiStageConfig c;
  for (const char* d : {"email", "credit_card", "us_ssn", "phone", "ip_address"}) {
    c.detectors.push_back(PiiDetectorConfig{d, Action::kRedact});
  }
  c.detectors.push_back(PiiDetectorConfig{"aws_key", Action::kBlock});
  return Must(NewPiiStage(c));
}

template <typename... S>
StageChain Chain(S... stage) {
  std::vector<std::unique_ptr<const Stage>> stages;
  (stages.push_back(std::move(stage)), ...);
  return StageChain(std::move(stages), OnError::kBlock);
}

struct Streamed {
  std::string text;
  size_t max_held = 0;
};

// Streams `pieces` through a guard; records the released text and the most it withheld.
Streamed Stream(StreamGuard& g, const std::vector<std::string>& pieces) {
  Streamed s;
  for (const std::string& p : pieces) {
    s.text += g.Push(p);
    if (!g.blocked()) s.max_held = std::max(s.max_held, g.held_chars());
  }
  s.text += g.Finish();
  return s;
}

std::vector<std::string> Split(const std::string& text, std::mt19937& rng, int max_piece) {
  std::vector<std::string> out;
  std::uniform_int_distribution<int> len(1, max_piece);
  for (size_t at = 0; at < text.size();) {
    const size_t n = std::min(text.size() - at, static_cast<size_t>(len(rng)));
    out.push_back(text.substr(at, n));  // may cut a UTF-8 character: the guard must cope
    at += n;
  }
  return out;
}

using Key = std::tuple<std::string, size_t, size_t>;
std::vector<Key> Keys(const std::vector<Finding>& fs) {
  std::vector<Key> k;
  for (const Finding& f : fs) k.emplace_back(f.rule_id, f.span.begin, f.span.end);
  std::sort(k.begin(), k.end());
  return k;
}

// Finds nothing and cannot tell what is pending (no PendingFrom): the guard holds back
// holdback_chars.
class OpaqueStage : public Stage {
 public:
  const std::string& id() const override { return id_; }
  std::string_view type() const override { return "opaque"; }
  Mode mode() const override { return Mode::kEnforce; }
  Status Inspect(Input&, StageResult&) const override { return Status::Ok(); }

 private:
  std::string id_ = "opaque";
};

TEST(StreamGuardTest, ReleasesTextOnceItIsHoldbackCharsBehind) {
  const StageChain chain = Chain(std::make_unique<OpaqueStage>());
  StreamGuard g(chain, {.holdback_chars = 4});
  EXPECT_EQ(g.Push("abc"), "");
  EXPECT_EQ(g.held_chars(), 3u);
  EXPECT_EQ(g.Push("defg"), "abc");
  EXPECT_EQ(g.held_chars(), 4u);
  EXPECT_EQ(g.Finish(), "defg");
  EXPECT_EQ(g.released_bytes(), 7u);
}

TEST(StreamGuardTest, NeverSplitsACharacter) {
  const StageChain chain = Chain(std::make_unique<OpaqueStage>());
  StreamGuard g(chain, {.holdback_chars = 1});
  const std::string s = "a\xC3\xA9\xE2\x82\xAC";  // a é €
  std::string out;
  for (char c : s) out += g.Push(std::string(1, c));
  // Every release ends on a character boundary: "a" then "é"; "€" is held back.
  EXPECT_EQ(out, "a\xC3\xA9");
  EXPECT_EQ(g.held_chars(), 1u);
  EXPECT_EQ(g.Finish(), "\xE2\x82\xAC");
}

TEST(StreamGuardTest, ReleasesEarlyWhenNoMatchCanBeInProgress) {
  // Keywords, regex and pii stages each say where a match could still be in progress; the
  // guard releases everything before the earliest such point, long before holdback_chars.
  const StageChain chain = Chain(Keywords({"Lily"}, Action::kBlock),
                                 Regex("deny", R"(pipe\s{0,3}bomb)", Action::kBlock), Pii());
  StreamGuard g(chain, {.holdback_chars = 64});
  EXPECT_EQ(g.Push("Once upon a time, "), "Once upon a time, ");
  EXPECT_EQ(g.held_chars(), 0u);
  EXPECT_EQ(g.Push("a girl named L"), "a girl named ");  // "L" could start Lily (or an email)
  EXPECT_EQ(g.Push("ucy"), "");                          // "Lucy" could start an email
  EXPECT_EQ(g.Push(" and a pi"), "Lucy and a ");         // "pi" could start "pipe bomb"
  EXPECT_EQ(g.Push("pe "), "");
  EXPECT_EQ(g.Push("organ. "), "pipe organ. ");
  EXPECT_EQ(g.Push("Mail bob@example.com"), "Mail ");
  // The email could still grow, and pii checks look up to 16 characters past a candidate.
  EXPECT_EQ(g.Push(" now"), "");
  EXPECT_EQ(g.Push(" and then some more."), "[EMAIL] now and then some ");
  EXPECT_EQ(g.Finish(), "more.");
  EXPECT_FALSE(g.blocked());
}

TEST(StreamGuardTest, BlockStopsReleaseBeforeTheMatch) {
  const StageChain chain = Chain(Keywords({"Lily"}, Action::kBlock));
  StreamGuard g(chain, {.holdback_chars = 8});
  std::string out;
  for (const char* p : {"Once upon a time there was a girl named ", "Li", "ly", ". She liked"}) {
    out += g.Push(p);
  }
  out += g.Finish();
  ASSERT_TRUE(g.blocked());
  EXPECT_EQ(g.block().rule_id, "kw.names");
  EXPECT_EQ(out.find("Li"), std::string::npos);
  EXPECT_TRUE(std::string("Once upon a time there was a girl named ").starts_with(out));
  EXPECT_EQ(g.Push("more"), "");
}

TEST(StreamGuardTest, RedactsInsideTheStream) {
  const StageChain chain = Chain(Keywords({"Lily"}, Action::kRedact));
  StreamGuard g(chain, {.holdback_chars = 8, .mask = "[{type}]"});
  const Streamed s = Stream(g, {"Lily and Li", "ly played. Lily", "!"});
  EXPECT_FALSE(g.blocked());
  EXPECT_EQ(s.text, "[NAMES] and [NAMES] played. [NAMES]!");
  EXPECT_EQ(g.findings().size(), 3u);
}

TEST(StreamGuardTest, OverlappingRedactionsMergeAsRedactDoes) {
  // "ab" and "bc" overlap in "abc": one mask, as Redact gives on the whole text.
  const StageChain chain =
      Chain(Regex("r1", "ab", Action::kRedact), Regex("r2", "bcd", Action::kRedact));
  const std::string text = "xxabcdyy";
  Input in;
  in.messages.push_back(Message{"assistant", ScanText(text)});
  const Verdict whole = chain.Run(in);
  const std::string expected = Redact(text, whole.findings, 0, "#");
  for (size_t hb : {3u, 4u, 8u}) {
    StreamGuard g(chain, {.holdback_chars = hb, .mask = "#"});
    std::vector<std::string> bytes;
    for (char c : text) bytes.emplace_back(1, c);
    EXPECT_EQ(Stream(g, bytes).text, expected) << "holdback " << hb;
  }
  EXPECT_EQ(expected, "xx#yy");
}

TEST(StreamGuardTest, LengthLimitBlocksOnceExceeded) {
  LengthStageConfig lc;
  lc.max_chars_total = 10;
  const StageChain chain = Chain(Must(NewLengthStage(lc)));
  StreamGuard g(chain, {.holdback_chars = 4});
  // A length limit holds nothing back: what is within the limit goes out at once.
  std::string out = g.Push("0123456");
  EXPECT_EQ(out, "0123456");
  out += g.Push("789");  // 10 chars: at the limit, not over
  EXPECT_FALSE(g.blocked());
  out += g.Push("X");
  ASSERT_TRUE(g.blocked());
  EXPECT_EQ(g.block().rule_id, "length.max_chars_total");
  out += g.Finish();
  EXPECT_EQ(out, "0123456789");
}

// A costly whole-text stage (like a guard model) that records the texts it judged and blocks a
// response containing "BAD".
class CountingJudge : public Stage {
 public:
  explicit CountingJudge(std::vector<std::string>* seen) : seen_(seen) {}
  const std::string& id() const override { return id_; }
  std::string_view type() const override { return "judge"; }
  Mode mode() const override { return Mode::kEnforce; }
  bool whole_text() const override { return true; }
  bool costly() const override { return true; }
  Status Inspect(Input& in, StageResult& out) const override {
    const std::string& t = in.messages[0].text.original();
    seen_->push_back(t);
    if (t.find("BAD") != std::string::npos) {
      out.findings.push_back(Finding{"judge.bad", "BAD", 0, Span{}, 1.0, Action::kBlock});
    }
    return Status::Ok();
  }

 private:
  std::string id_ = "judge";
  std::vector<std::string>* seen_;
};

TEST(StreamGuardTest, CostlyWholeTextStagesRunAtSentenceEndsAndNeverFallBehindTheRelease) {
  std::vector<std::string> seen;
  std::vector<std::unique_ptr<const Stage>> stages;
  stages.push_back(std::make_unique<CountingJudge>(&seen));
  const StageChain chain(std::move(stages), OnError::kBlock);
  StreamGuard g(chain, {.holdback_chars = 16});
  const std::string text = "One two three. Four five six seven eight nine ten eleven. Twelve";
  std::string out;
  for (char c : text) {
    out += g.Push(std::string(1, c));
    // Released text was judged: it is a prefix of the last text the judge saw.
    ASSERT_FALSE(!seen.empty() && out.size() > seen.back().size()) << out;
    if (seen.empty()) {
      EXPECT_EQ(out, "");
    }
  }
  out += g.Finish();
  EXPECT_EQ(out, text);
  ASSERT_FALSE(seen.empty());
  // Far fewer runs than pieces: at the two sentence ends, every 8 unjudged characters, the end.
  EXPECT_LT(seen.size(), text.size() / 4) << seen.size();
  EXPECT_EQ(seen.back(), text);
  EXPECT_NE(std::find(seen.begin(), seen.end(), "One two three."), seen.end());

  // A block: nothing after the last judged text that was clean goes out.
  seen.clear();
  StreamGuard b(chain, {.holdback_chars = 16});
  std::string got;
  for (char c : std::string("Fine so far. Then BAD things")) got += b.Push(std::string(1, c));
  got += b.Finish();
  EXPECT_TRUE(b.blocked());
  EXPECT_EQ(got.find("BAD"), std::string::npos) << got;
  EXPECT_EQ(got.rfind("Fine so far.", 0), 0u) << got;
}

// A stage that always fails: on_error decides.
class FailingStage : public Stage {
 public:
  const std::string& id() const override { return id_; }
  std::string_view type() const override { return "failing"; }
  Mode mode() const override { return Mode::kEnforce; }
  Status Inspect(Input&, StageResult&) const override { return InternalError("broken"); }

 private:
  std::string id_ = "broken";
};

TEST(StreamGuardTest, StageErrorFollowsOnError) {
  std::vector<std::unique_ptr<const Stage>> a;
  a.push_back(std::make_unique<FailingStage>());
  const StageChain closed(std::move(a), OnError::kBlock);
  StreamGuard g(closed, {.holdback_chars = 4});
  EXPECT_EQ(g.Push("hello"), "");
  EXPECT_TRUE(g.blocked());
  EXPECT_EQ(g.block().rule_id, "broken.error");

  std::vector<std::unique_ptr<const Stage>> b;
  b.push_back(std::make_unique<FailingStage>());
  const StageChain open(std::move(b), OnError::kAllow);
  StreamGuard h(open, {.holdback_chars = 4});
  EXPECT_EQ(Stream(h, {"hello", " world"}).text, "hello world");
  EXPECT_FALSE(h.blocked());
  EXPECT_GT(h.stage_errors(), 0);
}

TEST(StreamGuardTest, ShadowFindingsAreRecordedNotActedOn) {
  const StageChain chain = Chain(Regex("watch", "Lily", Action::kBlock, Mode::kShadow));
  StreamGuard g(chain, {.holdback_chars = 8});
  EXPECT_EQ(Stream(g, {"Lily met Lily"}).text, "Lily met Lily");
  EXPECT_FALSE(g.blocked());
  EXPECT_EQ(g.shadow().size(), 2u);
  EXPECT_TRUE(g.findings().empty());
}

TEST(StreamGuardTest, MatchLongerThanTheHoldbackIsStillActedOn) {
  // Outside the contract (the match is longer than holdback_chars): its start is already out,
  // but the rest is masked when it completes.
  const StageChain chain = Chain(Regex("long", "a{8}b", Action::kRedact));
  StreamGuard g(chain, {.holdback_chars = 6, .mask = "#"});
  std::vector<std::string> bytes;
  for (char c : std::string("aaaaaaaab!")) bytes.emplace_back(1, c);
  EXPECT_EQ(Stream(g, bytes).text, "aa#!");
}

// The property of DESIGN §5: for random responses and random chunkings the streamed result is
// the whole-text result. Each stage family alone (so that one stage's caution cannot hide
// another's early-release mistake) and all of them together.
struct PropertyCounts {
  int cases = 0, blocked = 0, redacted = 0, flagged = 0;
  size_t held_total = 0, pushes = 0;
};

void CheckProperty(const StageChain& chain, uint32_t seed, PropertyCounts& counts) {
  const std::vector<std::string> vocab = {"Once",
                                          "upon",
                                          "a",
                                          "time",
                                          "Lily",
                                          "lily",
                                          "LILY",
                                          "Lil",
                                          "y",
                                          "pipe",
                                          "bomb",
                                          "pipe bomb",
                                          "secret",
                                          "plan",
                                          "note",
                                          "notes",
                                          "forbidden",
                                          "word",
                                          "words",
                                          "code-1234",
                                          "code-12",
                                          "café",
                                          "日本語",
                                          "😀",
                                          "ｌｉｌｙ",
                                          "jane.doe@example.com",
                                          "4111 1111 1111 1111",
                                          "123-45-6789",
                                          "192.168.1.20",
                                          "(415) 555-2671",
                                          "AKIAIOSFODNN7EXAMPLE",
                                          "ssn",
                                          "call",
                                          "order",
                                          "1234-5678-9012-3456",
                                          "x@y",
                                          "pаypal",
                                          "\u0301",
                                          "e",
                                          "hidden",
                                          "maps",
                                          "Secret",
                                          "Ωmega",
                                          "pа",
                                          "ypal"};
  const std::vector<std::string> seps = {" ", " ", " ", ", ", ". ", "\n", "", "-", "  "};
  std::mt19937 rng(seed);
  for (int iter = 0; iter < 300; ++iter) {
    std::string text;
    const int words = std::uniform_int_distribution<int>(1, 40)(rng);
    for (int i = 0; i < words; ++i) {
      text += vocab[std::uniform_int_distribution<size_t>(0, vocab.size() - 1)(rng)];
      text += seps[std::uniform_int_distribution<size_t>(0, seps.size() - 1)(rng)];
    }
    Input in;
    in.messages.push_back(Message{"assistant", ScanText(text)});
    const Verdict whole = chain.Run(in);
    const std::string expected = Redact(text, whole.findings, 0, "[{type}]");
    for (size_t holdback : {48u, 64u, 96u}) {
      for (int max_piece : {1, 4, 12}) {
        ++counts.cases;
        StreamGuard g(chain, {.holdback_chars = holdback});
        Streamed s;
        for (const std::string& p : Split(text, rng, max_piece)) {
          s.text += g.Push(p);
          if (g.blocked()) continue;
          s.max_held = std::max(s.max_held, g.held_chars());
          counts.held_total += g.held_chars();
          ++counts.pushes;
        }
        s.text += g.Finish();
        SCOPED_TRACE("text: " + text + " | holdback " + std::to_string(holdback));
        EXPECT_LE(s.max_held, holdback);
        ASSERT_EQ(g.blocked(), whole.action == Action::kBlock);
        if (g.blocked()) {
          ++counts.blocked;
          // A prefix of the redacted text, ending before the first blocking match.
          size_t first_block = text.size();
          std::vector<Finding> redactions;
          for (const Finding& f : whole.findings) {
            if (f.action == Action::kBlock && f.message == 0) {
              first_block = std::min(first_block, f.span.begin);
            } else {
              redactions.push_back(f);
            }
          }
          // Nothing at or past the first blocking match went out in the clear (a mask may
          // cover it: a redaction that starts before it).
          for (size_t b = first_block; b < g.released_bytes(); ++b) {
            const bool masked =
                std::any_of(redactions.begin(), redactions.end(), [&](const Finding& f) {
                  return f.action == Action::kRedact && f.span.begin <= b && b < f.span.end;
                });
            ASSERT_TRUE(masked) << "byte " << b << " released in the clear: " << s.text;
          }
          EXPECT_TRUE(Redact(text, redactions, 0, "[{type}]").starts_with(s.text)) << s.text;
        } else {
          counts.redacted += whole.action == Action::kRedact;
          counts.flagged += whole.action == Action::kFlag;
          EXPECT_EQ(s.text, expected);
          EXPECT_EQ(Keys(g.findings()), Keys(whole.findings));
          EXPECT_EQ(Keys(g.shadow()), Keys(whole.shadow));
        }
      }
    }
  }
}

TEST(StreamGuardTest, PropertyStreamedEqualsWholeText) {
  auto unicode = [](Action mixed) {
    UnicodeStageConfig uc;
    uc.mixed_script_action = mixed;
    return Must(NewUnicodeStage(uc));
  };
  auto regexes = [](std::vector<std::unique_ptr<const Stage>>& v) {
    v.push_back(Regex("deny", R"((?i)\bforbidden\W{1,3}word\b)", Action::kBlock));
    v.push_back(Regex("code", R"(\bcode-\d{3,6}\b)", Action::kRedact));
    v.push_back(Regex("bomb", R"((?i)\bpipe[ \n-]{0,2}bomb)", Action::kBlock));
    v.push_back(Regex("note", R"(\bnote\b)", Action::kFlag));
    v.push_back(
        Regex("plan", R"((?i)\b(?:sec|hid)\w{0,4}[ \n]{1,2}(?:plan|map)s?\b)", Action::kRedact));
    v.push_back(Regex("watch", R"(Lil[a-z]?)", Action::kBlock, Mode::kShadow));
  };
  std::vector<std::pair<std::string, std::vector<std::unique_ptr<const Stage>>>> chains;
  chains.emplace_back("pii", std::vector<std::unique_ptr<const Stage>>{});
  chains.back().second.push_back(Pii());
  chains.emplace_back("keywords", std::vector<std::unique_ptr<const Stage>>{});
  chains.back().second.push_back(
      Keywords({"Lily", "pipe bomb", "secret plan", "café"}, Action::kRedact));
  chains.emplace_back("regex", std::vector<std::unique_ptr<const Stage>>{});
  regexes(chains.back().second);
  chains.emplace_back("unicode", std::vector<std::unique_ptr<const Stage>>{});
  chains.back().second.push_back(unicode(Action::kBlock));
  chains.emplace_back("all", std::vector<std::unique_ptr<const Stage>>{});
  chains.back().second.push_back(unicode(Action::kFlag));
  chains.back().second.push_back(Pii());
  chains.back().second.push_back(Keywords({"Lily", "pipe bomb", "secret plan"}, Action::kRedact));
  regexes(chains.back().second);
  uint32_t seed = 20261130;
  for (auto& [name, stages] : chains) {
    SCOPED_TRACE("chain: " + name);
    const StageChain chain(std::move(stages), OnError::kBlock);
    PropertyCounts c;
    CheckProperty(chain, seed++, c);
    // The generator exercises every outcome, and the guard releases early (on average far less
    // than holdback_chars is withheld).
    if (name != "unicode") {
      EXPECT_GT(c.redacted, c.cases / 10) << name;
    }
    if (name == "regex" || name == "unicode" || name == "all") {
      EXPECT_GT(c.blocked, c.cases / 20) << name;
    }
    const double mean_held = static_cast<double>(c.held_total) / static_cast<double>(c.pushes);
    EXPECT_LT(mean_held, 24.0) << name;
    std::printf(
        "chain %-8s: %d cases, %d blocked, %d redacted, %d flagged; %.1f chars held on "
        "average\n",
        name.c_str(), c.cases, c.blocked, c.redacted, c.flagged, mean_held);
  }
}

}  // namespace
}  // namespace parapet::pipeline
