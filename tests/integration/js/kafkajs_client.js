// kafkajs against Sluice's Kafka API, driven by test_kafka.py::test_kafkajs.
// usage: node kafkajs_client.js BOOTSTRAP TOPIC GROUP COUNT
// Creates TOPIC (3 partitions) with the admin client, produces COUNT keyed
// messages with headers (idempotent producer, acks=-1), consumes them with a
// group of two consumers, then produces 5 more and checks that a consumer
// restarted in the same group gets exactly those (committed offsets). Prints
// one JSON summary line; exits non-zero on a failure or timeout.
const { Kafka, logLevel } = require('kafkajs');

const [bootstrap, topic, group, countArg] = process.argv.slice(2);
const count = parseInt(countArg, 10);
const kafka = new Kafka({ clientId: 'sluice-kafkajs-test', brokers: [bootstrap], logLevel: logLevel.ERROR });

function waitFor(pred, ms, what) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = () => {
      if (pred()) return resolve();
      if (Date.now() - t0 > ms) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 50);
    };
    tick();
  });
}

async function consume(members, expected, label) {
  const seen = [];
  const byMember = {};
  const consumers = [];
  for (let i = 0; i < members; i++) {
    const c = kafka.consumer({ groupId: group, sessionTimeout: 10000, heartbeatInterval: 500 });
    await c.connect();
    await c.subscribe({ topic, fromBeginning: true });
    byMember[i] = new Set();
    await c.run({
      eachMessage: async ({ partition, message }) => {
        byMember[i].add(partition);
        seen.push({
          key: message.key.toString(),
          value: message.value.toString(),
          header: message.headers['x-test'] ? message.headers['x-test'].toString() : null,
          partition,
          offset: message.offset,
        });
      },
    });
    consumers.push(c);
  }
  await waitFor(() => seen.length >= expected, 60000, `${label}: ${expected} messages (have ${seen.length})`);
  // Give a late duplicate a moment to show up, then leave (commits offsets).
  await new Promise((r) => setTimeout(r, 500));
  for (const c of consumers) await c.disconnect();
  return { seen, members: Object.values(byMember).map((s) => [...s].sort()) };
}

async function main() {
  const admin = kafka.admin();
  await admin.connect();
  const created = await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
  const meta = await admin.fetchTopicMetadata({ topics: [topic] });
  await admin.disconnect();

  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const messages = [];
  for (let i = 0; i < count; i++) {
    messages.push({ key: `key-${i % 7}`, value: `value-${i}`, headers: { 'x-test': `h${i}` } });
  }
  const acks = await producer.send({ topic, acks: -1, messages });
  const first = await consume(2, count, 'first round');

  await producer.send({ topic, acks: -1, messages: [0, 1, 2, 3, 4].map((i) => ({ key: 'late', value: `late-${i}` })) });
  await producer.disconnect();
  const second = await consume(1, 5, 'after restart');

  console.log(JSON.stringify({
    created,
    partitions: meta.topics[0].partitions.length,
    acks: acks.map((a) => ({ partition: a.partition, errorCode: a.errorCode })),
    first: first.seen,
    firstMembers: first.members,
    second: second.seen.map((m) => m.value),
  }));
}

main().then(() => process.exit(0), (err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
