# The engine itself (included by src/stream/CMakeLists.txt once its parts exist).
sluice_library(stream SOURCES record_codec.cc block_cache.cc engine.cc compaction.cc
  DEPS sluice_wal sluice_stream_format sluice_stream_storage sluice_stream_meta spdlog::spdlog)
sluice_test(stream_test SOURCES tests/engine_test.cc tests/block_cache_test.cc DEPS sluice_stream)
