// YamlMapReader helpers: error formatting and exception-free document loading.
#include "common/yaml_reader.h"

namespace parapet {

Status YamlError(std::string_view file, const YAML::Node& at, std::string_view field,
                 std::string_view message) {
  std::string where(file);
  const YAML::Mark m = at.Mark();
  if (m.line >= 0) where += ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
  return InvalidArgumentError(where + ": " + std::string(field) + ": " + std::string(message));
}

Result<YAML::Node> LoadYaml(std::string_view text, std::string_view file) {
  try {
    return YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    std::string where(file);
    if (e.mark.line >= 0) {
      where += ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1);
    }
    return InvalidArgumentError(where + ": " + e.msg);
  }
}

}  // namespace parapet
