#pragma once
// Kafka's default partitioner for keyed records (the Java client's
// BuiltInPartitioner / Utils.murmur2): partition = (murmur2(key) & 0x7fffffff)
// % partitions. Sluice's own producers (the built-in notification target) use
// it so that a key lands where a Java producer would put it.
#include <cstdint>
#include <string_view>

namespace sluice::kafka::protocol {

// Kafka's murmur2 (seed 0x9747b28c), as a signed 32-bit value like Java's.
int32_t murmur2(std::string_view data);
// partitions must be positive.
int32_t partition_for_key(std::string_view key, int32_t partitions);

}  // namespace sluice::kafka::protocol
