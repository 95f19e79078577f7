// Reading the JSON files tokenizers come in, with kvlab::Error messages that name the file.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace kvlab {

// Parses a whole JSON file; throws kvlab::Error "<path>: invalid JSON: ..." or "<path>: cannot open file".
nlohmann::json ReadJsonFile(const std::filesystem::path& path);

// Typed member access for hand-written loaders: throw kvlab::Error "<where>: missing key <key>" or
// "<where>: <key> should be a <kind>" instead of nlohmann's type_error.
const nlohmann::json& JsonMember(const nlohmann::json& object, const char* key, const std::string& where);
std::string JsonString(const nlohmann::json& object, const char* key, const std::string& where);
bool JsonBool(const nlohmann::json& object, const char* key, bool fallback, const std::string& where);
int64_t JsonInt(const nlohmann::json& object, const char* key, const std::string& where);

}  // namespace kvlab
