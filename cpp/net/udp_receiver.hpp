// A UDP receiver thread: recvmmsg in batches from one bound socket, each datagram written
// with a small header (below) into an SpscQueue (cpp/queue) that a JS thread drains.
// The core knows nothing of Node: the binding (cpp/napi/udp_receiver.cc) keeps the queue
// memory alive while the thread runs and turns `wake` into a call on the JS thread.
// Linux only (recvmmsg, eventfd, SO_TIMESTAMPNS, SO_BUSY_POLL); elsewhere open() says
// kUnsupported. lib/net/native-source.ts is the JS half.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>

namespace up::net {

// ---- The record each queue message holds: a header, then the datagram. ----
// Doubles are CLOCK_MONOTONIC nanoseconds (the clock of process.hrtime), exact below 2^53
// (104 days of uptime). lib/net/native-source.ts kRecord is the same table.
inline constexpr uint32_t kRecordKernelNsOffset = 0;   // f64, NaN when the kernel gave no timestamp
inline constexpr uint32_t kRecordThreadNsOffset = 8;   // f64, when recvmmsg returned the batch
inline constexpr uint32_t kRecordWireBytesOffset = 16; // u32, the datagram's length
inline constexpr uint32_t kRecordPortOffset = 20;      // u16, sender port, host order
inline constexpr uint32_t kRecordFamilyOffset = 22;    // u8, 4 or 6
inline constexpr uint32_t kRecordFlagsOffset = 23;     // u8, 0 (reserved)
inline constexpr uint32_t kRecordAddressOffset = 24;   // 16 bytes, network order; IPv4 in the first 4
inline constexpr uint32_t kRecordHeaderBytes = 40;

inline constexpr uint32_t kMaxBatch = 1024;
// A status for "the host has no such thing" (not Linux), beside the -errno values.
inline constexpr int kUnsupported = -100000;
// start() on a receiver that is not open, or already started.
inline constexpr int kBadState = -100001;
// start() on bytes that are not an SPSC queue, or one whose slots cannot hold a header.
inline constexpr int kBadQueue = -100002;

struct UdpReceiverOptions {
  // A numeric IPv4 or IPv6 address (no name lookup here).
  const char* host = "127.0.0.1";
  uint16_t port = 0;
  // SO_RCVBUF to ask for; 0 leaves the system default.
  int receive_buffer_bytes = 0;
  // > 0: SO_BUSY_POLL with this many µs, and the thread spins on a non-blocking recvmmsg
  // for this long after the last datagram before it sleeps in poll().
  int busy_poll_us = 0;
  uint32_t batch = 32;
  // SO_TIMESTAMPNS: kernel receive timestamps.
  bool timestamps = true;
};

// What the kernel granted at open(): values, or -errno where it refused an option.
struct UdpReceiverSettings {
  int family = 0;  // 4 or 6
  uint16_t port = 0;
  uint8_t address[16] = {};
  int receive_buffer_bytes = 0;  // SO_RCVBUF as read back (Linux doubles what is asked)
  int busy_poll = 1;             // 0 set, -errno refused, 1 not asked
  int timestamps = 1;            // 0 on, -errno refused, 1 not asked
  int overflow_counter = 1;      // SO_RXQ_OVFL: 0 on, -errno refused
};

// Counters since start(); written by the thread (relaxed), read by anyone.
struct UdpReceiverCounters {
  std::atomic<uint64_t> received{0};      // datagrams read from the kernel
  std::atomic<uint64_t> received_bytes{0};
  std::atomic<uint64_t> queued{0};        // written into the queue
  std::atomic<uint64_t> queue_full{0};    // dropped: no room in the queue (policy: drop-newest)
  std::atomic<uint64_t> truncated{0};     // dropped: longer than a slot holds
  std::atomic<uint64_t> kernel_dropped{0};// the socket's overflow count (SO_RXQ_OVFL), latest seen
  std::atomic<uint64_t> batches{0};       // recvmmsg calls that returned datagrams
  std::atomic<uint64_t> sleeps{0};        // poll() waits
  std::atomic<uint64_t> wakes{0};         // wake requests to the consumer
  std::atomic<uint64_t> errors{0};        // recvmmsg failures other than EAGAIN/EINTR
  std::atomic<int> last_errno{0};
};

struct Batch;

class UdpReceiver {
 public:
  using WakeFn = void (*)(void* context);

  UdpReceiver() noexcept;
  UdpReceiver(const UdpReceiver&) = delete;
  UdpReceiver& operator=(const UdpReceiver&) = delete;
  ~UdpReceiver();

  // Creates, configures and binds the socket. 0, or -errno of the call named by failed_call().
  int open(const UdpReceiverOptions& options) noexcept;
  const char* failed_call() const noexcept { return failed_call_; }
  const UdpReceiverSettings& settings() const noexcept { return settings_; }

  // Starts the thread over queue (an SPSC queue whose slots hold kRecordHeaderBytes + 1
  // bytes at least, alive until stop() returns). The thread pins itself to cpu first
  // (cpu < 0: no pinning) and start() waits for that: 0, -errno (pinning refused; no
  // thread left running), kBadQueue or kBadState. wake(context) is called from the thread
  // after a push that found the consumer asleep; it must not block.
  int start(uint8_t* queue, std::size_t queue_bytes, int cpu, WakeFn wake, void* context) noexcept;

  // Stops and joins the thread; idempotent. Returns within one loop turn (the poll also
  // waits on an eventfd this writes).
  void stop() noexcept;
  // stop(), then closes the socket; idempotent.
  void close() noexcept;

  bool running() const noexcept { return thread_.joinable(); }
  const UdpReceiverCounters& counters() const noexcept { return counters_; }

 private:
  void run(uint8_t* queue, std::size_t queue_bytes) noexcept;

  int fd_ = -1;
  int stop_fd_ = -1;
  uint32_t batch_ = 32;
  int busy_poll_us_ = 0;
  const char* failed_call_ = "";
  UdpReceiverSettings settings_;
  UdpReceiverCounters counters_;
  std::atomic<bool> stop_{false};
  WakeFn wake_ = nullptr;
  void* wake_context_ = nullptr;
  std::unique_ptr<Batch> batch_buffers_;
  std::thread thread_;
};

// ---- A load generator for benches and tests: the sending side, with sendmmsg. ----

inline constexpr uint32_t kBurstSeqOffset = 0;      // u32 datagram index
inline constexpr uint32_t kBurstStampOffset = 8;    // f64 CLOCK_MONOTONIC ns when its batch was sent
inline constexpr uint32_t kBurstMinBytes = 16;

struct UdpBurstResult {
  uint64_t sent = 0;
  int status = 0;  // 0, or -errno of failed_call
  const char* failed_call = "";
};

// Sends count datagrams of size bytes (kBurstMinBytes..65507) to host:port (numeric) from
// a fresh socket, batch (1..kMaxBatch) per sendmmsg, paced at rate_per_sec (0: as fast as
// the socket takes them). Datagram i carries i and its send time (offsets above).
UdpBurstResult send_burst(const char* host, uint16_t port, uint32_t size, uint64_t count, double rate_per_sec,
                          uint32_t batch) noexcept;

}  // namespace up::net
