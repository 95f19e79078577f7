// Shared helpers for the test suites: where ../shared is, reading reference JSON, running the kvlab binary.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace kvlab::test {

// KVLAB_ASSETS if set, else the ../shared next to the source tree.
std::filesystem::path AssetsDir();
// Skips the current test (with a message) only when the assets directory does not exist at all.
#define KVLAB_REQUIRE_ASSETS()                                                        \
  do {                                                                                \
    if (!std::filesystem::is_directory(::kvlab::test::AssetsDir()))                   \
      GTEST_SKIP() << "assets directory not found: " << ::kvlab::test::AssetsDir(); \
  } while (0)

nlohmann::json ReadJson(const std::filesystem::path& path);

// A fresh empty temporary directory for one test (removed by the OS tmp cleaner, not by us).
std::filesystem::path TempDir(const std::string& tag);

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};
// `p` as one shell word for RunKvlab's argument string (single quotes, inner ones escaped).
std::string Quote(const std::filesystem::path& p);

// Runs the kvlab binary with the given argument string (shell-quoted by the caller).
CommandResult RunKvlab(const std::string& args);

}  // namespace kvlab::test
