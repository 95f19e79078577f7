// kvlab's Jinja interpreter: renders the Jinja templates models ship (Hugging Face chat templates) byte for
// byte as Python's jinja2 does in transformers' apply_chat_template:
//   ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
//   + globals raise_exception(msg), strftime_now(fmt); filter tojson(x, ensure_ascii=False, indent=None, ...).
//
// Supported: text, {{ }}, {% %}, {# #}, whitespace control (- and +); if/elif/else, for (else, unpacking,
// inline if, loop.*, break/continue), set (names, tuples, ns.attr, blocks), macro, call, filter, with,
// raw, generation; Python literals, operators, slices, conditional expressions; jinja2's tests and most
// builtin filters; str/dict/list methods that do not modify values; range, namespace, dict.
// Not supported (a one-line error naming it): template inheritance and imports, recursive loops,
// printf-style '%' formatting, str.format, *args/**kwargs, big integers beyond 64 bits. Case mapping is
// ASCII-only. Every render is bounded in nesting, time and output size (jinja_limits.h).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace kvlab::jinja {

struct Program;

class Template {
 public:
  // Parses `source`. `name` starts every error: kvlab::Error("<name> line N", "what went wrong").
  Template(std::string_view source, std::string name);

  // Renders with the members of `variables` (a JSON object; key order is kept, as tojson shows) as the
  // template's variables. Throws kvlab::Error naming the template line; raise_exception(msg) gives msg.
  std::string Render(const nlohmann::ordered_json& variables) const;

  const std::string& name() const { return name_; }

 private:
  std::string name_;
  std::shared_ptr<const Program> program_;
};

}  // namespace kvlab::jinja
