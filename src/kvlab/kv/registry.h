// MakePolicy: spec string -> policy instance. Policies register a factory under their name
// (one file per policy under kv/policies/, each citing its paper).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kvlab/kv/policy.h"
#include "kvlab/kv/spec.h"

namespace kvlab {

// A factory reads its keys from the params (the registry rejects keys it did not read afterwards).
using PolicyFactory = std::function<std::unique_ptr<KvPolicy>(PolicyParams&)>;

struct PolicyInfo {
  std::string name;
  std::string summary;  // one line for --help / docs
  PolicyFactory make;
};

// Every registered policy, in registration order.
const std::vector<PolicyInfo>& RegisteredPolicies();

// Parses and builds a spec ("a:k=v+b:k=v" composes). Throws kvlab::Error("--kv", ...) on unknown names,
// unknown keys, bad values, impossible budgets.
std::unique_ptr<KvPolicy> MakePolicy(std::string_view spec);

}  // namespace kvlab
