// Erasure code and bitrot throughput per core, beside memcpy of the same
// buffer. Bytes counted are object (block) bytes, as MinIO and
// klauspost/reedsolomon report them: encode of a 1 MiB block counts 1 MiB
// although k+m shards are written. Run single-threaded:
//   sluice-erasure-bench --benchmark_min_time=1
#include <benchmark/benchmark.h>
#include <xxhash.h>

#include <cstring>
#include <random>
#include <vector>

#include "objstore/erasure/bitrot.h"
#include "objstore/erasure/codec.h"

namespace {

using namespace sluice::objstore::erasure;

constexpr size_t kBlock = size_t(1) << 20;

std::vector<std::byte> random_block(size_t n) {
  std::mt19937_64 rng(42);
  std::vector<std::byte> out(n);
  for (auto& b : out) b = std::byte(rng());
  return out;
}

struct shards {
  std::vector<std::vector<std::byte>> bufs;
  std::vector<std::span<std::byte>> views;
  shards(int n, size_t len) : bufs(n, std::vector<std::byte>(len)) {
    for (auto& b : bufs) views.emplace_back(b);
  }
};

void BM_memcpy(benchmark::State& state) {
  const auto src = random_block(kBlock);
  std::vector<std::byte> dst(kBlock);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), kBlock);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(kBlock));
}
BENCHMARK(BM_memcpy);

// Split + pad + parity: what a PUT does per block.
void BM_encode(benchmark::State& state) {
  const int k = int(state.range(0)), m = int(state.range(1));
  const auto c = codec::make(k, m).value();
  const auto block = random_block(kBlock);
  shards s(k + m, c.shard_size(kBlock));
  for (auto _ : state) {
    if (!c.encode(block, s.views)) state.SkipWithError("encode failed");
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(kBlock));
}
BENCHMARK(BM_encode)->Args({4, 2})->Args({8, 4})->Args({12, 4})->ArgNames({"k", "m"});

// Parity only, data shards already in place (no split copy).
void BM_encode_parity(benchmark::State& state) {
  const int k = int(state.range(0)), m = int(state.range(1));
  const auto c = codec::make(k, m).value();
  const auto block = random_block(kBlock);
  shards s(k + m, c.shard_size(kBlock));
  if (!c.encode(block, s.views)) state.SkipWithError("encode failed");
  for (auto _ : state) {
    if (!c.encode_parity(s.views)) state.SkipWithError("encode failed");
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(kBlock));
}
BENCHMARK(BM_encode_parity)->Args({4, 2})->Args({8, 4})->Args({12, 4})->ArgNames({"k", "m"});

// Degraded read, worst case: the first m data shards lost, rebuilt from the
// remaining data and all parity (decode plan cached after the first block).
void BM_decode(benchmark::State& state) {
  const int k = int(state.range(0)), m = int(state.range(1));
  const auto c = codec::make(k, m).value();
  const auto block = random_block(kBlock);
  shards s(k + m, c.shard_size(kBlock));
  if (!c.encode(block, s.views)) state.SkipWithError("encode failed");
  std::vector<bool> present(k + m, true);
  for (int i = 0; i < m; ++i) present[i] = false;
  for (auto _ : state) {
    if (!c.reconstruct(s.views, present, true)) state.SkipWithError("reconstruct failed");
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(kBlock));
}
BENCHMARK(BM_decode)->Args({4, 2})->Args({8, 4})->Args({12, 4})->ArgNames({"k", "m"});

// Bitrot checksum of one shard block (runtime-dispatched XXH3-128).
void BM_bitrot_checksum(benchmark::State& state) {
  const auto buf = random_block(size_t(state.range(0)));
  uint64_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(block_checksum(buf, i++));
  state.SetBytesProcessed(int64_t(state.iterations()) * state.range(0));
}
BENCHMARK(BM_bitrot_checksum)->Arg(87382)->Arg(262144)->Arg(kBlock);

// The same hash through libxxhash's baseline (SSE2) entry point, to show what
// runtime dispatch buys.
void BM_xxh3_128_baseline(benchmark::State& state) {
  const auto buf = random_block(size_t(state.range(0)));
  uint64_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(XXH3_128bits_withSeed(buf.data(), buf.size(), i++));
  state.SetBytesProcessed(int64_t(state.iterations()) * state.range(0));
}
BENCHMARK(BM_xxh3_128_baseline)->Arg(262144);

}  // namespace

BENCHMARK_MAIN();
