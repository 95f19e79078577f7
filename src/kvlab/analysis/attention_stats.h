// Statistics of one attention row (softmax probabilities over the positions a query can see).
#pragma once

#include <cstddef>
#include <span>

namespace kvlab::analysis {

// Shannon entropy in nats, -sum p log p (0 log 0 = 0).
double Entropy(std::span<const float> probs);
// Entropy divided by log(n): 1 for uniform attention, 0 for one-hot; 0 when n <= 1.
double NormalizedEntropy(std::span<const float> probs);
// Fraction of entries strictly below `threshold` (how many slots a threshold-pruner could drop).
double SparsityBelow(std::span<const float> probs, float threshold);
// Smallest number of entries whose probabilities sum to at least `mass` (the slots a query really needs).
size_t SlotsForMass(std::span<const float> probs, double mass);

}  // namespace kvlab::analysis
