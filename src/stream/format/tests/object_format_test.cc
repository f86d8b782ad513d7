#include "stream/format/object_format.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace sluice::stream::format {
namespace {

record make_record(uint64_t stream, offset base, uint32_t count, std::string payload, int64_t ts = -1,
                   uint64_t ep = 1) {
  record r;
  r.stream = stream_id(stream);
  r.epoch = epoch(ep);
  r.base = base;
  r.count = count;
  r.max_timestamp = ts;
  r.payload = shared_bytes(std::move(payload));
  return r;
}

bool same(const record& a, const record& b) {
  return a.stream == b.stream && a.epoch == b.epoch && a.base == b.base && a.count == b.count &&
         a.max_timestamp == b.max_timestamp && a.payload == b.payload;
}

// Random records of `streams` streams (ids spread out), sorted and contiguous per stream.
std::vector<record> random_records(std::mt19937_64& rng, int streams, int max_per_stream,
                                   size_t max_payload) {
  std::vector<record> out;
  uint64_t id = 0;
  for (int s = 0; s < streams; ++s) {
    id += 1 + rng() % 1000;
    offset next = static_cast<offset>(rng() % 100000);
    int n = 1 + static_cast<int>(rng() % max_per_stream);
    for (int i = 0; i < n; ++i) {
      auto count = static_cast<uint32_t>(1 + rng() % 50);
      std::string payload(rng() % (max_payload + 1), '\0');
      for (auto& c : payload) c = static_cast<char>(rng());
      int64_t ts = rng() % 5 == 0 ? -1 : static_cast<int64_t>(1700000000000 + rng() % 100000);
      out.push_back(make_record(id, next, count, std::move(payload), ts, 1 + rng() % 3));
      next += count;
    }
  }
  return out;
}

// Reads every record of a whole object through parse_index + decode_block.
result<std::vector<record>> read_all(std::string_view object) {
  SLUICE_TRY(auto idx, parse_index(object, object.size()));
  EXPECT_FALSE(idx.need_tail_bytes);
  std::vector<record> out;
  for (const auto& e : idx.blocks) {
    SLUICE_TRY(auto recs, decode_block(object.substr(e.position, e.size), e));
    for (auto& r : recs) out.push_back(std::move(r));
  }
  return out;
}

TEST(ObjectFormat, GoldenBytesOfVersion1) {
  // Pins the byte layout documented in docs/STREAM_FORMAT.md: a change here is a format change.
  auto obj = build_object({make_record(7, 10, 2, "ab", 1000, 3)});
  ASSERT_TRUE(obj);
  const std::string& b = obj.value();
  std::string hex;
  for (unsigned char c : b) {
    static const char* d = "0123456789abcdef";
    hex += d[c >> 4];
    hex += d[c & 15];
  }
  EXPECT_EQ(hex,
            // block: magic, stream 7, 1 record, payload length 34
            "534c424b"
            "0700000000000000"
            "01000000"
            "22000000"
            // record: base 10, count 2, max_timestamp 1000, epoch 3, length 2, "ab"
            "0a00000000000000"
            "02000000"
            "e803000000000000"
            "0300000000000000"
            "02000000"
            "6162"
            // block CRC32C
            "b8cfc63b"
            // index entry: stream 7, start 10, end 12, 1 record, position 0, size 58, max_timestamp 1000
            "0700000000000000"
            "0a00000000000000"
            "0c00000000000000"
            "01000000"
            "0000000000000000"
            "3a000000"
            "e803000000000000"
            // index CRC32C
            "1e859c8a"
            // footer: index position 58, index length 52, version 1, magic
            "3a00000000000000"
            "34000000"
            "01000000"
            "89534c535452"
            "0d0a");
}

TEST(ObjectFormat, EmptyObjectRoundTrips) {
  auto obj = build_object({});
  ASSERT_TRUE(obj);
  EXPECT_EQ(obj.value().size(), 28u);
  auto idx = parse_index(obj.value(), obj.value().size());
  ASSERT_TRUE(idx) << idx.error().message();
  EXPECT_TRUE(idx.value().blocks.empty());
  EXPECT_FALSE(idx.value().need_tail_bytes);
}

TEST(ObjectFormat, RoundTripManyStreamsRecordsAndBlockSizes) {
  std::mt19937_64 rng(42);
  for (size_t block_size :
       {size_t{1}, size_t{100}, size_t{1000}, size_t{4096}, size_t{64 << 10}, size_t{512 << 10}}) {
    for (int round = 0; round < 5; ++round) {
      auto recs = random_records(rng, 1 + static_cast<int>(rng() % 40), 30, rng() % 2 ? 300 : 3000);
      std::string obj;
      int sink_calls = 0;
      object_writer w(
          [&](std::string_view b) -> result<void> {
            obj.append(b);
            ++sink_calls;
            return ok();
          },
          block_size);
      for (const auto& r : recs) ASSERT_TRUE(w.add(r));
      ASSERT_TRUE(w.finish());
      EXPECT_EQ(w.bytes_written(), obj.size());
      // One sink call per block, then one for index + footer.
      EXPECT_EQ(static_cast<size_t>(sink_calls), w.index().size() + 1);

      auto idx = parse_index(obj, obj.size());
      ASSERT_TRUE(idx) << idx.error().message();
      EXPECT_EQ(idx.value().blocks, w.index());
      const auto& blocks = idx.value().blocks;
      for (size_t i = 0; i + 1 < blocks.size(); ++i) {
        // A block closes when it reaches block_size, or early when its stream ends.
        if (blocks[i].stream == blocks[i + 1].stream) {
          EXPECT_GE(blocks[i].size, block_size);
        }
        if (block_size == 1) {
          EXPECT_EQ(blocks[i].record_count, 1u);
        }
      }

      auto back = read_all(obj);
      ASSERT_TRUE(back) << back.error().message();
      ASSERT_EQ(back.value().size(), recs.size());
      for (size_t i = 0; i < recs.size(); ++i) ASSERT_TRUE(same(back.value()[i], recs[i])) << i;

      // Ranges: one per stream, bytes add up to the data blocks.
      std::map<uint64_t, std::pair<offset, offset>> expect;
      for (const auto& r : recs) {
        auto [it, fresh] = expect.try_emplace(r.stream.value(), r.base, r.end());
        if (!fresh) it->second.second = r.end();
      }
      auto ranges = w.ranges();
      ASSERT_EQ(ranges.size(), expect.size());
      uint64_t bytes = 0;
      for (const auto& sr : ranges) {
        EXPECT_EQ(expect[sr.stream.value()], std::make_pair(sr.start, sr.end));
        bytes += sr.bytes;
      }
      EXPECT_EQ(bytes, idx.value().blocks.empty() ? 0 : obj.size() - (28 + 48 * idx.value().blocks.size()));
    }
  }
}

TEST(ObjectFormat, InPlaceWriterBuildsTheSameBytesAsTheSink) {
  std::mt19937_64 rng(7);
  for (size_t block_size : {size_t{1}, size_t{1000}, size_t{64 << 10}}) {
    auto recs = random_records(rng, 1 + static_cast<int>(rng() % 20), 30, 3000);
    std::string via_sink;
    object_writer a(
        [&](std::string_view b) -> result<void> {
          via_sink.append(b);
          return ok();
        },
        block_size);
    // In place after bytes already in the buffer: positions stay relative to the object.
    std::string in_place = "prefix";
    object_writer b(in_place, block_size);
    for (const auto& r : recs) {
      ASSERT_TRUE(a.add(r));
      ASSERT_TRUE(b.add(r));
      EXPECT_EQ(a.bytes_written(), b.bytes_written());
    }
    ASSERT_TRUE(a.finish());
    ASSERT_TRUE(b.finish());
    EXPECT_EQ(in_place.substr(0, 6), "prefix");
    EXPECT_EQ(in_place.substr(6), via_sink);
    EXPECT_EQ(a.index(), b.index());
    EXPECT_EQ(a.ranges(), b.ranges());
    auto back = read_all(std::string_view(in_place).substr(6));
    ASSERT_TRUE(back) << back.error().message();
    ASSERT_EQ(back.value().size(), recs.size());
  }
}

TEST(ObjectFormat, InPlaceWriterStreamsThroughARollingBuffer) {
  std::mt19937_64 rng(11);
  for (size_t block_size : {size_t{1}, size_t{1000}, size_t{64 << 10}}) {
    auto recs = random_records(rng, 1 + static_cast<int>(rng() % 40), 30, 3000);
    std::string whole;
    object_writer a(whole, block_size);
    std::string rolling, streamed;
    size_t largest = 0;
    object_writer b(rolling, block_size);
    auto take = [&] {
      streamed.append(rolling, 0, b.final_bytes());
      ASSERT_TRUE(b.drop_final());
      EXPECT_LE(b.final_bytes(), rolling.size());
    };
    for (const auto& r : recs) {
      ASSERT_TRUE(a.add(r));
      ASSERT_TRUE(b.add(r));
      largest = std::max(largest, rolling.size());
      take();
    }
    ASSERT_TRUE(a.finish());
    ASSERT_TRUE(b.finish());
    EXPECT_EQ(b.final_bytes(), rolling.size());
    take();
    EXPECT_TRUE(rolling.empty());
    EXPECT_EQ(streamed, whole);
    EXPECT_EQ(a.index(), b.index());
    EXPECT_EQ(a.ranges(), b.ranges());
    EXPECT_LE(largest, block_size + 2 * (3000 + 256)) << "the buffer held more than about a block";
  }
  // Sink mode has no buffer of its own to drop from.
  object_writer sink([](std::string_view) -> result<void> { return ok(); });
  EXPECT_FALSE(sink.drop_final());
}

TEST(ObjectFormat, WriterStreamsBlocksAsTheyClose) {
  std::vector<size_t> pieces;
  object_writer w(
      [&](std::string_view b) -> result<void> {
        pieces.push_back(b.size());
        return ok();
      },
      1000);
  offset next = 0;
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(w.add(make_record(1, next, 1, std::string(300, 'x'))));
    next += 1;
  }
  // Blocks of 20 + 4 + k * 332 bytes close at >= 1000 bytes: three records each.
  EXPECT_EQ(pieces, (std::vector<size_t>{1020, 1020, 1020}));
  EXPECT_EQ(w.bytes_written(), 3060u);
  ASSERT_TRUE(w.add(make_record(2, 0, 1, "y")));  // closes the open block of stream 1
  EXPECT_EQ(pieces.size(), 4u);
  EXPECT_EQ(pieces.back(), 24u + 332u);
  ASSERT_TRUE(w.finish());
  EXPECT_EQ(pieces.size(), 6u);  // last block, then index + footer
  EXPECT_EQ(pieces.back(), 5u * 48 + 4 + 24);
}

TEST(ObjectFormat, RecordLargerThanABlockGetsItsOwnBlock) {
  std::vector<record> recs = {make_record(1, 0, 1, "a"), make_record(1, 1, 1, std::string(5000, 'b')),
                              make_record(1, 2, 1, "c")};
  auto obj = build_object(recs, 100);
  ASSERT_TRUE(obj);
  auto idx = parse_index(obj.value(), obj.value().size());
  ASSERT_TRUE(idx);
  ASSERT_EQ(idx.value().blocks.size(), 2u);  // {a, big} closes past 100 bytes; {c}
  EXPECT_EQ(idx.value().blocks[0].record_count, 2u);
  auto back = read_all(obj.value());
  ASSERT_TRUE(back);
  ASSERT_EQ(back.value().size(), 3u);
  EXPECT_EQ(back.value()[1].payload.size(), 5000u);
}

TEST(ObjectFormat, MaxTimestampIsTheLargestOfTheBlock) {
  auto obj = build_object({make_record(1, 0, 1, "a", 5), make_record(1, 1, 1, "b", -1),
                           make_record(1, 2, 1, "c", 9), make_record(2, 0, 1, "d", -1)});
  ASSERT_TRUE(obj);
  auto idx = parse_index(obj.value(), obj.value().size());
  ASSERT_TRUE(idx);
  ASSERT_EQ(idx.value().blocks.size(), 2u);
  EXPECT_EQ(idx.value().blocks[0].max_timestamp, 9);
  EXPECT_EQ(idx.value().blocks[1].max_timestamp, -1);
}

TEST(ObjectFormat, OrderViolationsAreRejectedAndTheWriterStaysUsable) {
  std::string out;
  object_writer w([&](std::string_view b) -> result<void> {
    out.append(b);
    return ok();
  });
  ASSERT_TRUE(w.add(make_record(5, 100, 10, "a")));
  auto expect_bad = [&](const record& r) {
    auto res = w.add(r);
    ASSERT_FALSE(res);
    EXPECT_TRUE(res.error().is(errc::bad_argument)) << res.error().message();
  };
  expect_bad(make_record(4, 0, 1, "older stream"));
  expect_bad(make_record(5, 109, 1, "overlap"));
  expect_bad(make_record(5, 100, 10, "repeat"));
  expect_bad(make_record(5, 110, 0, "empty"));
  expect_bad(make_record(6, -1, 1, "negative"));
  expect_bad(make_record(6, std::numeric_limits<offset>::max(), 1, "overflow"));
  ASSERT_TRUE(w.add(make_record(5, 110, 1, "b")));
  ASSERT_TRUE(w.add(make_record(6, 0, 1, "c")));
  ASSERT_TRUE(w.finish());
  expect_bad(make_record(7, 0, 1, "after finish"));
  EXPECT_FALSE(w.finish());
  auto back = read_all(out);
  ASSERT_TRUE(back);
  EXPECT_EQ(back.value().size(), 3u);
}

TEST(ObjectFormat, GapsWithinAStreamStartANewBlock) {
  // Compaction can merge ranges of a stream that are not adjacent.
  auto obj = build_object({make_record(5, 100, 10, "a"), make_record(5, 120, 5, "b"), make_record(5, 125, 1, "c")});
  ASSERT_TRUE(obj) << obj.error().message();
  auto idx = parse_index(obj.value(), obj.value().size());
  ASSERT_TRUE(idx) << idx.error().message();
  ASSERT_EQ(idx.value().blocks.size(), 2u);
  EXPECT_EQ(idx.value().blocks[0].end, 110);
  EXPECT_EQ(idx.value().blocks[1].start, 120);
  EXPECT_TRUE(find_blocks(idx.value().blocks, stream_id(5), 110, 120).empty());
  EXPECT_EQ(find_blocks(idx.value().blocks, stream_id(5), 105, 121).size(), 2u);
  auto back = read_all(obj.value());
  ASSERT_TRUE(back);
  EXPECT_EQ(back.value().size(), 3u);
}

TEST(ObjectFormat, SinkFailureSticks) {
  int calls = 0;
  object_writer w(
      [&](std::string_view) -> result<void> {
        ++calls;
        return fail(errc::storage_error, "disk on fire");
      },
      10);
  auto r = w.add(make_record(1, 0, 1, "0123456789"));
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(errc::storage_error));
  EXPECT_EQ(w.bytes_written(), 0u);
  EXPECT_TRUE(w.index().empty());
  auto again = w.add(make_record(1, 1, 1, "x"));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().message(), "disk on fire");
  EXPECT_FALSE(w.finish());
  EXPECT_EQ(calls, 1);
}

class FindBlocks : public ::testing::Test {
 protected:
  void SetUp() override {
    // Stream 2: blocks [0,10) [10,20) [20,30); stream 5: [100,101); stream 9: [7,9) [9,50).
    std::vector<record> recs;
    for (offset o = 0; o < 30; o += 10) recs.push_back(make_record(2, o, 10, std::string(200, 'x')));
    recs.push_back(make_record(5, 100, 1, "y"));
    recs.push_back(make_record(9, 7, 2, std::string(200, 'z')));
    recs.push_back(make_record(9, 9, 41, "w"));
    auto obj = build_object(recs, 100);
    ASSERT_TRUE(obj);
    auto idx = parse_index(obj.value(), obj.value().size());
    ASSERT_TRUE(idx);
    blocks_ = idx.value().blocks;
    ASSERT_EQ(blocks_.size(), 6u);
  }
  std::vector<std::pair<offset, offset>> find(uint64_t s, offset from, offset to) {
    std::vector<std::pair<offset, offset>> out;
    for (const auto& e : find_blocks(blocks_, stream_id(s), from, to)) {
      EXPECT_EQ(e.stream, stream_id(s));
      out.emplace_back(e.start, e.end);
    }
    return out;
  }
  using ranges = std::vector<std::pair<offset, offset>>;
  std::vector<block_entry> blocks_;
};

TEST_F(FindBlocks, EdgeCases) {
  EXPECT_EQ(find(2, 0, 30), (ranges{{0, 10}, {10, 20}, {20, 30}}));
  EXPECT_EQ(find(2, -100, 1000), (ranges{{0, 10}, {10, 20}, {20, 30}}));
  EXPECT_EQ(find(2, 5, 6), (ranges{{0, 10}}));
  EXPECT_EQ(find(2, 9, 11), (ranges{{0, 10}, {10, 20}}));
  EXPECT_EQ(find(2, 10, 20), (ranges{{10, 20}}));  // a block's end is exclusive
  EXPECT_EQ(find(2, 19, 21), (ranges{{10, 20}, {20, 30}}));
  EXPECT_EQ(find(2, 29, 30), (ranges{{20, 30}}));
  EXPECT_EQ(find(2, 30, 40), ranges{});  // past the end
  EXPECT_EQ(find(2, 10, 10), ranges{});  // empty range
  EXPECT_EQ(find(2, 20, 10), ranges{});  // reversed range
  EXPECT_EQ(find(5, 0, 100), ranges{});  // before the start
  EXPECT_EQ(find(5, 0, 101), (ranges{{100, 101}}));
  EXPECT_EQ(find(9, 8, 9), (ranges{{7, 9}}));
  EXPECT_EQ(find(9, 49, std::numeric_limits<offset>::max()), (ranges{{9, 50}}));
  EXPECT_EQ(find(1, 0, 1000), ranges{});   // before the first stream
  EXPECT_EQ(find(3, 0, 1000), ranges{});   // between streams
  EXPECT_EQ(find(10, 0, 1000), ranges{});  // after the last stream
  EXPECT_TRUE(find_blocks({}, stream_id(1), 0, 10).empty());
}

TEST(ObjectFormat, ShortTailsAskForWhatTheyNeed) {
  std::mt19937_64 rng(7);
  auto recs = random_records(rng, 30, 5, 100);
  auto obj = build_object(recs, 200);
  ASSERT_TRUE(obj);
  const std::string& o = obj.value();
  auto full = parse_index(o, o.size());
  ASSERT_TRUE(full);
  ASSERT_GT(full.value().blocks.size(), 30u);
  uint64_t index_bytes = full.value().blocks.size() * 48 + 4 + 24;
  for (size_t n = 0; n <= o.size(); ++n) {
    std::string_view tail = std::string_view(o).substr(o.size() - n);
    auto r = parse_index(tail, o.size());
    ASSERT_TRUE(r) << n << ": " << r.error().message();
    if (n >= index_bytes) {
      ASSERT_FALSE(r.value().need_tail_bytes) << n;
      EXPECT_EQ(r.value().blocks, full.value().blocks);
      continue;
    }
    ASSERT_TRUE(r.value().need_tail_bytes) << n;
    EXPECT_TRUE(r.value().blocks.empty());
    uint64_t need = *r.value().need_tail_bytes;
    EXPECT_GT(need, n);
    EXPECT_LE(need, o.size());
    if (n >= 24) {
      EXPECT_EQ(need, index_bytes);
    }
    // At most one more round trip after the one that reads the footer.
    auto again = parse_index(std::string_view(o).substr(o.size() - need), o.size());
    ASSERT_TRUE(again);
    if (again.value().need_tail_bytes) {
      EXPECT_LT(n, 24u);
      auto third =
          parse_index(std::string_view(o).substr(o.size() - *again.value().need_tail_bytes), o.size());
      ASSERT_TRUE(third);
      EXPECT_FALSE(third.value().need_tail_bytes);
    }
  }
}

TEST(ObjectFormat, TailGuessCoversTypicalObjects) {
  EXPECT_EQ(tail_guess(0), 0u);
  EXPECT_EQ(tail_guess(100), 100u);
  // 64 MiB of 512 KiB blocks: 128 entries.
  EXPECT_GE(tail_guess(64 << 20), 128u * 48 + 4 + 24);
  EXPECT_LE(tail_guess(64 << 20), 64u << 10);
}

TEST(ObjectFormat, BadArgumentsAndTinyObjects) {
  auto obj = build_object({make_record(1, 0, 1, "a")});
  ASSERT_TRUE(obj);
  const std::string& o = obj.value();
  auto longer = parse_index(o, o.size() - 1);
  ASSERT_FALSE(longer);
  EXPECT_TRUE(longer.error().is(errc::bad_argument));
  for (size_t n = 0; n < 28; ++n) {
    auto r = parse_index(std::string(n, '\0'), n);
    ASSERT_FALSE(r) << n;
    EXPECT_TRUE(r.error().is(errc::corrupt));
  }
  EXPECT_FALSE(parse_index(std::string(1000, '\0'), 1000));
  // Right footer, wrong object size (the index would not end at the footer).
  auto bigger = parse_index(o, o.size() + 1);
  ASSERT_FALSE(bigger);
  EXPECT_TRUE(bigger.error().is(errc::corrupt));
}

TEST(ObjectFormat, UnknownVersionIsRejected) {
  auto obj = build_object({make_record(1, 0, 1, "a")});
  ASSERT_TRUE(obj);
  std::string o = obj.value();
  o[o.size() - 12] = 2;  // version field
  auto r = parse_index(o, o.size());
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(errc::corrupt));
  EXPECT_NE(r.error().message().find("version"), std::string::npos);
}

TEST(ObjectFormat, DecodeBlockChecksTheEntry) {
  auto obj =
      build_object({make_record(1, 0, 3, "abc"), make_record(1, 3, 1, "d"), make_record(2, 0, 1, "e")}, 1);
  ASSERT_TRUE(obj);
  const std::string& o = obj.value();
  auto idx = parse_index(o, o.size());
  ASSERT_TRUE(idx);
  const auto& b = idx.value().blocks;
  ASSERT_EQ(b.size(), 3u);
  auto block0 = std::string_view(o).substr(b[0].position, b[0].size);
  ASSERT_TRUE(decode_block(block0, b[0]));
  auto expect_corrupt = [&](std::string_view bytes, const block_entry& e) {
    auto r = decode_block(bytes, e);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::corrupt)) << r.error().message();
  };
  expect_corrupt(block0, b[1]);  // another block's entry
  expect_corrupt(block0.substr(0, block0.size() - 1), b[0]);
  expect_corrupt({}, b[0]);
  for (auto mutate : std::vector<std::function<void(block_entry&)>>{
           [](block_entry& e) { e.stream = stream_id(9); }, [](block_entry& e) { e.start = 1; },
           [](block_entry& e) { e.end = 4; }, [](block_entry& e) { e.record_count = 2; },
           [](block_entry& e) { e.max_timestamp = 5; }, [](block_entry& e) { e.size += 1; }}) {
    block_entry e = b[0];
    mutate(e);
    expect_corrupt(block0, e);
  }
}

// Every single-byte change of a small object is caught by parse_index or by
// decode_block of the block it lands in; no read ever returns other records.
TEST(ObjectFormat, EverySingleByteCorruptionIsDetected) {
  std::vector<record> recs = {make_record(1, 0, 2, "hello", 10), make_record(1, 2, 1, "world", 20),
                              make_record(1, 3, 5, "!", -1),     make_record(4, 7, 1, "x", 5),
                              make_record(9, 100, 3, "yz", 30),  make_record(9, 103, 1, "", 31)};
  auto obj = build_object(recs, 50);
  ASSERT_TRUE(obj);
  const std::string& good = obj.value();
  auto good_idx = parse_index(good, good.size());
  ASSERT_TRUE(good_idx);
  ASSERT_GE(good_idx.value().blocks.size(), 4u);
  for (size_t pos = 0; pos < good.size(); ++pos) {
    for (unsigned char mask : {0x01, 0x10, 0x80, 0xff}) {
      std::string bad = good;
      bad[pos] = static_cast<char>(bad[pos] ^ mask);
      auto idx = parse_index(bad, bad.size());
      if (!idx) {
        EXPECT_TRUE(idx.error().is(errc::corrupt)) << pos << ": " << idx.error().message();
        continue;
      }
      ASSERT_FALSE(idx.value().need_tail_bytes);
      EXPECT_EQ(idx.value().blocks, good_idx.value().blocks) << "index changed undetected at byte " << pos;
      bool detected = false;
      for (const auto& e : idx.value().blocks) {
        auto recs_or = decode_block(std::string_view(bad).substr(e.position, e.size), e);
        if (!recs_or) {
          EXPECT_TRUE(recs_or.error().is(errc::corrupt));
          detected = true;
          continue;
        }
        auto want = decode_block(std::string_view(good).substr(e.position, e.size), e);
        ASSERT_TRUE(want);
        ASSERT_EQ(recs_or.value().size(), want.value().size()) << pos;
        for (size_t i = 0; i < want.value().size(); ++i) {
          ASSERT_TRUE(same(recs_or.value()[i], want.value()[i])) << "wrong record served, byte " << pos;
        }
      }
      EXPECT_TRUE(detected) << "corruption of byte " << pos << " (mask " << int(mask) << ") not detected";
    }
  }
}

TEST(ObjectFormat, RandomGarbageNeverParsesIntoBadBlocks) {
  std::mt19937_64 rng(3);
  for (int i = 0; i < 2000; ++i) {
    std::string junk(rng() % 300, '\0');
    for (auto& c : junk) c = static_cast<char>(rng());
    auto idx = parse_index(junk, junk.size());
    if (idx) {
      EXPECT_TRUE(idx.value().need_tail_bytes || idx.value().blocks.empty());
    }
    block_entry e{.stream = stream_id(1),
                  .start = 0,
                  .end = 1,
                  .record_count = 1,
                  .position = 0,
                  .size = static_cast<uint32_t>(junk.size())};
    EXPECT_FALSE(decode_block(junk, e));
  }
}

}  // namespace
}  // namespace sluice::stream::format
