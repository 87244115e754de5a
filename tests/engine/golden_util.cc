// Golden file loading (Boost.JSON).
#include "tests/engine/golden_util.h"

#include <boost/json.hpp>
#include <cmath>

#include "tests/engine/test_data_util.h"

namespace parapet::testing {

namespace json = boost::json;

Result<Golden> LoadGolden(const std::string& path) {
  boost::system::error_code ec;
  json::value doc = json::parse(ReadFileOrDie(path), ec);
  if (ec) return InvalidArgumentError(path + ": " + ec.message());
  Golden g;
  try {
    const json::object& root = doc.as_object();
    g.model = json::value_to<std::string>(root.at("model"));
    for (const json::value& rv : root.at("runs").as_array()) {
      const json::object& r = rv.as_object();
      GoldenRun run;
      run.prompt = json::value_to<std::string>(r.at("prompt"));
      run.prompt_ids = json::value_to<std::vector<int>>(r.at("prompt_ids"));
      run.generated_ids = json::value_to<std::vector<int>>(r.at("generated_ids"));
      run.generated_text = json::value_to<std::string>(r.at("generated_text"));
      for (const json::value& sv : r.at("steps").as_array()) {
        GoldenStep step;
        step.margin = static_cast<float>(sv.at("margin").to_number<double>());
        for (const json::value& pair : sv.at("top5").as_array()) {
          step.top5.emplace_back(static_cast<int>(pair.at(0).to_number<int64_t>()),
                                 static_cast<float>(pair.at(1).to_number<double>()));
        }
        run.steps.push_back(std::move(step));
      }
      g.runs.push_back(std::move(run));
    }
  } catch (const std::exception& e) {
    return InvalidArgumentError(path + ": " + e.what());
  }
  return g;
}

std::string GoldenModelPath(const std::string& model_file) {
  if (model_file.rfind("stories260K", 0) == 0) return SharedDataPath("models/" + model_file);
  return EngineFixturePath(model_file);
}

std::vector<double> LogSoftmax(const float* logits, int n) {
  double mx = logits[0];
  for (int i = 1; i < n; ++i) mx = std::max(mx, static_cast<double>(logits[i]));
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += std::exp(logits[i] - mx);
  const double lse = mx + std::log(sum);
  std::vector<double> out(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) out[static_cast<size_t>(i)] = logits[i] - lse;
  return out;
}

}  // namespace parapet::testing
