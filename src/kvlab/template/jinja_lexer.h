// Splits template source into text and tag tokens, applying jinja2's whitespace rules as Hugging Face
// configures them (trim_blocks and lstrip_blocks on, keep_trailing_newline off):
//   - line endings become "\n" and one trailing newline of the template is dropped;
//   - `{%-`/`{{-`/`{#-` strip all whitespace before the tag, `-%}`/`-}}`/`-#}` all whitespace after it;
//   - trim_blocks: the first newline after `%}` or `#}` is removed (`+%}` keeps it);
//   - lstrip_blocks: spaces and tabs between a line start and `{%` or `{#` are removed (`{%+` keeps them);
//     neither applies to `{{ }}`;
//   - `{% raw %}...{% endraw %}` is text; comments are dropped.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kvlab::jinja {

enum class TokenType {
  kText,        // template data between tags
  kPrintBegin,  // {{
  kPrintEnd,    // }}
  kBlockBegin,  // {%
  kBlockEnd,    // %}
  kName,
  kString,      // text holds the unescaped value
  kInteger,
  kFloat,
  kOperator,    // + - * / // % ** ~ == != < > <= >= = . , : | ( ) [ ] { } ;
  kEnd,
};

struct Token {
  TokenType type;
  std::string text;
  int line = 1;
  int64_t integer = 0;
  double number = 0;
};

// `where` prefixes errors: kvlab::Error("<where> line N", "...").
std::vector<Token> Lex(std::string_view source, const std::string& where);

}  // namespace kvlab::jinja
