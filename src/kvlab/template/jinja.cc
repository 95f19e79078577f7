#include "kvlab/template/jinja.h"

#include "kvlab/template/jinja_builtins.h"
#include "kvlab/template/jinja_limits.h"
#include "kvlab/template/jinja_parser.h"
#include "kvlab/template/jinja_renderer.h"
#include "kvlab/util/error.h"

namespace kvlab::jinja {

namespace {
// Parse errors are kvlab::Errors already; a value limit hit while parsing (a literal over the string size
// limit) becomes one too.
std::shared_ptr<const Program> ParseProgram(std::string_view source, const std::string& name) {
  try {
    return std::make_shared<const Program>(Parse(source, name));
  } catch (const Failure& e) {
    throw kvlab::Error(name, e.what());
  }
}
}  // namespace

Template::Template(std::string_view source, std::string name)
    : name_(std::move(name)), program_(ParseProgram(source, name_)) {}

std::string Template::Render(const nlohmann::ordered_json& variables) const {
  if (!variables.is_object()) throw kvlab::Error(name_, "template variables must be a JSON object");
  WorkBudget budget;
  Renderer renderer(*program_);
  try {
    std::vector<std::pair<std::string, Value>> vars;
    for (const auto& [key, value] : variables.items()) vars.emplace_back(key, FromJson(value));
    return renderer.Render(std::move(vars));
  } catch (const Failure& e) {
    // raise_exception's message is the template author's, given as is.
    throw kvlab::Error(name_ + (renderer.line() > 0 ? " line " + std::to_string(renderer.line()) : ""), e.what());
  }
}

}  // namespace kvlab::jinja
