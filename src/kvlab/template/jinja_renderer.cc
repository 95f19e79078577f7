#include "kvlab/template/jinja_renderer.h"

#include <memory>

#include "kvlab/template/jinja_builtins.h"
#include "kvlab/template/jinja_format.h"
#include "kvlab/template/jinja_limits.h"
#include "kvlab/template/jinja_operators.h"

namespace kvlab::jinja {

class Renderer::ScopedFrame {
 public:
  ScopedFrame(Renderer& r, int parent) : r_(r) { r_.frames_.push_back(Frame{{}, parent}); }
  ~ScopedFrame() { r_.frames_.pop_back(); }

 private:
  Renderer& r_;
};

class Renderer::DepthGuard {
 public:
  DepthGuard(Renderer& r, int line) : r_(r) {
    r_.line_ = line;
    ChargeWork(1);
    if (++r_.depth_ > kMaxEvalDepth) Fail("template recursion deeper than " + std::to_string(kMaxEvalDepth) + " levels");
  }
  ~DepthGuard() { --r_.depth_; }

 private:
  Renderer& r_;
};

namespace {

// Namespaces are the only values that change after they are built; one must never end up inside itself
// (Python would allow the cycle; here it would leak and make printing recurse forever).
bool HoldsNamespace(const Value& v) {
  if (v.IsList()) {
    for (const Value& item : v.AsList().items)
      if (HoldsNamespace(item)) return true;
  } else if (v.IsDict()) {
    if (v.AsDict().kind == Dict::Kind::kNamespace) return true;
    for (const auto& [k, item] : v.AsDict().entries)
      if (HoldsNamespace(item)) return true;
  }
  return false;
}

// jinja2's `loop` object for iteration i of n.
Value MakeLoop(const std::vector<Value>& items, size_t i) {
  const int64_t n = static_cast<int64_t>(items.size()), k = static_cast<int64_t>(i);
  std::vector<std::pair<std::string, Value>> e = {
      {"index", Value(k + 1)},      {"index0", Value(k)},        {"revindex", Value(n - k)},
      {"revindex0", Value(n - k - 1)}, {"first", Value(k == 0)},  {"last", Value(k == n - 1)},
      {"length", Value(n)},         {"depth", Value(1)},         {"depth0", Value(0)},
  };
  e.emplace_back("previtem", i > 0 ? items[i - 1] : Value::MakeUndefined("there is no previous item"));
  e.emplace_back("nextitem", i + 1 < items.size() ? items[i + 1] : Value::MakeUndefined("there is no next item"));
  e.emplace_back("cycle", MakeFunction("loop.cycle", [k](const CallArgs& a) {
                   if (a.positional.empty()) Fail("loop.cycle() needs at least one item");
                   return a.positional[static_cast<size_t>(k) % a.positional.size()];
                 }));
  return MakeDict(std::move(e), Dict::Kind::kLoop);
}

}  // namespace

std::string Renderer::Render(std::vector<std::pair<std::string, Value>> variables) {
  frames_.clear();
  frames_.push_back(Frame{std::move(variables), -1});
  std::string out;
  ExecBody(program_.body, out);
  return out;
}

// ---- statements -----------------------------------------------------------------------------------------

Renderer::Flow Renderer::ExecBody(const Body& body, std::string& out) {
  for (const StmtPtr& s : body) {
    const Flow flow = Exec(*s, out);
    if (flow != Flow::kNormal) return flow;
  }
  return Flow::kNormal;
}

void Renderer::Emit(std::string& out, const std::string& text) {
  if (out.size() + text.size() > kMaxStringBytes)
    Fail("rendered text longer than " + std::to_string(kMaxStringBytes) + " bytes");
  ChargeWork(static_cast<int64_t>(text.size() / kBytesPerWorkUnit));
  out += text;
}

std::string Renderer::RenderToString(const Body& body) {
  std::string out;
  ExecBody(body, out);  // break/continue cannot cross a block boundary (the parser saw to it)
  return out;
}

Renderer::Flow Renderer::Exec(const Stmt& s, std::string& out) {
  DepthGuard guard(*this, s.line);
  switch (s.kind) {
    case StmtKind::kText: Emit(out, s.text); break;
    case StmtKind::kOutput: Emit(out, PyStr(Eval(*s.expr))); break;
    case StmtKind::kIf:
      for (const auto& [cond, body] : s.branches) {
        if (!cond || Truthy(Eval(*cond))) return ExecBody(body, out);
      }
      break;
    case StmtKind::kFor: return ExecFor(s, out);
    case StmtKind::kSet: ExecSet(s); break;
    case StmtKind::kMacro: {
      const Stmt* macro = &s;
      Assign(s.text, MakeFunction(s.text, [this, macro](const CallArgs& a) { return CallMacro(*macro, a); }));
      break;
    }
    case StmtKind::kCallBlock: ExecCallBlock(s, out); break;
    case StmtKind::kFilterBlock: {
      Value v(RenderToString(s.body));
      for (const ExprPtr& f : s.filters) v = ApplyFilter(f->name, v, EvalArgs(*f));
      Emit(out, PyStr(v));
      break;
    }
    case StmtKind::kScope: {
      ScopedFrame frame(*this, static_cast<int>(frames_.size()) - 1);
      for (const Param& p : s.params) Assign(p.name, Eval(*p.default_value));
      return ExecBody(s.body, out);
    }
    case StmtKind::kBreak: return Flow::kBreak;
    case StmtKind::kContinue: return Flow::kContinue;
  }
  return Flow::kNormal;
}

Renderer::Flow Renderer::ExecFor(const Stmt& s, std::string& out) {
  std::vector<Value> items = Iterate(Eval(*s.expr));
  const int parent = static_cast<int>(frames_.size()) - 1;
  if (s.filter) {  // `for x in xs if cond`: loop.length and friends count only the kept items
    std::vector<Value> kept;
    for (Value& item : items) {
      ScopedFrame frame(*this, parent);
      AssignTargets(s.targets, item);
      if (Truthy(Eval(*s.filter))) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  if (items.empty()) return ExecBody(s.else_body, out);  // a break there belongs to an enclosing loop
  for (size_t i = 0; i < items.size(); ++i) {
    ScopedFrame frame(*this, parent);
    line_ = s.line;
    AssignTargets(s.targets, items[i]);
    Assign("loop", MakeLoop(items, i));
    if (ExecBody(s.body, out) == Flow::kBreak) break;
  }
  return Flow::kNormal;
}

void Renderer::ExecSet(const Stmt& s) {
  if (!s.expr) {  // {% set x %}...{% endset %}
    Assign(s.targets[0], Value(RenderToString(s.body)));
    return;
  }
  Value v = Eval(*s.expr);
  if (s.attribute.empty()) return AssignTargets(s.targets, v);
  const Value target = Lookup(s.targets[0]);
  if (!target.IsDict() || target.AsDict().kind != Dict::Kind::kNamespace)
    Fail("cannot assign attribute on non-namespace object '" + s.targets[0] + "'");
  if (HoldsNamespace(v)) Fail("a namespace attribute cannot hold a namespace");
  target.AsDict().Set(s.attribute, std::move(v));
}

void Renderer::ExecCallBlock(const Stmt& s, std::string& out) {
  // caller() renders the block's body in the scope of the {% call %}, with the caller's own parameters.
  // It is only valid while the call runs (a stored copy called later fails instead of reading dead scopes).
  auto alive = std::make_shared<bool>(true);
  const int site = static_cast<int>(frames_.size()) - 1;
  const Stmt* block = &s;
  Value caller = MakeFunction("caller", [this, block, site, alive](const CallArgs& a) {
    if (!*alive) Fail("caller() used after its {% call %} block ended");
    if (++call_depth_ > kMaxCallDepth) Fail("macro calls nested more than " + std::to_string(kMaxCallDepth) + " deep");
    std::vector<std::string_view> names;
    for (const Param& p : block->params) names.push_back(p.name);
    const std::vector<Value> bound = a.Bind("caller", names);
    ScopedFrame frame(*this, site);
    for (size_t i = 0; i < bound.size(); ++i) {
      const Param& p = block->params[i];
      Assign(p.name, !bound[i].IsUndefined() || !p.default_value ? bound[i] : Eval(*p.default_value));
    }
    std::string text = RenderToString(block->body);
    --call_depth_;
    return Value(std::move(text));
  });
  const Expr& call = *s.expr;
  const Value callee = Eval(*call.target);
  CallArgs args = EvalArgs(call);
  args.keyword.emplace_back("caller", std::move(caller));
  if (!callee.IsFunction()) Fail("'{% call %}' needs a macro, got " + callee.TypeName());
  const Value result = callee.AsFunction().call(args);
  *alive = false;
  Emit(out, PyStr(result));
}

Value Renderer::CallMacro(const Stmt& macro, const CallArgs& args) {
  if (++call_depth_ > kMaxCallDepth) Fail("macro calls nested more than " + std::to_string(kMaxCallDepth) + " deep");
  const std::string& name = macro.text;
  if (args.positional.size() > macro.params.size())
    Fail("macro '" + name + "' takes not more than " + std::to_string(macro.params.size()) + " argument(s)");
  std::vector<Value> bound(macro.params.size());
  std::vector<bool> given(macro.params.size(), false);
  for (size_t i = 0; i < args.positional.size(); ++i) bound[i] = args.positional[i], given[i] = true;
  Value caller;
  for (const auto& [key, value] : args.keyword) {
    size_t i = 0;
    while (i < macro.params.size() && macro.params[i].name != key) ++i;
    if (i == macro.params.size()) {
      if (key == "caller") {
        caller = value;
        continue;
      }
      Fail("macro '" + name + "' has no argument '" + key + "'");
    }
    if (given[i]) Fail("macro '" + name + "' got multiple values for argument '" + key + "'");
    bound[i] = value, given[i] = true;
  }
  ScopedFrame frame(*this, 0);  // a macro sees its arguments and the template's top level
  for (size_t i = 0; i < bound.size(); ++i) {
    const Param& p = macro.params[i];
    if (given[i]) {
      Assign(p.name, bound[i]);
    } else if (p.default_value) {
      Assign(p.name, Eval(*p.default_value));  // defaults may refer to earlier arguments
    } else {
      Assign(p.name, Value::MakeUndefined("parameter '" + p.name + "' was not provided"));
    }
  }
  if (!caller.IsUndefined()) Assign("caller", caller);
  std::string text = RenderToString(macro.body);
  --call_depth_;
  return Value(std::move(text));
}

// ---- variables --------------------------------------------------------------------------------------------

Value Renderer::Lookup(const std::string& name) const {
  for (int i = static_cast<int>(frames_.size()) - 1; i >= 0; i = frames_[i].parent) {
    for (const auto& [k, v] : frames_[i].vars)
      if (k == name) return v;
  }
  return GetGlobal(name);
}

void Renderer::Assign(const std::string& name, Value value) {
  for (auto& [k, v] : frames_.back().vars) {
    if (k == name) {
      v = std::move(value);
      return;
    }
  }
  frames_.back().vars.emplace_back(name, std::move(value));
}

void Renderer::AssignTargets(const std::vector<std::string>& targets, const Value& value) {
  if (targets.size() == 1) return Assign(targets[0], value);
  const std::vector<Value> parts = Iterate(value);
  if (parts.size() != targets.size()) {
    Fail(parts.size() > targets.size() ? "too many values to unpack (expected " + std::to_string(targets.size()) + ")"
                                       : "not enough values to unpack (expected " + std::to_string(targets.size()) +
                                             ", got " + std::to_string(parts.size()) + ")");
  }
  for (size_t i = 0; i < targets.size(); ++i) Assign(targets[i], parts[i]);
}

// ---- expressions ------------------------------------------------------------------------------------------

CallArgs Renderer::EvalArgs(const Expr& e) {
  CallArgs args;
  for (const ExprPtr& a : e.items) args.positional.push_back(Eval(*a));
  for (const auto& [k, a] : e.kwargs) args.keyword.emplace_back(k, Eval(*a));
  return args;
}

Value Renderer::EvalCall(const Expr& e) {
  const Value callee = Eval(*e.target);
  const CallArgs args = EvalArgs(e);
  line_ = e.line;
  if (callee.IsUndefined()) Fail(callee.UndefinedHint());
  if (!callee.IsFunction()) Fail("'" + callee.TypeName() + "' object is not callable");
  return callee.AsFunction().call(args);
}

Value Renderer::Eval(const Expr& e) {
  DepthGuard guard(*this, e.line);
  switch (e.kind) {
    case ExprKind::kLiteral: return e.value;
    case ExprKind::kName: return Lookup(e.name);
    case ExprKind::kList:
    case ExprKind::kTuple: {
      std::vector<Value> items;
      for (const ExprPtr& item : e.items) items.push_back(Eval(*item));
      return Value::MakeList(std::move(items), e.kind == ExprKind::kTuple);
    }
    case ExprKind::kDict: {
      std::vector<std::pair<std::string, Value>> entries;
      for (size_t i = 0; i + 1 < e.items.size(); i += 2) {
        const Value key = Eval(*e.items[i]);
        if (!key.IsString()) Fail("dict keys must be strings in templates, got " + key.TypeName());
        entries.emplace_back(key.AsString(), Eval(*e.items[i + 1]));
      }
      return MakeDict(std::move(entries));
    }
    case ExprKind::kAttribute: return GetAttribute(Eval(*e.target), e.name);
    case ExprKind::kItem: {
      const Value obj = Eval(*e.target);
      return GetItem(obj, Eval(*e.items[0]));
    }
    case ExprKind::kSlice: {
      const Value obj = Eval(*e.target);
      Value parts[3];
      for (int k = 0; k < 3; ++k)
        if (e.items[k]) parts[k] = Eval(*e.items[k]);
      return Slice(obj, parts[0], parts[1], parts[2]);
    }
    case ExprKind::kCall: return EvalCall(e);
    case ExprKind::kFilter: {
      const Value input = Eval(*e.target);
      const CallArgs args = EvalArgs(e);
      line_ = e.line;
      return ApplyFilter(e.name, input, args);
    }
    case ExprKind::kTest: {
      const Value input = Eval(*e.target);
      const CallArgs args = EvalArgs(e);
      line_ = e.line;
      return Value(ApplyTest(e.name, input, args) != e.negated);
    }
    case ExprKind::kUnary: {
      const Value v = Eval(*e.target);
      line_ = e.line;
      if (e.name == "not") return Value(!Truthy(v));
      return UnaryOp(e.name, v);
    }
    case ExprKind::kBinary: {
      Value a = Eval(*e.items[0]);
      if (e.name == "and") return Truthy(a) ? Eval(*e.items[1]) : a;
      if (e.name == "or") return Truthy(a) ? a : Eval(*e.items[1]);
      const Value b = Eval(*e.items[1]);
      line_ = e.line;
      return BinaryOp(e.name, a, b);
    }
    case ExprKind::kCompare: {
      Value left = Eval(*e.items[0]);
      for (size_t i = 0; i < e.ops.size(); ++i) {
        Value right = Eval(*e.items[i + 1]);
        line_ = e.line;
        if (!CompareOp(e.ops[i], left, right)) return Value(false);
        left = std::move(right);
      }
      return Value(true);
    }
    case ExprKind::kCondition:
      if (Truthy(Eval(*e.target))) return Eval(*e.items[0]);
      if (e.items[1]) return Eval(*e.items[1]);
      return Value::MakeUndefined("the inline if-expression on line " + std::to_string(e.line) +
                                  " evaluated to false and no else section was defined");
  }
  Fail("internal: unknown expression kind");
}

}  // namespace kvlab::jinja
