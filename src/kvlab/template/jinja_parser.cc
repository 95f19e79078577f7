#include "kvlab/template/jinja_parser.h"

#include <algorithm>
#include <initializer_list>

#include "kvlab/template/jinja_builtins.h"
#include "kvlab/template/jinja_lexer.h"
#include "kvlab/template/jinja_limits.h"
#include "kvlab/util/error.h"

namespace kvlab::jinja {
namespace {

// jinja2 tags kvlab does not implement (template inheritance and imports have no use in a chat template).
constexpr std::string_view kUnsupportedTags[] = {"extends", "block",      "include", "import", "from",
                                                 "autoescape", "trans", "do", "print", "endblock"};

class Parser {
 public:
  Parser(std::vector<Token> tokens, const std::string& where) : tokens_(std::move(tokens)), where_(where) {}

  Program Run() {
    Program program;
    std::string end;
    program.body = ParseBody({}, &end, "", 0);
    return program;
  }

 private:
  // ---- tokens -----------------------------------------------------------------------------------------
  const Token& Peek(size_t ahead = 0) const { return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)]; }
  const Token& Next() {
    const Token& t = Peek();
    if (pos_ < tokens_.size() - 1) ++pos_;
    return t;
  }
  bool IsOp(std::string_view op, size_t ahead = 0) const {
    return Peek(ahead).type == TokenType::kOperator && Peek(ahead).text == op;
  }
  bool IsName(std::string_view name, size_t ahead = 0) const {
    return Peek(ahead).type == TokenType::kName && Peek(ahead).text == name;
  }
  bool SkipOp(std::string_view op) { return IsOp(op) ? (Next(), true) : false; }
  bool SkipName(std::string_view name) { return IsName(name) ? (Next(), true) : false; }

  [[noreturn]] void Error(const std::string& what, int line = -1) const {
    throw kvlab::Error(where_ + " line " + std::to_string(line < 0 ? Peek().line : line), what);
  }

  static std::string Describe(const Token& t) {
    switch (t.type) {
      case TokenType::kText: return "template text";
      case TokenType::kPrintBegin: return "'{{'";
      case TokenType::kPrintEnd: return "end of print statement '}}'";
      case TokenType::kBlockBegin: return "'{%'";
      case TokenType::kBlockEnd: return "end of statement '%}'";
      case TokenType::kEnd: return "end of template";
      case TokenType::kString: return "a string";
      default: return "'" + t.text + "'";
    }
  }

  void ExpectOp(std::string_view op) {
    if (!SkipOp(op)) Error("expected '" + std::string(op) + "', got " + Describe(Peek()));
  }
  std::string ExpectName(const char* what) {
    if (Peek().type != TokenType::kName) Error(std::string("expected ") + what + ", got " + Describe(Peek()));
    return Next().text;
  }
  void ExpectBlockEnd(std::string_view tag) {
    if (Peek().type != TokenType::kBlockEnd)
      Error("expected end of '{% " + std::string(tag) + " %}' statement, got " + Describe(Peek()));
    Next();
  }

  // Guards recursion of the parser itself (deep parentheses, `not not not ...`, nested blocks).
  struct DepthGuard {
    Parser& p;
    explicit DepthGuard(Parser& parser) : p(parser) {
      if (++p.depth_ > kMaxNesting) p.Error("template nested more than " + std::to_string(kMaxNesting) + " levels deep");
    }
    ~DepthGuard() { --p.depth_; }
  };

  // ---- statements -------------------------------------------------------------------------------------
  // Statements up to a `{% name %}` with name in `ends` (consumed; its name goes to *end, the rest of the
  // tag is the caller's). `opener`/`open_line` name the unclosed block if the template ends first.
  Body ParseBody(std::initializer_list<std::string_view> ends, std::string* end, std::string_view opener,
                 int open_line) {
    DepthGuard guard(*this);
    Body body;
    for (;;) {
      const Token& t = Peek();
      if (t.type == TokenType::kEnd) {
        if (ends.size() == 0) return body;
        Error("'{% " + std::string(opener) + " %}' on line " + std::to_string(open_line) + " is never closed (expected '{% " +
              std::string(*(ends.end() - 1)) + " %}')");
      }
      if (t.type == TokenType::kText) {
        auto s = MakeStmt(StmtKind::kText, t.line);
        s->text = Next().text;
        body.push_back(std::move(s));
      } else if (t.type == TokenType::kPrintBegin) {
        auto s = MakeStmt(StmtKind::kOutput, Next().line);
        s->expr = ParseTuple(true, false);
        if (Peek().type != TokenType::kPrintEnd) Error("expected end of print statement '}}', got " + Describe(Peek()));
        Next();
        body.push_back(std::move(s));
      } else if (t.type == TokenType::kBlockBegin) {
        Next();
        const int line = Peek().line;
        const std::string name = ExpectName("a statement name");
        if (std::find(ends.begin(), ends.end(), name) != ends.end()) {
          *end = name;
          return body;
        }
        body.push_back(ParseStatement(name, line));
      } else {
        Error("unexpected " + Describe(t));
      }
    }
  }

  StmtPtr MakeStmt(StmtKind kind, int line) {
    auto s = std::make_unique<Stmt>();
    s->kind = kind;
    s->line = line;
    return s;
  }

  StmtPtr ParseStatement(const std::string& name, int line) {
    if (name == "if") return ParseIf(line);
    if (name == "for") return ParseFor(line);
    if (name == "set") return ParseSet(line);
    if (name == "macro") return ParseMacro(line);
    if (name == "call") return ParseCallBlock(line);
    if (name == "filter") return ParseFilterBlock(line);
    if (name == "with") return ParseWith(line);
    if (name == "generation") {
      auto s = MakeStmt(StmtKind::kScope, line);
      ExpectBlockEnd(name);
      std::string end;
      s->body = ParseBody({"endgeneration"}, &end, name, line);
      ExpectBlockEnd("endgeneration");
      return s;
    }
    if (name == "break" || name == "continue") {
      if (loop_depth_ == 0) Error("'{% " + name + " %}' outside of a for loop", line);
      auto s = MakeStmt(name == "break" ? StmtKind::kBreak : StmtKind::kContinue, line);
      ExpectBlockEnd(name);
      return s;
    }
    if (std::find(std::begin(kUnsupportedTags), std::end(kUnsupportedTags), name) != std::end(kUnsupportedTags))
      Error("'{% " + name + " %}' is not supported", line);
    if (name.rfind("end", 0) == 0 || name == "elif" || name == "else")
      Error("unexpected '{% " + name + " %}'", line);
    Error("unknown tag '" + name + "'", line);
  }

  StmtPtr ParseIf(int line) {
    auto s = MakeStmt(StmtKind::kIf, line);
    ExprPtr cond = ParseExpression(true);
    for (;;) {
      ExpectBlockEnd(cond ? "if" : "else");
      std::string end;
      Body body = cond ? ParseBody({"elif", "else", "endif"}, &end, "if", line)
                       : ParseBody({"endif"}, &end, "if", line);
      s->branches.emplace_back(std::move(cond), std::move(body));
      if (end == "endif") break;
      if (end == "elif") cond = ParseExpression(true);
    }
    ExpectBlockEnd("endif");
    return s;
  }

  // Names, or names separated by commas (optionally in parentheses), up to a non-name.
  std::vector<std::string> ParseTargets() {
    std::vector<std::string> names;
    const bool parens = SkipOp("(");
    do {
      if (parens && IsOp(")")) break;
      names.push_back(ExpectName("a variable name"));
    } while (SkipOp(","));
    if (parens) ExpectOp(")");
    return names;
  }

  StmtPtr ParseFor(int line) {
    auto s = MakeStmt(StmtKind::kFor, line);
    s->targets = ParseTargets();
    if (!SkipName("in")) Error("expected 'in' in '{% for %}', got " + Describe(Peek()));
    s->expr = ParseTuple(false, false);
    if (SkipName("if")) s->filter = ParseExpression(true);
    if (IsName("recursive")) Error("recursive for loops are not supported");
    ExpectBlockEnd("for");
    ++loop_depth_;
    std::string end;
    s->body = ParseBody({"else", "endfor"}, &end, "for", line);
    --loop_depth_;
    if (end == "else") {
      ExpectBlockEnd("else");
      s->else_body = ParseBody({"endfor"}, &end, "for", line);
    }
    ExpectBlockEnd("endfor");
    return s;
  }

  StmtPtr ParseSet(int line) {
    auto s = MakeStmt(StmtKind::kSet, line);
    const std::string first = ExpectName("a variable name");
    if (SkipOp(".")) {
      s->targets = {first};
      s->attribute = ExpectName("an attribute name");
    } else {
      s->targets = {first};
      while (SkipOp(",")) s->targets.push_back(ExpectName("a variable name"));
    }
    if (SkipOp("=")) {
      s->expr = ParseTuple(true, false);
      ExpectBlockEnd("set");
      return s;
    }
    if (IsOp("|")) Error("filters on a '{% set %}' block are not supported");
    if (s->targets.size() != 1 || !s->attribute.empty()) Error("a '{% set %}' block assigns one plain name");
    ExpectBlockEnd("set");
    const int saved_loops = loop_depth_;
    loop_depth_ = 0;  // the block renders to a string: break/continue cannot leave it
    std::string end;
    s->body = ParseBody({"endset"}, &end, "set", line);
    loop_depth_ = saved_loops;
    ExpectBlockEnd("endset");
    return s;
  }

  std::vector<Param> ParseParams() {
    std::vector<Param> params;
    ExpectOp("(");
    while (!IsOp(")")) {
      if (!params.empty()) ExpectOp(",");
      if (IsOp(")")) break;
      Param p;
      p.name = ExpectName("a parameter name");
      if (SkipOp("=")) p.default_value = ParseExpression(true);
      params.push_back(std::move(p));
    }
    ExpectOp(")");
    return params;
  }

  StmtPtr ParseMacro(int line) {
    auto s = MakeStmt(StmtKind::kMacro, line);
    s->text = ExpectName("a macro name");
    s->params = ParseParams();
    ExpectBlockEnd("macro");
    const int saved_loops = loop_depth_;
    loop_depth_ = 0;  // break/continue cannot leave a macro
    std::string end;
    s->body = ParseBody({"endmacro"}, &end, "macro", line);
    loop_depth_ = saved_loops;
    ExpectBlockEnd("endmacro");
    return s;
  }

  StmtPtr ParseCallBlock(int line) {
    auto s = MakeStmt(StmtKind::kCallBlock, line);
    if (IsOp("(")) s->params = ParseParams();
    s->expr = ParseExpression(true);
    if (s->expr->kind != ExprKind::kCall) Error("'{% call %}' needs a macro call", line);
    ExpectBlockEnd("call");
    const int saved_loops = loop_depth_;
    loop_depth_ = 0;
    std::string end;
    s->body = ParseBody({"endcall"}, &end, "call", line);
    loop_depth_ = saved_loops;
    ExpectBlockEnd("endcall");
    return s;
  }

  StmtPtr ParseFilterBlock(int line) {
    auto s = MakeStmt(StmtKind::kFilterBlock, line);
    do {
      s->filters.push_back(ParseFilter(nullptr));
    } while (SkipOp("|"));
    ExpectBlockEnd("filter");
    const int saved_loops = loop_depth_;
    loop_depth_ = 0;
    std::string end;
    s->body = ParseBody({"endfilter"}, &end, "filter", line);
    loop_depth_ = saved_loops;
    ExpectBlockEnd("endfilter");
    return s;
  }

  StmtPtr ParseWith(int line) {
    auto s = MakeStmt(StmtKind::kScope, line);
    while (Peek().type != TokenType::kBlockEnd) {
      if (!s->params.empty()) ExpectOp(",");
      Param p;
      p.name = ExpectName("a variable name");
      ExpectOp("=");
      p.default_value = ParseExpression(true);
      s->params.push_back(std::move(p));
    }
    ExpectBlockEnd("with");
    std::string end;
    s->body = ParseBody({"endwith"}, &end, "with", line);
    ExpectBlockEnd("endwith");
    return s;
  }

  // ---- expressions ------------------------------------------------------------------------------------
  ExprPtr Make(ExprKind kind, int line) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = line;
    return e;
  }

  // Sets e's depth from its children; a tree deeper than kMaxNesting (say `a+a+a+...` thousands long) fails
  // here, so evaluating and destroying trees stays within a bounded recursion.
  ExprPtr Done(ExprPtr e) {
    int deepest = 0;
    const auto see = [&](const ExprPtr& c) {
      if (c) deepest = std::max(deepest, c->depth);
    };
    see(e->target);
    for (const auto& c : e->items) see(c);
    for (const auto& kv : e->kwargs) see(kv.second);
    e->depth = deepest + 1;
    if (e->depth > kMaxNesting)
      Error("expression nested more than " + std::to_string(kMaxNesting) + " levels deep", e->line);
    return e;
  }

  bool IsTupleEnd() const {
    const TokenType t = Peek().type;
    return t == TokenType::kPrintEnd || t == TokenType::kBlockEnd || IsOp(")") || IsName("recursive");
  }

  // `a, b` makes a tuple where jinja2 allows one: in {{ }}, set values, for iterables and parentheses.
  ExprPtr ParseTuple(bool with_condition, bool explicit_parens) {
    const int line = Peek().line;
    std::vector<ExprPtr> items;
    bool is_tuple = false;
    for (;;) {
      if (!items.empty()) ExpectOp(",");
      if (!items.empty() && IsTupleEnd()) break;
      if (items.empty() && explicit_parens && IsOp(")")) break;
      items.push_back(with_condition ? ParseExpression(true) : ParseOr());
      if (IsOp(",")) {
        is_tuple = true;
      } else {
        break;
      }
    }
    if (!is_tuple && items.size() == 1) return std::move(items[0]);
    auto e = Make(ExprKind::kTuple, line);
    e->items = std::move(items);
    return Done(std::move(e));
  }

  ExprPtr ParseExpression(bool with_condition) {
    DepthGuard guard(*this);
    if (!with_condition) return ParseOr();
    ExprPtr e = ParseOr();
    while (IsName("if")) {
      const int line = Next().line;
      auto c = Make(ExprKind::kCondition, line);
      c->target = ParseOr();
      c->items.push_back(std::move(e));
      c->items.push_back(SkipName("else") ? ParseExpression(true) : nullptr);
      e = Done(std::move(c));
    }
    return e;
  }

  ExprPtr Binary(std::string op, ExprPtr lhs, ExprPtr rhs, int line) {
    auto e = Make(ExprKind::kBinary, line);
    e->name = std::move(op);
    e->items.push_back(std::move(lhs));
    e->items.push_back(std::move(rhs));
    return Done(std::move(e));
  }

  ExprPtr ParseOr() {
    ExprPtr e = ParseAnd();
    while (IsName("or")) {
      const int line = Next().line;
      e = Binary("or", std::move(e), ParseAnd(), line);
    }
    return e;
  }

  ExprPtr ParseAnd() {
    ExprPtr e = ParseNot();
    while (IsName("and")) {
      const int line = Next().line;
      e = Binary("and", std::move(e), ParseNot(), line);
    }
    return e;
  }

  ExprPtr ParseNot() {
    if (!IsName("not")) return ParseCompare();
    DepthGuard guard(*this);
    auto e = Make(ExprKind::kUnary, Next().line);
    e->name = "not";
    e->target = ParseNot();
    return Done(std::move(e));
  }

  ExprPtr ParseCompare() {
    const int line = Peek().line;
    ExprPtr first = ParseMath1();
    auto e = Make(ExprKind::kCompare, line);
    for (;;) {
      static constexpr std::string_view kOps[] = {"==", "!=", "<", ">", "<=", ">="};
      std::string op;
      if (Peek().type == TokenType::kOperator &&
          std::find(std::begin(kOps), std::end(kOps), Peek().text) != std::end(kOps)) {
        op = Next().text;
      } else if (IsName("in")) {
        Next();
        op = "in";
      } else if (IsName("not") && IsName("in", 1)) {
        Next(), Next();
        op = "notin";
      } else {
        break;
      }
      e->ops.push_back(op);
      e->items.push_back(ParseMath1());
    }
    if (e->ops.empty()) return first;
    e->items.insert(e->items.begin(), std::move(first));
    return Done(std::move(e));
  }

  template <typename Sub>
  ExprPtr ParseLeftAssoc(std::initializer_list<std::string_view> ops, Sub sub) {
    ExprPtr e = (this->*sub)();
    for (;;) {
      const Token& t = Peek();
      if (t.type != TokenType::kOperator || std::find(ops.begin(), ops.end(), t.text) == ops.end()) return e;
      const int line = t.line;
      const std::string op = Next().text;
      e = Binary(op, std::move(e), (this->*sub)(), line);
    }
  }
  ExprPtr ParseMath1() { return ParseLeftAssoc({"+", "-"}, &Parser::ParseConcat); }
  ExprPtr ParseConcat() { return ParseLeftAssoc({"~"}, &Parser::ParseMath2); }
  ExprPtr ParseMath2() { return ParseLeftAssoc({"*", "/", "//", "%"}, &Parser::ParsePow); }
  ExprPtr ParsePow() { return ParseLeftAssoc({"**"}, &Parser::ParseUnaryWithFilters); }  // left-assoc in jinja2
  ExprPtr ParseUnaryWithFilters() { return ParseUnary(true); }

  ExprPtr ParseUnary(bool with_filters) {
    DepthGuard guard(*this);
    ExprPtr e;
    if (IsOp("-") || IsOp("+")) {
      const Token& t = Next();
      e = Make(ExprKind::kUnary, t.line);
      e->name = t.text;
      e->target = ParseUnary(false);
      e = Done(std::move(e));
    } else {
      e = ParsePrimary();
    }
    e = ParsePostfix(std::move(e));
    if (!with_filters) return e;
    for (;;) {
      if (SkipOp("|")) {
        e = ParseFilter(std::move(e));
      } else if (IsName("is")) {
        Next();
        e = ParseTest(std::move(e));
      } else if (IsOp("(")) {
        e = ParseCall(std::move(e));
      } else {
        return e;
      }
    }
  }

  ExprPtr ParsePrimary() {
    const Token& t = Peek();
    switch (t.type) {
      case TokenType::kName: {
        Next();
        auto e = Make(ExprKind::kLiteral, t.line);
        if (t.text == "true" || t.text == "True") {
          e->value = Value(true);
        } else if (t.text == "false" || t.text == "False") {
          e->value = Value(false);
        } else if (t.text == "none" || t.text == "None") {
          e->value = Value(nullptr);
        } else {
          e->kind = ExprKind::kName;
          e->name = t.text;
        }
        return e;
      }
      case TokenType::kString: {
        auto e = Make(ExprKind::kLiteral, t.line);
        std::string s;
        while (Peek().type == TokenType::kString) s += Next().text;  // "a" "b" is "ab"
        e->value = Value(std::move(s));
        return e;
      }
      case TokenType::kInteger:
      case TokenType::kFloat: {
        Next();
        auto e = Make(ExprKind::kLiteral, t.line);
        e->value = t.type == TokenType::kInteger ? Value(t.integer) : Value(t.number);
        return e;
      }
      case TokenType::kOperator:
        if (t.text == "(") {
          Next();
          ExprPtr e = ParseTuple(true, true);
          ExpectOp(")");
          return e;
        }
        if (t.text == "[" || t.text == "{") return ParseListOrDict();
        break;
      default: break;
    }
    Error("expected an expression, got " + Describe(t));
  }

  ExprPtr ParseListOrDict() {
    const Token& open = Next();
    const bool is_dict = open.text == "{";
    auto e = Make(is_dict ? ExprKind::kDict : ExprKind::kList, open.line);
    const char* close = is_dict ? "}" : "]";
    while (!IsOp(close)) {
      if (!e->items.empty()) ExpectOp(",");
      if (IsOp(close)) break;
      e->items.push_back(ParseExpression(true));
      if (is_dict) {
        ExpectOp(":");
        e->items.push_back(ParseExpression(true));
      }
    }
    ExpectOp(close);
    return Done(std::move(e));
  }

  ExprPtr ParsePostfix(ExprPtr e) {
    for (;;) {
      if (IsOp(".")) {
        const int line = Next().line;
        if (Peek().type == TokenType::kInteger) {  // xs.0 is xs[0]
          auto index = Make(ExprKind::kLiteral, line);
          index->value = Value(Next().integer);
          auto item = Make(ExprKind::kItem, line);
          item->target = std::move(e);
          item->items.push_back(std::move(index));
          e = Done(std::move(item));
          continue;
        }
        auto attr = Make(ExprKind::kAttribute, line);
        attr->name = ExpectName("an attribute name");
        attr->target = std::move(e);
        e = Done(std::move(attr));
      } else if (IsOp("[")) {
        e = ParseSubscript(std::move(e));
      } else if (IsOp("(")) {
        e = ParseCall(std::move(e));
      } else {
        return e;
      }
    }
  }

  ExprPtr ParseSubscript(ExprPtr target) {
    const int line = Next().line;  // [
    ExprPtr parts[3];
    int colons = 0;
    if (!IsOp(":")) parts[0] = ParseExpression(true);
    while (colons < 2 && SkipOp(":")) {
      ++colons;
      if (!IsOp("]") && !IsOp(":")) parts[colons] = ParseExpression(true);
    }
    if (IsOp(",")) Error("tuple subscripts are not supported");
    ExpectOp("]");
    auto e = Make(colons ? ExprKind::kSlice : ExprKind::kItem, line);
    e->target = std::move(target);
    e->items.push_back(std::move(parts[0]));
    if (colons) {
      e->items.push_back(std::move(parts[1]));
      e->items.push_back(std::move(parts[2]));
    }
    return Done(std::move(e));
  }

  // `(args)` into e's items/kwargs.
  void ParseArgs(Expr& e) {
    ExpectOp("(");
    while (!IsOp(")")) {
      if (!e.items.empty() || !e.kwargs.empty()) ExpectOp(",");
      if (IsOp(")")) break;
      if (IsOp("*") || IsOp("**")) Error("*args and **kwargs in calls are not supported");
      if (Peek().type == TokenType::kName && IsOp("=", 1)) {
        std::string name = Next().text;
        Next();
        e.kwargs.emplace_back(std::move(name), ParseExpression(true));
      } else {
        if (!e.kwargs.empty()) Error("positional argument after keyword argument");
        e.items.push_back(ParseExpression(true));
      }
    }
    ExpectOp(")");
  }

  ExprPtr ParseCall(ExprPtr callee) {
    auto e = Make(ExprKind::kCall, Peek().line);
    e->target = std::move(callee);
    ParseArgs(*e);
    return Done(std::move(e));
  }

  ExprPtr ParseFilter(ExprPtr input) {
    const int line = Peek().line;
    auto e = Make(ExprKind::kFilter, line);
    e->name = ExpectName("a filter name");
    if (!IsFilter(e->name)) Error("unknown filter '" + e->name + "'", line);
    e->target = std::move(input);
    if (IsOp("(")) ParseArgs(*e);
    return Done(std::move(e));
  }

  ExprPtr ParseTest(ExprPtr input) {
    const int line = Peek().line;
    auto e = Make(ExprKind::kTest, line);
    e->negated = SkipName("not");
    e->name = ExpectName("a test name");
    if (!IsTest(e->name)) Error("unknown test '" + e->name + "'", line);
    e->target = std::move(input);
    const Token& t = Peek();
    if (IsOp("(")) {
      ParseArgs(*e);
    } else if ((t.type == TokenType::kName || t.type == TokenType::kString || t.type == TokenType::kInteger ||
                t.type == TokenType::kFloat || IsOp("[") || IsOp("{")) &&
               !IsName("else") && !IsName("or") && !IsName("and")) {
      if (IsName("is")) Error("you cannot chain multiple tests with 'is'");
      e->items.push_back(ParsePostfix(ParsePrimary()));  // `x is divisibleby 3`
    }
    return Done(std::move(e));
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  const std::string& where_;
  int depth_ = 0;
  int loop_depth_ = 0;
};

}  // namespace

Program Parse(std::string_view source, const std::string& where) {
  return Parser(Lex(source, where), where).Run();
}

}  // namespace kvlab::jinja
