// Locating test data: the read-only shared data folder (../shared/data) and the build tree's
// decompressed fixtures. Tests call these through the PARAPET_REQUIRE_* macros, which skip the
// test with a clear message when the data is absent (e.g. a user's fresh clone without ../shared).
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace parapet::testing {

// "<shared>/data/<relative>", or "" if it does not exist.
std::string SharedDataPath(const std::string& relative);
// "<build>/testdata/engine/<name>" (a decompressed engine fixture), or "" if it does not exist.
std::string EngineFixturePath(const std::string& name);
// Reads a whole file; fails the test (returns "") when it cannot.
std::string ReadFileOrDie(const std::string& path);
// A fresh empty directory under the build tree for this test's scratch files.
std::string ScratchDir(const std::string& name);

}  // namespace parapet::testing

#define PARAPET_REQUIRE_SHARED(var, relative)                                               \
  std::string var = ::parapet::testing::SharedDataPath(relative);                           \
  if (var.empty())                                                                          \
  GTEST_SKIP() << "shared data " << (relative) << " not found under " << PARAPET_SHARED_DIR \
               << "; skipping"

#define PARAPET_REQUIRE_FIXTURE(var, name)                                                    \
  std::string var = ::parapet::testing::EngineFixturePath(name);                              \
  if (var.empty())                                                                            \
  GTEST_SKIP() << "engine fixture " << (name) << " not found under " << PARAPET_TEST_DATA_DIR \
               << "/engine (is ../shared present?)"
