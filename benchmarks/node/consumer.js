// The Node.js client as a peer of the raw Python client in the benchmark: its defaults
// (5 StreamingPull streams, flow control of 1,000 messages), a handler that records the
// time and acks, nothing else. Run by benchmarks/peers.py:
//
//     node consumer.js SUBSCRIPTION_PATH OUT     # OUT: "sequence handled_time" lines
//
// PUBSUB_EMULATOR_HOST points the client at the emulator. Prints "listening" once
// subscribed, writes what it handled every 0.2 s, and stops on SIGTERM.
"use strict";

const fs = require("fs");
const { performance } = require("perf_hooks");
const { PubSub } = require("@google-cloud/pubsub");

const [subscriptionPath, out] = process.argv.slice(2);
const project = subscriptionPath.split("/")[1];
const pubsub = new PubSub({ projectId: project });
const subscription = pubsub.subscription(subscriptionPath);
const file = fs.openSync(out, "w");
let handled = [];

function write() {
  if (handled.length) {
    fs.writeSync(file, handled.join(""));
    handled = [];
  }
}

subscription.on("message", (message) => {
  // Seconds since the epoch with sub-millisecond resolution, like Python's time.time().
  const when = (performance.timeOrigin + performance.now()) / 1000;
  const sequence = JSON.parse(message.data.toString()).sequence;
  message.ack();
  handled.push(`${sequence} ${when.toFixed(6)}\n`);
});
subscription.on("error", (error) => {
  console.error(`subscription error: ${error}`);
  process.exit(1);
});
console.log("listening");
const timer = setInterval(write, 200);

process.on("SIGTERM", async () => {
  clearInterval(timer);
  write();
  fs.closeSync(file);
  await subscription.close();
  await pubsub.close();
  process.exit(0);
});
