// The parsed template: statements (text, output, if, for, set, macro, ...) over expressions. Built by
// jinja_parser, walked by jinja_renderer; immutable after parsing, so one parse serves any number of renders.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kvlab/template/jinja_value.h"

namespace kvlab::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

enum class ExprKind {
  kLiteral,    // value
  kName,       // name
  kList,       // items
  kTuple,      // items
  kDict,       // items: key, value, key, value, ...
  kAttribute,  // target.name
  kItem,       // target[items[0]]
  kSlice,      // target[items[0]:items[1]:items[2]] (null: omitted)
  kCall,       // target(items..., kwargs...)
  kFilter,     // target|name(items..., kwargs...); target is null inside {% filter %}
  kTest,       // target is [not] name(items...)
  kUnary,      // name (- + not) target
  kBinary,     // items[0] name items[1]: + - * / // % ** ~ and or
  kCompare,    // items[0] ops[0] items[1] ops[1] items[2] ...: == != < > <= >= in notin (chained as Python)
  kCondition,  // items[0] if target else items[1] (items[1] null: undefined)
};

struct Expr {
  ExprKind kind;
  int line = 0;
  int depth = 1;  // 1 + the deepest child: the parser refuses trees deeper than kMaxNesting
  Value value;
  std::string name;
  ExprPtr target;
  std::vector<ExprPtr> items;
  std::vector<std::string> ops;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  bool negated = false;  // kTest: `is not`
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

enum class StmtKind {
  kText,         // text
  kOutput,       // {{ expr }}
  kIf,           // branches: cond (null for else) + body
  kFor,          // for targets in expr [if filter] body [else else_body]
  kSet,          // set targets = expr  |  set targets[0].attribute = expr  |  set x %}body{% endset
  kMacro,        // macro name(params) body
  kCallBlock,    // call[(params)] expr body: `caller()` in the callee renders body
  kFilterBlock,  // filter filters body
  kScope,        // with assignments body; also generation (HF's marker: renders its body)
  kBreak,
  kContinue,
};

struct Param {
  std::string name;
  ExprPtr default_value;  // null: required
};

struct Stmt {
  StmtKind kind;
  int line = 0;
  std::string text;
  ExprPtr expr;
  ExprPtr filter;                      // kFor: the inline `if`
  std::vector<std::string> targets;    // kFor, kSet: names (several: tuple unpacking)
  std::string attribute;               // kSet: `ns.attribute`
  Body body, else_body;
  std::vector<std::pair<ExprPtr, Body>> branches;  // kIf
  std::vector<Param> params;           // kMacro, kCallBlock (the caller's parameters), kScope (with a = ...)
  std::vector<ExprPtr> filters;        // kFilterBlock: kFilter nodes, applied in order
};

struct Program {
  Body body;
};

}  // namespace kvlab::jinja
