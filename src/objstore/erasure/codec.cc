#include "objstore/erasure/codec.h"

#include <isa-l/erasure_code.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>

namespace sluice::objstore::erasure {

namespace {

// Decode plans kept per codec. A plan costs at most 32*16*16 bytes of tables,
// so the cache stays under ~1 MiB; past the bound an arbitrary entry goes.
constexpr size_t kMaxCachedPlans = 64;

using ptr_array = std::array<unsigned char*, codec::max_shards>;

// How to rebuild one pattern of lost shards: which k shards to read and the
// ISA-L tables that turn them into the outputs.
struct decode_plan {
  std::array<uint8_t, codec::max_shards> sources{};
  std::array<uint8_t, codec::max_shards> outputs{};
  int output_count = 0;
  std::vector<unsigned char> tables;  // 32 * k * output_count
};

unsigned char* bytes(std::span<std::byte> s) {
  return reinterpret_cast<unsigned char*>(s.data());
}

}  // namespace

struct codec::state {
  std::vector<unsigned char> matrix;         // (k+m) x k generator, identity on top
  std::vector<unsigned char> encode_tables;  // 32 * k * m
  std::mutex mu;
  std::unordered_map<uint32_t, std::shared_ptr<const decode_plan>> plans;
};

result<codec> codec::make(int data_shards, int parity_shards) {
  if (data_shards < 1 || parity_shards < 0 || data_shards + parity_shards > max_shards)
    return fail(errc::bad_geometry, "erasure geometry " + std::to_string(data_shards) + "+" +
                                        std::to_string(parity_shards) + " outside 1 <= k, 0 <= m, k+m <= 16");
  const int k = data_shards, m = parity_shards, n = k + m;
  auto s = std::make_shared<state>();
  s->matrix.resize(size_t(n) * k);
  gf_gen_cauchy1_matrix(s->matrix.data(), n, k);
  s->encode_tables.resize(size_t(32) * k * m);
  if (m > 0) ec_init_tables(k, m, s->matrix.data() + size_t(k) * k, s->encode_tables.data());
  return codec(k, m, std::move(s));
}

result<void> codec::encode(std::span<const std::byte> block,
                           std::span<const std::span<std::byte>> shards) const {
  const size_t len = shard_size(block.size());
  if (shards.size() != size_t(total_shards()))
    return fail(errc::bad_argument, "encode needs " + std::to_string(total_shards()) + " shard buffers");
  for (const auto& s : shards)
    if (s.size() != len) return fail(errc::bad_argument, "shard buffer size differs from shard_size(block)");
  size_t off = 0;
  for (int i = 0; i < k_; ++i) {
    const size_t take = std::min(len, block.size() - off);
    if (take > 0) std::memcpy(shards[i].data(), block.data() + off, take);
    if (take < len) std::memset(shards[i].data() + take, 0, len - take);
    off += take;
  }
  return encode_parity(shards);
}

result<void> codec::encode_parity(std::span<const std::span<std::byte>> shards) const {
  if (shards.size() != size_t(total_shards()))
    return fail(errc::bad_argument, "encode needs " + std::to_string(total_shards()) + " shard buffers");
  const size_t len = shards[0].size();
  for (const auto& s : shards)
    if (s.size() != len) return fail(errc::bad_argument, "shard buffers differ in size");
  if (len > size_t(INT_MAX)) return fail(errc::bad_argument, "shard larger than 2 GiB");
  if (m_ == 0 || len == 0) return ok();
  ptr_array data{}, parity{};
  for (int i = 0; i < k_; ++i) data[i] = bytes(shards[i]);
  for (int i = 0; i < m_; ++i) parity[i] = bytes(shards[k_ + i]);
  ec_encode_data(int(len), k_, m_, state_->encode_tables.data(), data.data(), parity.data());
  return ok();
}

result<void> codec::reconstruct(std::span<const std::span<std::byte>> shards,
                                const std::vector<bool>& present, bool data_only) const {
  const int n = total_shards();
  if (shards.size() != size_t(n) || present.size() != size_t(n))
    return fail(errc::bad_argument, "reconstruct needs " + std::to_string(n) + " shards and flags");
  uint32_t present_mask = 0, want_mask = 0;
  int present_count = 0;
  for (int i = 0; i < n; ++i) {
    if (present[i]) {
      present_mask |= 1u << i;
      ++present_count;
    } else if (i < k_ || !data_only) {
      want_mask |= 1u << i;
    }
  }
  if (want_mask == 0) return ok();
  if (present_count < k_)
    return fail(errc::too_few_shards, "need " + std::to_string(k_) + " of " + std::to_string(n) +
                                          " shards, have " + std::to_string(present_count));
  // Sizes of every shard read or written must agree.
  size_t len = SIZE_MAX;
  for (int i = 0; i < n; ++i) {
    if (!((present_mask | want_mask) & (1u << i))) continue;
    if (len == SIZE_MAX) len = shards[i].size();
    if (shards[i].size() != len) return fail(errc::bad_argument, "shard buffers differ in size");
  }
  if (len > size_t(INT_MAX)) return fail(errc::bad_argument, "shard larger than 2 GiB");

  const uint32_t key = present_mask | (data_only ? 1u << 16 : 0u);
  std::shared_ptr<const decode_plan> plan;
  {
    std::lock_guard lock(state_->mu);
    if (auto it = state_->plans.find(key); it != state_->plans.end()) plan = it->second;
  }
  if (!plan) {
    auto p = std::make_shared<decode_plan>();
    // Read the first k present shards: data shards first, so a loss of parity
    // only costs an identity decode.
    std::vector<unsigned char> sub(size_t(k_) * k_), inverse(size_t(k_) * k_);
    for (int i = 0, found = 0; found < k_; ++i) {
      if (!(present_mask & (1u << i))) continue;
      p->sources[found] = uint8_t(i);
      std::memcpy(&sub[size_t(found) * k_], &state_->matrix[size_t(i) * k_], k_);
      ++found;
    }
    if (gf_invert_matrix(sub.data(), inverse.data(), k_) != 0)
      return fail(errc::bad_geometry, "singular decode matrix");  // impossible for a Cauchy matrix
    // Row r of `inverse` turns the sources into data shard r; a parity shard's
    // row is its generator row times the inverse.
    std::vector<unsigned char> rows;
    for (int o = 0; o < n; ++o) {
      if (!(want_mask & (1u << o))) continue;
      p->outputs[p->output_count++] = uint8_t(o);
      if (o < k_) {
        rows.insert(rows.end(), &inverse[size_t(o) * k_], &inverse[size_t(o) * k_] + k_);
        continue;
      }
      for (int j = 0; j < k_; ++j) {
        unsigned char c = 0;
        for (int t = 0; t < k_; ++t)
          c ^= gf_mul(state_->matrix[size_t(o) * k_ + t], inverse[size_t(t) * k_ + j]);
        rows.push_back(c);
      }
    }
    p->tables.resize(size_t(32) * k_ * p->output_count);
    ec_init_tables(k_, p->output_count, rows.data(), p->tables.data());
    plan = std::move(p);
    std::lock_guard lock(state_->mu);
    if (!state_->plans.contains(key)) {
      if (state_->plans.size() >= kMaxCachedPlans) state_->plans.erase(state_->plans.begin());
      state_->plans.emplace(key, plan);
    }
  }
  if (len == 0) return ok();
  ptr_array src{}, dst{};
  for (int i = 0; i < k_; ++i) src[i] = bytes(shards[plan->sources[i]]);
  for (int i = 0; i < plan->output_count; ++i) dst[i] = bytes(shards[plan->outputs[i]]);
  ec_encode_data(int(len), k_, plan->output_count, const_cast<unsigned char*>(plan->tables.data()),
                 src.data(), dst.data());
  return ok();
}

result<void> codec::join(std::span<const std::span<std::byte>> shards, std::span<std::byte> block_out) const {
  if (shards.size() < size_t(k_)) return fail(errc::bad_argument, "join needs the data shards");
  const size_t len = shards[0].size();
  if (block_out.size() > len * k_) return fail(errc::bad_argument, "block larger than its shards");
  size_t off = 0;
  for (int i = 0; i < k_ && off < block_out.size(); ++i) {
    if (shards[i].size() != len) return fail(errc::bad_argument, "shard buffers differ in size");
    const size_t take = std::min(len, block_out.size() - off);
    std::memcpy(block_out.data() + off, shards[i].data(), take);
    off += take;
  }
  return ok();
}

}  // namespace sluice::objstore::erasure
