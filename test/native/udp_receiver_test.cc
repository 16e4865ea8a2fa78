// cpp/net/udp_receiver under sanitizers: datagrams over loopback land in the SPSC queue
// with their record header, in order; drop-newest when the queue is full; truncation;
// the wake callback; bad options and states; stop while asleep and while datagrams flow
// (TSan: the receiver thread against a consumer thread and a sender thread).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "check.hpp"
#include "net/udp_receiver.hpp"
#include "queue/layout.hpp"
#include "queue/spsc_queue.hpp"
#include "system/affinity.hpp"

using namespace up::net;
using up::queue::SpscQueue;

namespace {

struct Buffer {
  Buffer(uint32_t capacity, uint32_t slot_bytes)
      : size(up::queue::total_bytes_for(capacity, slot_bytes)),
        bytes(new (std::align_val_t{up::queue::kLineBytes}) uint8_t[size]()) {
    CHECK_EQ(up::queue::init_queue(bytes.get(), size, up::queue::kKindSpsc, capacity, slot_bytes), 0);
  }
  struct Free {
    void operator()(uint8_t* p) const { ::operator delete[](p, std::align_val_t{up::queue::kLineBytes}); }
  };
  std::size_t size;
  std::unique_ptr<uint8_t[], Free> bytes;
};

// A plain UDP socket sending to 127.0.0.1:port.
struct Sender {
  explicit Sender(uint16_t port) : fd(socket(AF_INET, SOCK_DGRAM, 0)) {
    CHECK(fd >= 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK_EQ(connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
    sockaddr_in me{};
    socklen_t len = sizeof me;
    CHECK_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&me), &len), 0);
    local_port = ntohs(me.sin_port);
  }
  ~Sender() { close(fd); }
  void send_seq(uint32_t seq, uint32_t size) const {
    uint8_t b[2048];
    std::memcpy(b, &seq, 4);
    for (uint32_t i = 4; i < size; ++i) b[i] = static_cast<uint8_t>(seq + i);
    CHECK_EQ(send(fd, b, size, 0), static_cast<ssize_t>(size));
  }
  int fd;
  uint16_t local_port = 0;
};

template <class F>
void wait_for(F cond, int ms = 5000) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (!cond()) {
    CHECK(std::chrono::steady_clock::now() < end);
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

uint32_t size_for(uint32_t seq) { return 4 + seq % 61; }

// Checks one popped record: header fields and payload of datagram `seq` from `port`.
void check_record(const uint8_t* rec, int32_t len, uint32_t seq, uint16_t port, bool stamped) {
  const uint32_t size = size_for(seq);
  CHECK_EQ(static_cast<uint32_t>(len), kRecordHeaderBytes + size);
  double kernel_ns, thread_ns;
  uint32_t wire;
  uint16_t from_port;
  std::memcpy(&kernel_ns, rec + kRecordKernelNsOffset, 8);
  std::memcpy(&thread_ns, rec + kRecordThreadNsOffset, 8);
  std::memcpy(&wire, rec + kRecordWireBytesOffset, 4);
  std::memcpy(&from_port, rec + kRecordPortOffset, 2);
  CHECK_EQ(wire, size);
  CHECK_EQ(from_port, port);
  CHECK_EQ(rec[kRecordFamilyOffset], 4);
  const uint8_t loopback[4] = {127, 0, 0, 1};
  CHECK(std::memcmp(rec + kRecordAddressOffset, loopback, 4) == 0);
  CHECK(thread_ns > 0);
  if (stamped) {
    CHECK(std::isfinite(kernel_ns));
    CHECK(kernel_ns <= thread_ns + 1e6);
  } else {
    CHECK(std::isnan(kernel_ns));
  }
  uint32_t got;
  std::memcpy(&got, rec + kRecordHeaderBytes, 4);
  CHECK_EQ(got, seq);
  for (uint32_t i = 4; i < size; ++i) CHECK_EQ(rec[kRecordHeaderBytes + i], static_cast<uint8_t>(seq + i));
}

void test_bad_options_and_states() {
  UdpReceiver r;
  UdpReceiverOptions o;
  o.host = "not an address";
  CHECK_EQ(r.open(o), -EINVAL);
  CHECK(std::strcmp(r.failed_call(), "inet_pton (host)") == 0);
  o.host = "127.0.0.1";
  o.batch = 0;
  CHECK_EQ(r.open(o), -EINVAL);
  o.batch = kMaxBatch + 1;
  CHECK_EQ(r.open(o), -EINVAL);
  o.batch = 8;
  o.host = "10.255.255.1";  // not this host's: bind refuses
  CHECK_EQ(r.open(o), -EADDRNOTAVAIL);
  Buffer q(8, 128);
  CHECK_EQ(r.start(q.bytes.get(), q.size, -1, nullptr, nullptr), kBadState);
  o.host = "127.0.0.1";
  CHECK_EQ(r.open(o), 0);
  CHECK_EQ(r.open(o), kBadState);
  Buffer tiny(8, kRecordHeaderBytes);
  CHECK_EQ(r.start(tiny.bytes.get(), tiny.size, -1, nullptr, nullptr), kBadQueue);
  alignas(128) uint8_t junk[1024] = {};
  CHECK_EQ(r.start(junk, sizeof junk, -1, nullptr, nullptr), kBadQueue);
  CHECK_EQ(r.start(q.bytes.get(), q.size, up::system::kMaxCores + 5, nullptr, nullptr), -EINVAL);
  CHECK(!r.running());
  CHECK_EQ(r.start(q.bytes.get(), q.size, -1, nullptr, nullptr), 0);
  CHECK_EQ(r.start(q.bytes.get(), q.size, -1, nullptr, nullptr), kBadState);
  // Asleep in poll(): stop returns through the eventfd.
  r.stop();
  r.stop();
  CHECK(!r.running());
  CHECK_EQ(r.start(q.bytes.get(), q.size, 0, nullptr, nullptr), 0);
  r.close();
  r.close();
  CHECK_EQ(r.start(q.bytes.get(), q.size, -1, nullptr, nullptr), kBadState);
}

void test_in_order_with_header(bool timestamps) {
  Buffer q(1024, 128);
  UdpReceiver r;
  UdpReceiverOptions o;
  o.batch = 16;
  o.timestamps = timestamps;
  o.receive_buffer_bytes = 1 << 21;
  CHECK_EQ(r.open(o), 0);
  CHECK(r.settings().port != 0);
  CHECK_EQ(r.settings().family, 4);
  CHECK(r.settings().receive_buffer_bytes > 0);
  const bool stamped = timestamps && r.settings().timestamps == 0;
  CHECK_EQ(r.start(q.bytes.get(), q.size, -1, nullptr, nullptr), 0);
  Sender s(r.settings().port);
  constexpr uint32_t kCount = 500;
  for (uint32_t i = 0; i < kCount; ++i) s.send_seq(i, size_for(i));
  SpscQueue consumer;
  CHECK_EQ(consumer.attach(q.bytes.get(), q.size), 0);
  uint8_t rec[128];
  for (uint32_t i = 0; i < kCount; ++i) {
    int32_t n;
    wait_for([&] { return (n = consumer.try_pop(rec, sizeof rec)) >= 0; });
    check_record(rec, n & ~up::queue::kWakeBit, i, s.local_port, stamped);
  }
  const auto& c = r.counters();
  CHECK_EQ(c.received.load(), kCount);
  CHECK_EQ(c.queued.load(), kCount);
  CHECK_EQ(c.queue_full.load(), 0u);
  CHECK(c.batches.load() >= 1 && c.batches.load() <= kCount);
  r.close();
}

void test_drop_newest_and_truncation() {
  Buffer q(4, kRecordHeaderBytes + 32);
  UdpReceiver r;
  UdpReceiverOptions o;
  o.receive_buffer_bytes = 1 << 21;
  CHECK_EQ(r.open(o), 0);
  CHECK_EQ(r.start(q.bytes.get(), q.size, -1, nullptr, nullptr), 0);
  Sender s(r.settings().port);
  for (uint32_t i = 0; i < 20; ++i) s.send_seq(i, 8);
  s.send_seq(20, 33);  // one byte more than a slot holds
  const auto& c = r.counters();
  wait_for([&] { return c.received.load() == 21; });
  CHECK_EQ(c.queued.load(), 4u);
  CHECK_EQ(c.queue_full.load(), 16u);
  CHECK_EQ(c.truncated.load(), 1u);
  SpscQueue consumer;
  CHECK_EQ(consumer.attach(q.bytes.get(), q.size), 0);
  uint8_t rec[128];
  for (uint32_t i = 0; i < 4; ++i) {
    const int32_t n = consumer.try_pop(rec, sizeof rec);
    CHECK(n >= 0);
    uint32_t seq;
    std::memcpy(&seq, rec + kRecordHeaderBytes, 4);
    CHECK_EQ(seq, i);
  }
  CHECK_EQ(consumer.try_pop(rec, sizeof rec), up::queue::kEmpty);
  r.close();
}

std::atomic<int> g_wakes{0};
void count_wake(void* context) { static_cast<std::atomic<int>*>(context)->fetch_add(1); }

void test_wake_when_consumer_sleeps() {
  Buffer q(64, 128);
  UdpReceiver r;
  CHECK_EQ(r.open(UdpReceiverOptions{}), 0);
  CHECK_EQ(r.start(q.bytes.get(), q.size, -1, count_wake, &g_wakes), 0);
  Sender s(r.settings().port);
  s.send_seq(0, 8);
  wait_for([&] { return r.counters().queued.load() == 1; });
  CHECK_EQ(g_wakes.load(), 0);  // nobody asleep: no wake
  auto* h = reinterpret_cast<up::queue::QueueHeader*>(q.bytes.get());
  std::atomic_ref<int32_t>(h->consumers_asleep).store(1);
  s.send_seq(1, 8);
  wait_for([&] { return g_wakes.load() == 1; });
  CHECK_EQ(std::atomic_ref<int32_t>(h->consumers_asleep).load(), 0);
  CHECK_EQ(r.counters().wakes.load(), 1u);
  r.close();
}

// Three threads on the queue and the counters: TSan's case. Stops while datagrams flow.
void test_concurrent_and_stop_while_flowing() {
  Buffer q(256, 128);
  UdpReceiver r;
  UdpReceiverOptions o;
  o.busy_poll_us = 20;  // the spinning path too
  o.batch = 64;
  CHECK_EQ(r.open(o), 0);
  CHECK_EQ(r.start(q.bytes.get(), q.size, -1, nullptr, nullptr), 0);
  std::atomic<bool> done{false};
  std::atomic<uint32_t> popped{0};
  std::thread consumer([&] {
    SpscQueue c;
    CHECK_EQ(c.attach(q.bytes.get(), q.size), 0);
    uint8_t rec[128];
    uint32_t last = 0;
    bool first = true;
    while (!done.load()) {
      const int32_t n = c.try_pop(rec, sizeof rec);
      if (n < 0) continue;
      uint32_t seq;
      std::memcpy(&seq, rec + kRecordHeaderBytes, 4);
      CHECK(first || seq > last);  // in order, with gaps where the queue was full
      first = false;
      last = seq;
      popped.fetch_add(1);
    }
  });
  const uint16_t port = r.settings().port;
  std::thread sender([&] {
    Sender s(port);
    for (uint32_t i = 0; !done.load(); ++i) s.send_seq(i, size_for(i));
  });
  wait_for([&] { return popped.load() > 2000; });
  r.stop();
  const uint64_t queued = r.counters().queued.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK_EQ(r.counters().queued.load(), queued);  // stopped means stopped
  done.store(true);
  sender.join();
  consumer.join();
  r.close();
}

// The load generator: sequence numbers in order, send stamps before the receiver's; bad input.
void test_send_burst() {
  CHECK_EQ(send_burst("127.0.0.1", 9, kBurstMinBytes - 1, 1, 0, 1).status, -EINVAL);
  CHECK_EQ(send_burst("127.0.0.1", 9, 64, 1, 0, 0).status, -EINVAL);
  CHECK_EQ(send_burst("nope", 9, 64, 1, 0, 1).status, -EINVAL);
  CHECK_EQ(send_burst("127.0.0.1", 9, 64, 1, -1, 1).status, -EINVAL);
  Buffer q(1024, 128);
  UdpReceiver r;
  UdpReceiverOptions o;
  o.receive_buffer_bytes = 1 << 21;
  CHECK_EQ(r.open(o), 0);
  CHECK_EQ(r.start(q.bytes.get(), q.size, -1, nullptr, nullptr), 0);
  const UdpBurstResult sent = send_burst("127.0.0.1", r.settings().port, 64, 500, 200000, 16);
  CHECK_EQ(sent.status, 0);
  CHECK_EQ(sent.sent, 500u);
  SpscQueue consumer;
  CHECK_EQ(consumer.attach(q.bytes.get(), q.size), 0);
  uint8_t rec[128];
  for (uint32_t i = 0; i < 500; ++i) {
    int32_t n;
    wait_for([&] { return (n = consumer.try_pop(rec, sizeof rec)) >= 0; });
    CHECK_EQ(static_cast<uint32_t>(n & ~up::queue::kWakeBit), kRecordHeaderBytes + 64);
    uint32_t seq;
    double stamp, thread_ns;
    std::memcpy(&seq, rec + kRecordHeaderBytes + kBurstSeqOffset, 4);
    std::memcpy(&stamp, rec + kRecordHeaderBytes + kBurstStampOffset, 8);
    std::memcpy(&thread_ns, rec + kRecordThreadNsOffset, 8);
    CHECK_EQ(seq, i);
    CHECK(stamp <= thread_ns);
  }
  r.close();
}

}  // namespace

int main() {
  test_bad_options_and_states();
  test_in_order_with_header(true);
  test_in_order_with_header(false);
  test_drop_newest_and_truncation();
  test_wake_when_consumer_sleeps();
  test_concurrent_and_stop_while_flowing();
  test_send_burst();
  std::printf("udp receiver: all checks passed\n");
  return 0;
}
