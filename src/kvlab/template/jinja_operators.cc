#include "kvlab/template/jinja_operators.h"

#include <cmath>
#include <string>

#include "kvlab/template/jinja_format.h"
#include "kvlab/template/jinja_limits.h"

namespace kvlab::jinja {
namespace {

[[noreturn]] void Unsupported(std::string_view op, const Value& a, const Value& b) {
  if (a.IsUndefined()) Fail(a.UndefinedHint());
  if (b.IsUndefined()) Fail(b.UndefinedHint());
  Fail("unsupported operand type(s) for " + std::string(op) + ": '" + a.TypeName() + "' and '" + b.TypeName() + "'");
}

// Takes the result by pointer: read only after the overflow builtin has written it.
Value Checked(bool overflow, const int64_t* r) {
  if (overflow) Fail("integer overflow (templates use 64-bit integers)");
  return Value(*r);
}

Value Repeat(const Value& seq, int64_t n) {
  const bool empty = seq.IsString() ? seq.AsString().empty() : seq.AsList().items.empty();
  if (n <= 0 || empty) return seq.IsString() ? Value(std::string()) : Value::MakeList({}, seq.AsList().tuple);
  if (seq.IsString()) {
    const std::string& s = seq.AsString();
    if (static_cast<uint64_t>(n) > kMaxStringBytes / s.size())
      Fail("string repetition longer than " + std::to_string(kMaxStringBytes) + " bytes");
    std::string out;
    out.reserve(s.size() * static_cast<size_t>(n));
    for (int64_t k = 0; k < n; ++k) out += s;
    return Value(std::move(out));
  }
  const auto& items = seq.AsList().items;
  if (static_cast<uint64_t>(n) > kMaxListItems / items.size())
    Fail("list repetition longer than " + std::to_string(kMaxListItems) + " items");
  std::vector<Value> out;
  for (int64_t k = 0; k < n; ++k) out.insert(out.end(), items.begin(), items.end());
  return Value::MakeList(std::move(out), seq.AsList().tuple);
}

Value FloatFloorDiv(double x, double y) {
  if (y == 0) Fail("float floor division by zero");
  double mod = std::fmod(x, y);
  double div = (x - mod) / y;
  if (mod != 0 && ((y < 0) != (mod < 0))) div -= 1.0;
  if (div == 0) return Value(std::copysign(0.0, x / y));
  double floor_div = std::floor(div);
  if (div - floor_div > 0.5) floor_div += 1.0;
  return Value(floor_div);
}

Value FloatMod(double x, double y) {
  if (y == 0) Fail("float modulo by zero");
  double mod = std::fmod(x, y);
  if (mod != 0) {
    if ((y < 0) != (mod < 0)) mod += y;
  } else {
    mod = std::copysign(0.0, y);
  }
  return Value(mod);
}

Value Power(const Value& a, const Value& b) {
  if (a.IsIntegral() && b.IsIntegral() && b.AsInt() >= 0) {
    int64_t base = a.AsInt(), exp = b.AsInt(), result = 1;
    while (exp > 0) {
      if ((exp & 1) && __builtin_mul_overflow(result, base, &result)) Checked(true, nullptr);
      exp >>= 1;
      if (exp > 0 && __builtin_mul_overflow(base, base, &base)) Checked(true, nullptr);
    }
    return Value(result);
  }
  const double x = a.AsDouble(), y = b.AsDouble();
  if (x == 0 && y < 0) Fail("0.0 cannot be raised to a negative power");
  if (x < 0 && y != std::floor(y)) Fail("complex numbers are not supported");
  return Value(std::pow(x, y));
}

}  // namespace

Value BinaryOp(std::string_view op, const Value& a, const Value& b) {
  if (op == "~") {
    std::string s = PyStr(a);
    const std::string t = PyStr(b);
    if (s.size() + t.size() > kMaxStringBytes) Fail("string longer than " + std::to_string(kMaxStringBytes) + " bytes");
    return Value(s.append(t));
  }
  const bool ints = a.IsIntegral() && b.IsIntegral();
  const bool numbers = a.IsNumber() && b.IsNumber();
  int64_t r = 0;
  if (op == "+") {
    if (ints) return Checked(__builtin_add_overflow(a.AsInt(), b.AsInt(), &r), &r);
    if (numbers) return Value(a.AsDouble() + b.AsDouble());
    if (a.IsString() && b.IsString()) {
      if (a.AsString().size() + b.AsString().size() > kMaxStringBytes)
        Fail("string longer than " + std::to_string(kMaxStringBytes) + " bytes");
      return Value(a.AsString() + b.AsString());
    }
    if (a.IsList() && b.IsList() && a.AsList().tuple == b.AsList().tuple) {
      std::vector<Value> items = a.AsList().items;
      items.insert(items.end(), b.AsList().items.begin(), b.AsList().items.end());
      return Value::MakeList(std::move(items), a.AsList().tuple);
    }
  } else if (op == "-") {
    if (ints) return Checked(__builtin_sub_overflow(a.AsInt(), b.AsInt(), &r), &r);
    if (numbers) return Value(a.AsDouble() - b.AsDouble());
  } else if (op == "*") {
    if (ints) return Checked(__builtin_mul_overflow(a.AsInt(), b.AsInt(), &r), &r);
    if (numbers) return Value(a.AsDouble() * b.AsDouble());
    if ((a.IsString() || a.IsList()) && b.IsIntegral()) return Repeat(a, b.AsInt());
    if (a.IsIntegral() && (b.IsString() || b.IsList())) return Repeat(b, a.AsInt());
  } else if (op == "/") {
    if (numbers) {
      if (b.AsDouble() == 0) Fail("division by zero");
      return Value(a.AsDouble() / b.AsDouble());
    }
  } else if (op == "//") {
    if (ints) {
      const int64_t x = a.AsInt(), y = b.AsInt();
      if (y == 0) Fail("integer division or modulo by zero");
      if (x == INT64_MIN && y == -1) Checked(true, nullptr);
      const int64_t q = x / y;
      return Value((x % y != 0 && ((x < 0) != (y < 0))) ? q - 1 : q);
    }
    if (numbers) return FloatFloorDiv(a.AsDouble(), b.AsDouble());
  } else if (op == "%") {
    if (ints) {
      const int64_t x = a.AsInt(), y = b.AsInt();
      if (y == 0) Fail("integer division or modulo by zero");
      if (y == -1) return Value(0);
      const int64_t m = x % y;
      return Value((m != 0 && ((m < 0) != (y < 0))) ? m + y : m);
    }
    if (numbers) return FloatMod(a.AsDouble(), b.AsDouble());
    if (a.IsString()) Fail("printf-style string formatting ('...' % value) is not supported");
  } else if (op == "**") {
    if (numbers) return Power(a, b);
  }
  Unsupported(op, a, b);
}

Value UnaryOp(std::string_view op, const Value& v) {
  if (v.IsUndefined()) Fail(v.UndefinedHint());
  if (v.IsFloat()) return Value(op == "-" ? -v.AsDouble() : v.AsDouble());
  if (v.IsIntegral()) {
    if (op == "+") return Value(v.AsInt());
    if (v.AsInt() == INT64_MIN) Checked(true, nullptr);
    return Value(-v.AsInt());
  }
  Fail("bad operand type for unary " + std::string(op) + ": '" + v.TypeName() + "'");
}

bool CompareOp(std::string_view op, const Value& a, const Value& b) {
  if (op == "==") return Equal(a, b);
  if (op == "!=") return !Equal(a, b);
  if (op == "in") return Contains(b, a);
  if (op == "notin") return !Contains(b, a);
  if (a.IsNumber() && b.IsNumber() && !(a.IsIntegral() && b.IsIntegral())) {
    const double x = a.AsDouble(), y = b.AsDouble();  // direct, so that NaN compares false as in Python
    if (op == "<") return x < y;
    if (op == ">") return x > y;
    if (op == "<=") return x <= y;
    return x >= y;
  }
  if (op == "<") return Less(a, b);
  if (op == ">") return Less(b, a);
  if (op == "<=") return !Less(b, a);
  return !Less(a, b);
}

}  // namespace kvlab::jinja
