#include "kvlab/template/jinja_lexer.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "kvlab/template/py_string.h"
#include "kvlab/util/error.h"

namespace kvlab::jinja {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsNameChar(char c) { return IsNameStart(c) || IsDigit(c); }

// "\r\n" and "\r" become "\n"; one trailing newline goes (jinja2's keep_trailing_newline=False).
std::string NormalizeNewlines(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

class Lexer {
 public:
  Lexer(std::string source, const std::string& where) : src_(std::move(source)), where_(where) {}

  std::vector<Token> Run() {
    while (pos_ < src_.size()) {
      const size_t start = FindTagStart(pos_);
      if (start == std::string::npos) {
        EmitText(src_.substr(pos_));
        break;
      }
      const char kind = src_[start + 1];
      const char sign = (start + 2 < src_.size() && (src_[start + 2] == '-' || src_[start + 2] == '+'))
                            ? src_[start + 2] : '\0';
      std::string text = src_.substr(pos_, start - pos_);
      const int text_newlines = static_cast<int>(std::count(text.begin(), text.end(), '\n'));
      EmitText(StripBeforeTag(std::move(text), sign, kind == '{'));
      line_ += text_newlines;
      pos_ = start + 2 + (sign ? 1 : 0);
      if (kind == '#') {
        LexComment();
      } else if (kind == '%' && IsRawBegin()) {
        LexRaw();
      } else {
        LexTag(kind == '%');
      }
    }
    tokens_.push_back({TokenType::kEnd, "", line_});
    return std::move(tokens_);
  }

 private:
  [[noreturn]] void Error(const std::string& what) const {
    throw kvlab::Error(where_ + " line " + std::to_string(line_), what);
  }

  size_t FindTagStart(size_t from) const {
    for (size_t i = src_.find('{', from); i != std::string::npos; i = src_.find('{', i + 1)) {
      if (i + 1 < src_.size() && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
    }
    return std::string::npos;
  }

  void EmitText(std::string text) {
    if (!text.empty()) tokens_.push_back({TokenType::kText, std::move(text), line_});
  }

  // The whitespace rules for the text before a tag: `-` strips all trailing whitespace; otherwise a block
  // or comment tag alone on its line (after only whitespace) takes that indentation away.
  std::string StripBeforeTag(std::string text, char sign, bool is_print) const {
    if (sign == '-') return PyStrip(text, std::nullopt, false, true);
    if (sign == '+' || is_print) return text;
    const size_t line_pos = text.rfind('\n') + 1;  // npos + 1 == 0
    if ((line_pos == 0 && !line_starting_) || line_pos == text.size()) return text;
    for (size_t i = line_pos; i < text.size();)
      if (!IsPySpace(DecodeUtf8At(text, i))) return text;
    text.resize(line_pos);
    return text;
  }

  // The position after the (Unicode) whitespace starting at p.
  size_t SpaceEnd(size_t p) const {
    while (p < src_.size()) {
      size_t next = p;
      if (!IsPySpace(DecodeUtf8At(src_, next))) break;
      p = next;
    }
    return p;
  }

  void SkipWhitespace() {
    const size_t end = SpaceEnd(pos_);
    line_ += static_cast<int>(std::count(src_.begin() + static_cast<std::ptrdiff_t>(pos_),
                                         src_.begin() + static_cast<std::ptrdiff_t>(end), '\n'));
    pos_ = end;
  }

  bool StartsWith(std::string_view s) const { return src_.compare(pos_, s.size(), s) == 0; }

  // After a tag's closing characters: `-` strips what follows, the plain form drops one newline
  // (trim_blocks: only for block and comment tags).
  void FinishTag(char sign, bool trim_newline) {
    if (sign == '-') {
      SkipWhitespace();
    } else if (sign == '\0' && trim_newline && pos_ < src_.size() && src_[pos_] == '\n') {
      ++pos_, ++line_;
    }
    line_starting_ = pos_ > 0 && src_[pos_ - 1] == '\n';
  }

  void LexComment() {
    const int open_line = line_;
    for (; pos_ < src_.size(); ++pos_) {
      if (src_.compare(pos_, 3, "+#}") == 0 || src_.compare(pos_, 3, "-#}") == 0) {
        const char sign = src_[pos_];
        pos_ += 3;
        return FinishTag(sign, true);
      }
      if (src_.compare(pos_, 2, "#}") == 0) {
        pos_ += 2;
        return FinishTag('\0', true);
      }
      if (src_[pos_] == '\n') ++line_;
    }
    line_ = open_line;
    Error("missing end of comment tag '#}'");
  }

  // `{% raw %}` (pos_ is just after `{%` and its sign): matches `\s*raw\s*(-%}|%})` without consuming.
  bool IsRawBegin() const {
    size_t p = SpaceEnd(pos_);
    if (src_.compare(p, 3, "raw") != 0) return false;
    p = SpaceEnd(p + 3);
    return src_.compare(p, 2, "%}") == 0 || src_.compare(p, 3, "-%}") == 0;
  }

  void LexRaw() {
    const int open_line = line_;
    SkipWhitespace();
    pos_ += 3;  // raw
    SkipWhitespace();
    const bool strip_after = src_[pos_] == '-';
    pos_ += strip_after ? 3 : 2;
    if (strip_after) SkipWhitespace();
    line_starting_ = pos_ > 0 && src_[pos_ - 1] == '\n';
    // The first `{% endraw %}` ends it; everything before is text, with the usual stripping before a tag.
    for (size_t i = src_.find("{%", pos_); i != std::string::npos; i = src_.find("{%", i + 1)) {
      size_t p = i + 2;
      const char sign = (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) ? src_[p] : '\0';
      if (sign) ++p;
      p = SpaceEnd(p);
      if (src_.compare(p, 6, "endraw") != 0) continue;
      p = SpaceEnd(p + 6);
      char end_sign = '\0';
      if (src_.compare(p, 3, "-%}") == 0 || src_.compare(p, 3, "+%}") == 0) {
        end_sign = src_[p];
        p += 3;
      } else if (src_.compare(p, 2, "%}") == 0) {
        p += 2;
      } else {
        continue;
      }
      std::string text = src_.substr(pos_, i - pos_);
      const int newlines = static_cast<int>(std::count(src_.begin() + pos_, src_.begin() + p, '\n'));
      EmitText(StripBeforeTag(std::move(text), sign, false));
      line_ += newlines;
      pos_ = p;
      return FinishTag(end_sign, true);
    }
    line_ = open_line;
    Error("missing '{% endraw %}' for '{% raw %}'");
  }

  void LexTag(bool is_block) {
    tokens_.push_back({is_block ? TokenType::kBlockBegin : TokenType::kPrintBegin, "", line_});
    std::vector<char> brackets;  // the closers expected, innermost last: a tag ends only when balanced
    for (;;) {
      if (pos_ >= src_.size()) Error(std::string("unexpected end of template, expected '") + (is_block ? "%}" : "}}") + "'");
      if (brackets.empty()) {
        const char* close = is_block ? "%}" : "}}";
        const bool minus = src_[pos_] == '-' && src_.compare(pos_ + 1, 2, close) == 0;
        const bool plus = is_block && src_[pos_] == '+' && src_.compare(pos_ + 1, 2, close) == 0;
        if (minus || plus || src_.compare(pos_, 2, close) == 0) {
          tokens_.push_back({is_block ? TokenType::kBlockEnd : TokenType::kPrintEnd, "", line_});
          pos_ += (minus || plus) ? 3 : 2;
          return FinishTag(minus ? '-' : plus ? '+' : '\0', is_block);
        }
      }
      const char c = src_[pos_];
      size_t next = pos_;
      if (IsPySpace(DecodeUtf8At(src_, next))) {
        SkipWhitespace();
      } else if (IsDigit(c)) {
        LexNumber();
      } else if (IsNameStart(c)) {
        const size_t start = pos_;
        while (pos_ < src_.size() && IsNameChar(src_[pos_])) ++pos_;
        tokens_.push_back({TokenType::kName, src_.substr(start, pos_ - start), line_});
      } else if (c == '\'' || c == '"') {
        LexString();
      } else {
        LexOperator(brackets);
      }
    }
  }

  // A run of digits with single underscores between them (Python's 1_000); returns false if none.
  bool ScanDigits(size_t& p, bool (*is_digit)(char)) const {
    if (p >= src_.size() || !is_digit(src_[p])) return false;
    while (p < src_.size() && (is_digit(src_[p]) || (src_[p] == '_' && p + 1 < src_.size() && is_digit(src_[p + 1]))))
      ++p;
    return true;
  }

  void LexNumber() {
    const size_t start = pos_;
    const int line = line_;
    const auto strip_underscores = [](std::string s) {
      s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
      return s;
    };
    // 0x / 0o / 0b integers.
    if (src_[pos_] == '0' && pos_ + 2 < src_.size() && std::strchr("xXoObB", src_[pos_ + 1])) {
      const char base_char = static_cast<char>(src_[pos_ + 1] | 0x20);
      const int base = base_char == 'x' ? 16 : base_char == 'o' ? 8 : 2;
      size_t p = pos_ + 2;
      if (p < src_.size() && src_[p] == '_') ++p;
      const auto is_base_digit = base == 16 ? +[](char ch) { return std::isxdigit(static_cast<unsigned char>(ch)) != 0; }
                                 : base == 8 ? +[](char ch) { return ch >= '0' && ch <= '7'; }
                                             : +[](char ch) { return ch == '0' || ch == '1'; };
      if (ScanDigits(p, is_base_digit)) {
        pos_ = p;
        const std::string digits = strip_underscores(src_.substr(start + 2, p - start - 2));
        errno = 0;
        const unsigned long long v = std::strtoull(digits.c_str(), nullptr, base);
        if (errno == ERANGE || v > static_cast<unsigned long long>(INT64_MAX)) Error("integer literal too large");
        tokens_.push_back({TokenType::kInteger, src_.substr(start, p - start), line, static_cast<int64_t>(v)});
        return;
      }
    }
    size_t p = pos_;
    ScanDigits(p, IsDigit);
    bool is_float = false;
    const bool after_dot = start > 0 && src_[start - 1] == '.';  // `a.0.1` is two item accesses, not 0.1
    if (!after_dot) {
      size_t q = p;
      bool fraction = false;
      if (q < src_.size() && src_[q] == '.') {
        size_t r = q + 1;
        if (ScanDigits(r, IsDigit)) q = r, fraction = true;
      }
      if (q < src_.size() && (src_[q] == 'e' || src_[q] == 'E')) {
        size_t r = q + 1;
        if (r < src_.size() && (src_[r] == '+' || src_[r] == '-')) ++r;
        if (ScanDigits(r, IsDigit)) q = r, is_float = true;
      }
      if (fraction) is_float = true;
      if (is_float) p = q;
    }
    pos_ = p;
    const std::string text = strip_underscores(src_.substr(start, p - start));
    Token t{is_float ? TokenType::kFloat : TokenType::kInteger, src_.substr(start, p - start), line};
    if (is_float) {
      t.number = std::strtod(text.c_str(), nullptr);
    } else {
      errno = 0;
      const unsigned long long v = std::strtoull(text.c_str(), nullptr, 10);
      if (errno == ERANGE || v > static_cast<unsigned long long>(INT64_MAX))
        Error("integer literal " + text + " too large (kvlab's templates use 64-bit integers)");
      t.integer = static_cast<int64_t>(v);
    }
    tokens_.push_back(std::move(t));
  }

  // Python string escapes, as jinja2 decodes them ("unicode-escape"); unknown escapes stay as written.
  void LexString() {
    const char quote = src_[pos_];
    const int line = line_;
    std::string value;
    for (++pos_;; ++pos_) {
      if (pos_ >= src_.size()) {
        line_ = line;
        Error("unterminated string literal");
      }
      const char c = src_[pos_];
      if (c == quote) break;
      if (c == '\n') ++line_;
      if (c != '\\') {
        value += c;
        continue;
      }
      if (++pos_ >= src_.size()) continue;  // reported as unterminated on the next round
      const char e = src_[pos_];
      const auto hex = [&](int digits) {
        if (pos_ + digits >= src_.size()) Error("truncated \\x/\\u escape in a string literal");
        char32_t v = 0;
        for (int k = 1; k <= digits; ++k) {
          const char h = src_[pos_ + k];
          if (!std::isxdigit(static_cast<unsigned char>(h))) Error("truncated \\x/\\u escape in a string literal");
          v = v * 16 + static_cast<char32_t>(std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (h | 0x20) - 'a' + 10);
        }
        pos_ += digits;
        if (v > 0x10FFFF) Error("invalid \\U escape in a string literal");
        return v;
      };
      switch (e) {
        case 'n': value += '\n'; break;
        case 't': value += '\t'; break;
        case 'r': value += '\r'; break;
        case '\\': value += '\\'; break;
        case '\'': value += '\''; break;
        case '"': value += '"'; break;
        case 'a': value += '\a'; break;
        case 'b': value += '\b'; break;
        case 'f': value += '\f'; break;
        case 'v': value += '\v'; break;
        case '\n': ++line_; break;  // line continuation
        case 'x': AppendUtf8(value, hex(2)); break;
        case 'u': AppendUtf8(value, hex(4)); break;
        case 'U': AppendUtf8(value, hex(8)); break;
        case 'N': Error("unsupported escape \\N{...} in a string literal");
        default:
          if (e >= '0' && e <= '7') {
            char32_t v = 0;
            int n = 0;
            for (; n < 3 && pos_ < src_.size() && src_[pos_] >= '0' && src_[pos_] <= '7'; ++n, ++pos_)
              v = v * 8 + static_cast<char32_t>(src_[pos_] - '0');
            --pos_;
            AppendUtf8(value, v);
          } else {
            value += '\\';
            value += e;
            if (e == '\n') ++line_;
          }
      }
    }
    ++pos_;
    tokens_.push_back({TokenType::kString, std::move(value), line});
  }

  void LexOperator(std::vector<char>& brackets) {
    static const char* const kTwoChar[] = {"//", "**", "==", "!=", ">=", "<="};
    for (const char* op : kTwoChar) {
      if (StartsWith(op)) {
        tokens_.push_back({TokenType::kOperator, op, line_});
        pos_ += 2;
        return;
      }
    }
    const char c = src_[pos_];
    if (!std::strchr("+-/*%~[](){}><=.:|,;", c)) {
      size_t next = pos_;
      DecodeUtf8At(src_, next);
      Error("unexpected character '" + src_.substr(pos_, next - pos_) + "' in a tag");
    }
    if (c == '(' || c == '[' || c == '{') brackets.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
    if (c == ')' || c == ']' || c == '}') {
      if (brackets.empty()) Error(std::string("unexpected '") + c + "'");
      if (brackets.back() != c) Error(std::string("unexpected '") + c + "', expected '" + brackets.back() + "'");
      brackets.pop_back();
    }
    tokens_.push_back({TokenType::kOperator, std::string(1, c), line_});
    ++pos_;
  }

  std::string src_;
  const std::string& where_;
  size_t pos_ = 0;
  int line_ = 1;
  bool line_starting_ = true;  // the last tag ended with a newline (or nothing came yet)
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> Lex(std::string_view source, const std::string& where) {
  return Lexer(NormalizeNewlines(source), where).Run();
}

}  // namespace kvlab::jinja
