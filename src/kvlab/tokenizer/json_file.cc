#include "kvlab/tokenizer/json_file.h"

#include "kvlab/util/error.h"
#include "kvlab/util/mapped_file.h"

namespace kvlab {

nlohmann::json ReadJsonFile(const std::filesystem::path& path) {
  const std::string text = ReadTextFile(path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path.string(), std::string("invalid JSON: ") + e.what());
  }
}

const nlohmann::json& JsonMember(const nlohmann::json& object, const char* key, const std::string& where) {
  if (!object.is_object()) throw Error(where, "expected a JSON object");
  auto it = object.find(key);
  if (it == object.end()) throw Error(where, std::string("missing key \"") + key + "\"");
  return *it;
}

std::string JsonString(const nlohmann::json& object, const char* key, const std::string& where) {
  const nlohmann::json& v = JsonMember(object, key, where);
  if (!v.is_string())
    throw Error(where, std::string("\"") + key + "\" should be a string, got " + v.type_name());
  return v.get<std::string>();
}

bool JsonBool(const nlohmann::json& object, const char* key, bool fallback, const std::string& where) {
  if (!object.is_object()) throw Error(where, "expected a JSON object");
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return fallback;
  if (!it->is_boolean())
    throw Error(where, std::string("\"") + key + "\" should be a boolean, got " + it->type_name());
  return it->get<bool>();
}

int64_t JsonInt(const nlohmann::json& object, const char* key, const std::string& where) {
  const nlohmann::json& v = JsonMember(object, key, where);
  if (!v.is_number_integer()) {
    throw Error(where, std::string("\"") + key + "\" should be an integer, got " + v.type_name());
  }
  return v.get<int64_t>();
}

}  // namespace kvlab
