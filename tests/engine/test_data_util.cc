// Test data locations.
#include "tests/engine/test_data_util.h"

#include <fstream>
#include <sstream>

namespace parapet::testing {

std::string SharedDataPath(const std::string& relative) {
  std::filesystem::path p = std::filesystem::path(PARAPET_SHARED_DIR) / "data" / relative;
  return std::filesystem::exists(p) ? p.string() : "";
}

std::string EngineFixturePath(const std::string& name) {
  std::filesystem::path p = std::filesystem::path(PARAPET_TEST_DATA_DIR) / "engine" / name;
  return std::filesystem::exists(p) ? p.string() : "";
}

std::string ReadFileOrDie(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string ScratchDir(const std::string& name) {
  std::filesystem::path p = std::filesystem::path(PARAPET_TEST_DATA_DIR) / "scratch" / name;
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p.string();
}

}  // namespace parapet::testing
