# The notifier (included by CMakeLists.txt): durable outbox, delivery workers,
# targets (built-in stream engine, Kafka via librdkafka, webhook), target
# configuration.
sluice_library(events
  SOURCES notifier.cc outbox.cc delivery.cc target_config.cc targets.cc kafka_target.cc
  DEPS sluice_events_core sluice_objstore sluice_http sluice_net SQLite::SQLite3 PkgConfig::RDKAFKA spdlog::spdlog)
sluice_test(events_test
  SOURCES tests/outbox_test.cc tests/delivery_test.cc tests/target_config_test.cc tests/webhook_test.cc
          tests/notifier_test.cc
  DEPS sluice_events)
