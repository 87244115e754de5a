// libFuzzer target: policy files. Any bytes must load into a policy set or give an error — never
// crash, hang or leak — and a loaded set must evaluate a request, stream a response through its
// output stages and run its own tests.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "policies/policy_set.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto set = parapet::policies::PolicySet::Parse(text, "fuzz.yaml", "/nonexistent",
                                                 parapet::policies::CompileContext{});
  if (!set.ok()) return 0;
  const std::vector<parapet::policies::Turn> turns = {
      {"system", "be nice"},
      {"user", "mail bob@example.com a pipe\xE2\x80\x8B bomb 4111 1111 1111 1111"}};
  const std::string response = "Lily wrote to ann@example.com: \xC3\xA9 a pipe bomb";
  for (const std::string& name : (*set)->names()) {
    const parapet::policies::Policy& p = *(*set)->Find(name);
    (void)p.EvaluateInput(turns);
    // The output stages, streamed in 3-byte pieces (cutting characters).
    parapet::pipeline::StreamGuard guard(p.output(), p.stream_options());
    for (size_t i = 0; i < response.size(); i += 3) (void)guard.Push(response.substr(i, 3));
    (void)guard.Finish();
  }
  (void)parapet::policies::RunPolicyTests(**set);
  return 0;
}
