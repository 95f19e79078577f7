// Policy spec strings: "name:key=value,key=value+name:key=value".
//
//   --kv "h2o:budget=128,recent=32"
//   --kv "sinks:sinks=4,budget=256"
//   --kv "h2o:budget=128,recent=32+quant:k=int4,v=int4"      ('+' composes policies, applied in order)
//
// PolicyParams hands out typed values and remembers which keys were read, so that a factory can reject
// keys it does not know (typos) with a message naming the policy and the key.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace kvlab {

class PolicyParams {
 public:
  PolicyParams(std::string policy, std::map<std::string, std::string> values)
      : policy_(std::move(policy)), values_(std::move(values)) {}

  const std::string& policy() const { return policy_; }
  bool Has(const std::string& key) const { return values_.count(key) != 0; }

  // Typed getters with a default; throw kvlab::Error("--kv", "<policy>: <key>=<value> ...") on a bad value.
  int64_t Int(const std::string& key, int64_t fallback, int64_t min, int64_t max);
  double Float(const std::string& key, double fallback, double min, double max);
  bool Bool(const std::string& key, bool fallback);
  std::string Choice(const std::string& key, const std::string& fallback, const std::vector<std::string>& allowed);
  // The raw value (for values with their own syntax, e.g. a layer list "256:192:128").
  std::string Text(const std::string& key, const std::string& fallback);

  // Throws if a key was given that no getter asked for. Call after reading every parameter.
  void RejectUnknownKeys() const;
  // "name:k=v,..." with every key in sorted order (what was given, not defaults).
  std::string ToString() const;

 private:
  [[noreturn]] void Fail(const std::string& key, const std::string& why) const;
  std::string policy_;
  std::map<std::string, std::string> values_;
  mutable std::set<std::string> read_;
};

// Splits a spec into its '+'-separated parts. Throws kvlab::Error("--kv", ...) on empty parts, missing
// names, "key" without "=value", duplicate keys, or characters outside [A-Za-z0-9_.-] (values may also
// hold ':', the list separator of e.g. layers=256:192:128).
std::vector<PolicyParams> ParsePolicySpec(std::string_view spec);

// The shortest text that parses back to v ("0.25", "1e-05"): how Spec() writes a real-valued key.
std::string FormatSpecNumber(double v);

}  // namespace kvlab
