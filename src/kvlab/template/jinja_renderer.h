// Runs a parsed template: statements write text, expressions evaluate to values, with jinja2's scoping
// (a for loop's body gets a fresh scope each iteration; macros see their arguments and the template's
// top-level variables; namespaces carry values out of loops).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "kvlab/template/jinja_ast.h"

namespace kvlab::jinja {

// One render of one program. Failures propagate as jinja::Failure; line() is where it happened.
class Renderer {
 public:
  explicit Renderer(const Program& program) : program_(program) {}
  std::string Render(std::vector<std::pair<std::string, Value>> variables);
  int line() const { return line_; }

 private:
  enum class Flow { kNormal, kBreak, kContinue };

  // Variables of one scope; lookups continue at frames_[parent] (-1: none left; then the globals).
  struct Frame {
    std::vector<std::pair<std::string, Value>> vars;
    int parent = -1;
  };
  class ScopedFrame;   // pushes a frame for a block's duration
  class DepthGuard;    // bounds interpreter recursion

  Flow ExecBody(const Body& body, std::string& out);
  Flow Exec(const Stmt& s, std::string& out);
  Flow ExecFor(const Stmt& s, std::string& out);
  void ExecSet(const Stmt& s);
  void ExecCallBlock(const Stmt& s, std::string& out);
  std::string RenderToString(const Body& body);
  void Emit(std::string& out, const std::string& text);

  Value Eval(const Expr& e);
  Value EvalCall(const Expr& e);
  CallArgs EvalArgs(const Expr& e);
  Value CallMacro(const Stmt& macro, const CallArgs& args);

  Value Lookup(const std::string& name) const;
  void Assign(const std::string& name, Value value);
  // Binds `targets` to `value` (unpacking a sequence when there are several names).
  void AssignTargets(const std::vector<std::string>& targets, const Value& value);

  const Program& program_;
  std::vector<Frame> frames_;
  int line_ = 0;
  int depth_ = 0;
  int call_depth_ = 0;
};

}  // namespace kvlab::jinja
