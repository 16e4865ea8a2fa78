#include "udp_receiver.hpp"

#include <cerrno>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <future>
#include <limits>
#include <memory>
#include <new>
#include <system_error>
#include <vector>

#include "../queue/spsc_queue.hpp"
#include "../system/affinity.hpp"

#if defined(__linux__)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#endif

namespace up::net {

#if defined(__linux__)
namespace {

// One timestamp and one overflow counter per datagram, with room to spare.
constexpr std::size_t kControlBytes = 128;
constexpr uint32_t kRecordAlign = 8;

int64_t clock_ns(clockid_t id) noexcept {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// setsockopt with an int; 0 or -errno.
int set_int(int fd, int level, int name, int value) noexcept {
  return setsockopt(fd, level, name, &value, sizeof value) == 0 ? 0 : -errno;
}

}  // namespace

// The thread's buffers, allocated by start() so the thread itself never allocates.
struct Batch {
  explicit Batch(uint32_t n, uint32_t record_bytes)
      : record(record_bytes), data(std::size_t{n} * record_bytes), msgs(n), iovs(n), names(n),
        control(std::size_t{n} * kControlBytes), lengths(n) {}
  uint32_t record;
  std::vector<uint8_t> data;
  std::vector<mmsghdr> msgs;
  std::vector<iovec> iovs;
  std::vector<sockaddr_storage> names;
  std::vector<uint8_t> control;
  std::vector<uint32_t> lengths;
};

int UdpReceiver::open(const UdpReceiverOptions& o) noexcept {
  if (fd_ >= 0) {
    failed_call_ = "open (already open)";
    return kBadState;
  }
  if (o.batch == 0 || o.batch > kMaxBatch || o.busy_poll_us < 0 || o.receive_buffer_bytes < 0 || o.host == nullptr) {
    failed_call_ = "options";
    return -EINVAL;
  }
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (inet_pton(AF_INET, o.host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(o.port);
    addr_len = sizeof *v4;
  } else if (inet_pton(AF_INET6, o.host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(o.port);
    addr_len = sizeof *v6;
  } else {
    failed_call_ = "inet_pton (host)";
    return -EINVAL;
  }
  settings_ = UdpReceiverSettings{};
  const int fd = socket(addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    failed_call_ = "socket";
    return -errno;
  }
  auto fail = [&](const char* call, int err) {
    failed_call_ = call;
    ::close(fd);
    return err;
  };
  if (o.receive_buffer_bytes > 0) {
    // SO_RCVBUFFORCE passes net.core.rmem_max with CAP_NET_ADMIN; else SO_RCVBUF (capped there).
    if (set_int(fd, SOL_SOCKET, SO_RCVBUFFORCE, o.receive_buffer_bytes) != 0) {
      if (const int rc = set_int(fd, SOL_SOCKET, SO_RCVBUF, o.receive_buffer_bytes); rc != 0) return fail("setsockopt SO_RCVBUF", rc);
    }
  }
  int rcvbuf = 0;
  socklen_t rcvbuf_len = sizeof rcvbuf;
  if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &rcvbuf_len) == 0) settings_.receive_buffer_bytes = rcvbuf;
  if (o.timestamps) settings_.timestamps = set_int(fd, SOL_SOCKET, SO_TIMESTAMPNS, 1);
  settings_.overflow_counter = set_int(fd, SOL_SOCKET, SO_RXQ_OVFL, 1);
  // Raising SO_BUSY_POLL above net.core.busy_read needs CAP_NET_ADMIN: EPERM otherwise.
  if (o.busy_poll_us > 0) settings_.busy_poll = set_int(fd, SOL_SOCKET, SO_BUSY_POLL, o.busy_poll_us);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), addr_len) != 0) return fail("bind", -errno);
  sockaddr_storage local{};
  socklen_t local_len = sizeof local;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0) return fail("getsockname", -errno);
  if (local.ss_family == AF_INET) {
    const auto* l = reinterpret_cast<const sockaddr_in*>(&local);
    settings_.family = 4;
    settings_.port = ntohs(l->sin_port);
    std::memcpy(settings_.address, &l->sin_addr, 4);
  } else {
    const auto* l = reinterpret_cast<const sockaddr_in6*>(&local);
    settings_.family = 6;
    settings_.port = ntohs(l->sin6_port);
    std::memcpy(settings_.address, &l->sin6_addr, 16);
  }
  const int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (efd < 0) return fail("eventfd", -errno);
  fd_ = fd;
  stop_fd_ = efd;
  batch_ = o.batch;
  busy_poll_us_ = o.busy_poll_us;
  failed_call_ = "";
  return 0;
}

int UdpReceiver::start(uint8_t* queue, std::size_t queue_bytes, int cpu, WakeFn wake, void* context) noexcept {
  if (fd_ < 0 || thread_.joinable()) return kBadState;
  queue::SpscQueue q;
  if (q.attach(queue, queue_bytes) != 0 || q.slot_bytes() <= kRecordHeaderBytes) return kBadQueue;
  const uint32_t record = (q.slot_bytes() + kRecordAlign - 1) / kRecordAlign * kRecordAlign;
  std::unique_ptr<Batch> batch;
  try {
    batch = std::make_unique<Batch>(batch_, record);
  } catch (const std::bad_alloc&) {
    return -ENOMEM;
  }
  uint64_t pending = 0;
  while (read(stop_fd_, &pending, sizeof pending) > 0) {
  }
  stop_.store(false, std::memory_order_relaxed);
  wake_ = wake;
  wake_context_ = context;
  batch_buffers_ = std::move(batch);
  try {
    std::promise<int> ready;
    std::future<int> pinned = ready.get_future();
    // The promise moves into the thread: start() may return (and its frame go) while set_value finishes.
    thread_ = std::thread([this, queue, queue_bytes, cpu, ready = std::move(ready)]() mutable {
      const int rc = cpu >= 0 ? system::set_thread_affinity(&cpu, 1) : 0;
      ready.set_value(rc);
      if (rc == 0) run(queue, queue_bytes);
    });
    const int rc = pinned.get();
    if (rc != 0) {
      thread_.join();
      return rc;
    }
  } catch (const std::system_error& e) {
    if (thread_.joinable()) thread_.join();
    return -(e.code().value() != 0 ? e.code().value() : EAGAIN);
  }
  return 0;
}

void UdpReceiver::stop() noexcept {
  if (!thread_.joinable()) return;
  stop_.store(true, std::memory_order_relaxed);
  const uint64_t one = 1;
  // The eventfd cannot overflow from one write a start; a failed write leaves the poll's own wake-ups.
  [[maybe_unused]] const ssize_t w = write(stop_fd_, &one, sizeof one);
  thread_.join();
}

void UdpReceiver::close() noexcept {
  stop();
  if (fd_ >= 0) ::close(fd_);
  if (stop_fd_ >= 0) ::close(stop_fd_);
  fd_ = -1;
  stop_fd_ = -1;
}

void UdpReceiver::run(uint8_t* queue_bytes_base, std::size_t queue_bytes) noexcept {
  queue::SpscQueue q;
  if (q.attach(queue_bytes_base, queue_bytes) != 0) return;
  Batch& b = *batch_buffers_;
  const uint32_t n_max = batch_;
  const uint32_t max_payload = q.slot_bytes() - kRecordHeaderBytes;
  for (uint32_t i = 0; i < n_max; ++i) {
    b.iovs[i] = iovec{b.data.data() + std::size_t{i} * b.record + kRecordHeaderBytes, max_payload};
    msghdr& h = b.msgs[i].msg_hdr;
    h = msghdr{};
    h.msg_iov = &b.iovs[i];
    h.msg_iovlen = 1;
    h.msg_name = &b.names[i];
    h.msg_control = b.control.data() + std::size_t{i} * kControlBytes;
  }
  const int64_t spin_ns = int64_t{busy_poll_us_} * 1000;
  int64_t last_ns = clock_ns(CLOCK_MONOTONIC);
  auto& c = counters_;
  constexpr auto relaxed = std::memory_order_relaxed;
  while (!stop_.load(relaxed)) {
    for (uint32_t i = 0; i < n_max; ++i) {
      b.msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
      b.msgs[i].msg_hdr.msg_controllen = kControlBytes;
    }
    // MSG_TRUNC: msg_len is the datagram's real length, so a long one is seen as such.
    const int n = recvmmsg(fd_, b.msgs.data(), n_max, MSG_DONTWAIT | MSG_TRUNC, nullptr);
    if (n <= 0) {
      const int err = n < 0 ? errno : EAGAIN;
      if (err == EINTR) continue;
      pollfd fds[2] = {{fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
      if (err != EAGAIN && err != EWOULDBLOCK) {
        c.errors.fetch_add(1, relaxed);
        c.last_errno.store(err, relaxed);
        // A persistent error (none expected on a bound UDP socket) must not become a spin.
        poll(fds + 1, 1, 10);
        continue;
      }
      if (spin_ns > 0 && clock_ns(CLOCK_MONOTONIC) - last_ns < spin_ns) {
        queue::cpu_relax();
        continue;
      }
      c.sleeps.fetch_add(1, relaxed);
      poll(fds, 2, -1);
      continue;
    }
    // One clock pair a batch: CLOCK_REALTIME (the kernel's stamps) mapped onto CLOCK_MONOTONIC.
    const int64_t mono = clock_ns(CLOCK_MONOTONIC);
    const int64_t real_minus_mono = clock_ns(CLOCK_REALTIME) - mono;
    last_ns = mono;
    const double thread_ns = static_cast<double>(mono);
    std::size_t packed = 0;
    uint32_t k = 0;
    uint64_t bytes = 0;
    for (int i = 0; i < n; ++i) {
      const mmsghdr& m = b.msgs[static_cast<uint32_t>(i)];
      const uint32_t len = m.msg_len;
      bytes += len;
      if (len > max_payload || (m.msg_hdr.msg_flags & MSG_TRUNC) != 0) {
        c.truncated.fetch_add(1, relaxed);
        continue;
      }
      double kernel_ns = std::numeric_limits<double>::quiet_NaN();
      for (cmsghdr* cm = CMSG_FIRSTHDR(&m.msg_hdr); cm != nullptr; cm = CMSG_NXTHDR(const_cast<msghdr*>(&m.msg_hdr), cm)) {
        if (cm->cmsg_level != SOL_SOCKET) continue;
        if (cm->cmsg_type == SCM_TIMESTAMPNS && cm->cmsg_len >= CMSG_LEN(sizeof(timespec))) {
          timespec ts;
          std::memcpy(&ts, CMSG_DATA(cm), sizeof ts);
          const int64_t real = static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
          if (real != 0) kernel_ns = static_cast<double>(real - real_minus_mono);
        } else if (cm->cmsg_type == SO_RXQ_OVFL && cm->cmsg_len >= CMSG_LEN(sizeof(uint32_t))) {
          uint32_t dropped;
          std::memcpy(&dropped, CMSG_DATA(cm), sizeof dropped);
          c.kernel_dropped.store(dropped, relaxed);
        }
      }
      uint8_t* rec = b.data.data() + std::size_t{static_cast<uint32_t>(i)} * b.record;
      std::memcpy(rec + kRecordKernelNsOffset, &kernel_ns, 8);
      std::memcpy(rec + kRecordThreadNsOffset, &thread_ns, 8);
      std::memcpy(rec + kRecordWireBytesOffset, &len, 4);
      const auto* from = reinterpret_cast<const sockaddr_storage*>(m.msg_hdr.msg_name);
      uint16_t port = 0;
      uint8_t family = 0;
      std::memset(rec + kRecordAddressOffset, 0, 16);
      if (from->ss_family == AF_INET) {
        const auto* a = reinterpret_cast<const sockaddr_in*>(from);
        port = ntohs(a->sin_port);
        family = 4;
        std::memcpy(rec + kRecordAddressOffset, &a->sin_addr, 4);
      } else if (from->ss_family == AF_INET6) {
        const auto* a = reinterpret_cast<const sockaddr_in6*>(from);
        port = ntohs(a->sin6_port);
        family = 6;
        std::memcpy(rec + kRecordAddressOffset, &a->sin6_addr, 16);
      }
      std::memcpy(rec + kRecordPortOffset, &port, 2);
      rec[kRecordFamilyOffset] = family;
      rec[kRecordFlagsOffset] = 0;
      const uint32_t total = kRecordHeaderBytes + len;
      // Records are packed for push_batch; each moves left (or stays), never over one not yet read.
      if (rec != b.data.data() + packed) std::memmove(b.data.data() + packed, rec, total);
      b.lengths[k++] = total;
      packed += total;
    }
    c.received.fetch_add(static_cast<uint64_t>(n), relaxed);
    c.received_bytes.fetch_add(bytes, relaxed);
    c.batches.fetch_add(1, relaxed);
    if (k == 0) continue;
    const int32_t r = q.push_batch(b.data.data(), packed, b.lengths.data(), k);
    if (r < 0) {
      // Closed (or scribbled on) under us: nothing can be delivered, so it is all dropped.
      c.queue_full.fetch_add(k, relaxed);
      continue;
    }
    const uint32_t pushed = static_cast<uint32_t>(r & ~queue::kWakeBit);
    c.queued.fetch_add(pushed, relaxed);
    if (pushed < k) c.queue_full.fetch_add(k - pushed, relaxed);
    if ((r & queue::kWakeBit) != 0 && wake_ != nullptr) {
      c.wakes.fetch_add(1, relaxed);
      wake_(wake_context_);
    }
  }
}

UdpBurstResult send_burst(const char* host, uint16_t port, uint32_t size, uint64_t count, double rate_per_sec,
                          uint32_t batch) noexcept {
  UdpBurstResult r;
  if (host == nullptr || size < kBurstMinBytes || size > 65507 || batch == 0 || batch > kMaxBatch || !(rate_per_sec >= 0)) {
    r.status = -EINVAL;
    r.failed_call = "options";
    return r;
  }
  sockaddr_storage to{};
  socklen_t to_len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&to);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&to);
  if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    to_len = sizeof *v4;
  } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    to_len = sizeof *v6;
  } else {
    r.status = -EINVAL;
    r.failed_call = "inet_pton (host)";
    return r;
  }
  std::vector<uint8_t> data;
  std::vector<mmsghdr> msgs;
  std::vector<iovec> iovs;
  try {
    data.assign(std::size_t{batch} * size, 0);
    msgs.assign(batch, mmsghdr{});
    iovs.assign(batch, iovec{});
  } catch (const std::bad_alloc&) {
    r.status = -ENOMEM;
    r.failed_call = "allocation";
    return r;
  }
  const int fd = socket(to.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    r.status = -errno;
    r.failed_call = "socket";
    return r;
  }
  if (connect(fd, reinterpret_cast<sockaddr*>(&to), to_len) != 0) {
    r.status = -errno;
    r.failed_call = "connect";
    ::close(fd);
    return r;
  }
  for (uint32_t i = 0; i < batch; ++i) {
    uint8_t* d = data.data() + std::size_t{i} * size;
    for (uint32_t j = kBurstMinBytes; j < size; ++j) d[j] = static_cast<uint8_t>(j);
    iovs[i] = iovec{d, size};
    msgs[i].msg_hdr.msg_iov = &iovs[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  const int64_t start = clock_ns(CLOCK_MONOTONIC);
  const double ns_per = rate_per_sec > 0 ? 1e9 / rate_per_sec : 0;
  while (r.sent < count) {
    const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(batch, count - r.sent));
    if (ns_per > 0) {
      const int64_t due = start + static_cast<int64_t>(ns_per * static_cast<double>(r.sent));
      for (int64_t now = clock_ns(CLOCK_MONOTONIC); now < due; now = clock_ns(CLOCK_MONOTONIC)) {
        if (due - now > 200000) {
          timespec nap{0, static_cast<long>(due - now - 100000)};
          nanosleep(&nap, nullptr);
        } else {
          queue::cpu_relax();
        }
      }
    }
    const double stamp = static_cast<double>(clock_ns(CLOCK_MONOTONIC));
    for (uint32_t i = 0; i < n; ++i) {
      uint8_t* d = data.data() + std::size_t{i} * size;
      const uint32_t seq = static_cast<uint32_t>(r.sent + i);
      std::memcpy(d + kBurstSeqOffset, &seq, 4);
      std::memcpy(d + kBurstStampOffset, &stamp, 8);
    }
    const int k = sendmmsg(fd, msgs.data(), n, 0);
    if (k < 0) {
      if (errno == EINTR || errno == ENOBUFS || errno == EAGAIN) continue;
      // ECONNREFUSED included: nobody listens on host:port (an ICMP port-unreachable came back).
      r.status = -errno;
      r.failed_call = "sendmmsg";
      break;
    }
    r.sent += static_cast<uint64_t>(k);
  }
  ::close(fd);
  return r;
}

#else  // not Linux

UdpBurstResult send_burst(const char*, uint16_t, uint32_t, uint64_t, double, uint32_t) noexcept {
  UdpBurstResult r;
  r.status = kUnsupported;
  r.failed_call = "sendmmsg (Linux only)";
  return r;
}

struct Batch {};
int UdpReceiver::open(const UdpReceiverOptions&) noexcept {
  failed_call_ = "recvmmsg (Linux only)";
  return kUnsupported;
}
int UdpReceiver::start(uint8_t*, std::size_t, int, WakeFn, void*) noexcept { return kBadState; }
void UdpReceiver::stop() noexcept {}
void UdpReceiver::close() noexcept {}
void UdpReceiver::run(uint8_t*, std::size_t) noexcept {}

#endif

UdpReceiver::UdpReceiver() noexcept = default;
UdpReceiver::~UdpReceiver() { close(); }

}  // namespace up::net
