// The per-thread ring on its own (src/pipeline/ring.hpp): a full ring grows by segments within
// its own bound and the process's budget, records come out once each and in order across
// segments with positions that order them against published(), read segments are freed, and
// one producer and one consumer on two threads lose nothing.
#include "pipeline/ring.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

using logfire::detail::following_records;
using logfire::detail::ring_growth_bytes;
using logfire::detail::ring_growth_limits;
using logfire::detail::ring_record_header;
using logfire::detail::spsc_ring;

namespace {

constexpr std::size_t k_segment = 4096;
constexpr ring_growth_limits k_no_growth{};
constexpr ring_growth_limits k_roomy{64 * k_segment, 1u << 30};

// A record of `size` bytes (header included, multiple of 8) carrying `seq`, or false when the
// ring is full and `limits` let it grow no further.
bool push(spsc_ring& ring, std::uint64_t seq, std::size_t size, ring_growth_limits limits) {
  std::byte* out = ring.try_reserve(size);
  if (!out) out = ring.try_grow(size, limits);
  if (!out) return false;
  auto* h = reinterpret_cast<ring_record_header*>(out);
  h->size = static_cast<std::uint32_t>(size);
  h->tag = ring_record_header::make_tag(1, 0);
  // The sequence number, then a filler derived from it, so a torn or stale read shows.
  std::memcpy(out + sizeof(ring_record_header), &seq, sizeof seq);
  for (std::size_t i = sizeof(ring_record_header) + sizeof seq; i < size; ++i)
    out[i] = static_cast<std::byte>((seq + i) & 0xFF);
  ring.commit(size);
  return true;
}

struct read_record {
  std::uint64_t seq;
  std::uint64_t position;
};

// Reads everything published now, checking each record's filler.
std::vector<read_record> drain_all(spsc_ring& ring) {
  std::vector<read_record> out;
  ring.drain([&](const ring_record_header& h, const std::byte* body, std::size_t size, std::uint64_t at) {
    std::uint64_t seq = 0;
    std::memcpy(&seq, body, sizeof seq);
    for (std::size_t i = sizeof seq; i < size; ++i)
      ASSERT_EQ(body[i], static_cast<std::byte>((seq + i + sizeof(ring_record_header)) & 0xFF)) << "record " << seq;
    EXPECT_EQ(h.size, size + sizeof(ring_record_header));
    out.push_back({seq, at});
  });
  return out;
}

// Fills the ring's current segment; returns the next sequence number.
std::uint64_t fill(spsc_ring& ring, std::uint64_t seq, std::size_t size) {
  while (push(ring, seq, size, k_no_growth)) ++seq;
  return seq;
}

}  // namespace

TEST(ring, a_full_ring_without_growth_refuses_the_record) {
  spsc_ring ring(k_segment);
  const std::uint64_t n = fill(ring, 0, 64);
  EXPECT_EQ(n, k_segment / 64);
  EXPECT_EQ(ring.segments(), 1u);
  const auto got = drain_all(ring);
  ASSERT_EQ(got.size(), n);
  EXPECT_TRUE(ring.empty());
}

TEST(ring, a_full_ring_grows_to_its_bound_and_reads_back_in_order) {
  const std::size_t growth_before = ring_growth_bytes();
  spsc_ring ring(k_segment);
  const ring_growth_limits three{3 * k_segment, 1u << 30};
  std::uint64_t seq = 0;
  while (push(ring, seq, 72, three)) ++seq;  // 72: records straddle the segment ends
  EXPECT_EQ(ring.segments(), 3u);
  EXPECT_EQ(ring_growth_bytes(), growth_before + 2 * k_segment);
  EXPECT_GT(seq, 2 * k_segment / 72);

  const auto got = drain_all(ring);
  ASSERT_EQ(got.size(), seq);
  for (std::uint64_t i = 0; i < seq; ++i) {
    EXPECT_EQ(got[i].seq, i);
    if (i) {
      EXPECT_GT(got[i].position, got[i - 1].position);
    }
  }
  // Read segments are freed: the ring is back to one, the process's growth to what it was.
  EXPECT_TRUE(ring.empty());
  EXPECT_EQ(ring.segments(), 1u);
  EXPECT_EQ(ring_growth_bytes(), growth_before);
  // And the remaining segment is used as a ring again.
  EXPECT_EQ(fill(ring, seq, 72) - seq, k_segment / 72);
}

TEST(ring, the_process_budget_bounds_the_growth_of_every_ring) {
  const std::size_t before = ring_growth_bytes();
  const ring_growth_limits one_more_for_all{8 * k_segment, before + k_segment};
  spsc_ring a(k_segment);
  spsc_ring b(k_segment);
  std::uint64_t seq = fill(a, 0, 64);
  ASSERT_TRUE(push(a, seq++, 64, one_more_for_all));  // a takes the budget
  fill(b, 0, 64);
  EXPECT_FALSE(push(b, 99, 64, one_more_for_all)) << "b must not grow past the budget a used";
  EXPECT_EQ(b.segments(), 1u);
  drain_all(a);  // a's extra segment is read and freed: the budget is free again
  EXPECT_EQ(ring_growth_bytes(), before);
  EXPECT_TRUE(push(b, 99, 64, one_more_for_all));
  EXPECT_EQ(b.segments(), 2u);
}

TEST(ring, a_record_larger_than_a_segment_is_refused_even_with_room_to_grow) {
  spsc_ring ring(k_segment);
  EXPECT_EQ(ring.try_reserve(2 * k_segment), nullptr);
  EXPECT_EQ(ring.try_grow(2 * k_segment, k_roomy), nullptr);
  EXPECT_EQ(ring.segments(), 1u);
  // The largest record a segment takes goes through growth when the segment is in use.
  ASSERT_TRUE(push(ring, 0, 64, k_no_growth));
  EXPECT_TRUE(push(ring, 1, k_segment, k_roomy));
  EXPECT_EQ(drain_all(ring).size(), 2u);
}

TEST(ring, positions_order_records_against_a_mark_taken_between_them) {
  spsc_ring ring(k_segment);
  std::uint64_t seq = fill(ring, 0, 64);
  const std::uint64_t mark = ring.published();
  const std::uint64_t after_mark = seq;
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(push(ring, seq++, 64, k_roomy));  // in new segments
  EXPECT_GT(ring.segments(), 1u);
  for (const auto& r : drain_all(ring)) {
    if (r.seq < after_mark) {
      EXPECT_LT(r.position, mark) << r.seq;
    } else {
      EXPECT_GE(r.position, mark) << r.seq;
    }
  }
}

TEST(ring, a_drain_stopped_early_resumes_where_it_stopped_across_segments) {
  spsc_ring ring(k_segment);
  std::uint64_t seq = 0;
  for (int i = 0; i < 300; ++i) ASSERT_TRUE(push(ring, seq++, 40, k_roomy));
  ASSERT_GT(ring.segments(), 2u);
  std::vector<std::uint64_t> seen;
  const auto collect = [&](const ring_record_header&, const std::byte* body, std::size_t, std::uint64_t) {
    std::uint64_t s = 0;
    std::memcpy(&s, body, sizeof s);
    seen.push_back(s);
  };
  // A few records per drain, giving back what was read each time, as the pipeline does
  // before it releases the consumer lock.
  while (seen.size() < seq) {
    std::size_t budget = 7;
    ring.drain(collect, [&](const auto& free_read) {
      if (budget-- > 0) return true;
      free_read();
      return false;
    });
  }
  ASSERT_EQ(seen.size(), seq);
  for (std::uint64_t i = 0; i < seq; ++i) EXPECT_EQ(seen[i], i);
  EXPECT_TRUE(ring.empty());
  EXPECT_EQ(ring.segments(), 1u);
}

TEST(ring, a_drain_reads_only_what_was_published_when_it_began) {
  spsc_ring ring(k_segment);
  for (std::uint64_t i = 0; i < 10; ++i) ASSERT_TRUE(push(ring, i, 64, k_roomy));
  std::size_t read = 0;
  std::uint64_t next = 10;
  ring.drain([&](const ring_record_header&, const std::byte*, std::size_t, std::uint64_t) {
    ++read;
    // A producer that keeps writing, into this segment and then new ones, while the drain runs.
    for (int k = 0; k < 20; ++k) ASSERT_TRUE(push(ring, next++, 64, k_roomy));
  });
  EXPECT_EQ(read, 10u);
  EXPECT_EQ(drain_all(ring).size(), next - 10);
}

TEST(ring, discarding_after_fork_keeps_only_the_producers_segment) {
  const std::size_t before = ring_growth_bytes();
  spsc_ring ring(k_segment);
  std::uint64_t seq = 0;
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(push(ring, seq++, 64, k_roomy));
  ASSERT_GT(ring.segments(), 2u);
  ring.discard_all_after_fork();
  EXPECT_TRUE(ring.empty());
  EXPECT_EQ(ring.segments(), 1u);
  EXPECT_EQ(ring_growth_bytes(), before);
  ASSERT_TRUE(push(ring, seq, 64, k_no_growth));
  const auto got = drain_all(ring);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].seq, seq);
}

// One producer, one consumer, records of varied sizes, growth up to 8 segments and waits when
// even that is full: every record arrives once, in order, intact (ThreadSanitizer checks the
// publication protocol in the sanitizer builds).
TEST(ring, a_producer_and_a_consumer_on_two_threads_lose_nothing) {
  constexpr std::uint64_t k_records = 200'000;
  const std::size_t before = ring_growth_bytes();
  spsc_ring ring(k_segment);
  const ring_growth_limits eight{8 * k_segment, 1u << 30};
  std::atomic<bool> done{false};
  std::size_t grown_to = 1;
  std::thread producer([&] {
    for (std::uint64_t seq = 0; seq < k_records; ++seq) {
      const std::size_t size = 16 + 8 * (seq * 2654435761u % 75);  // 16..608 bytes
      while (!push(ring, seq, size, eight)) std::this_thread::yield();
      grown_to = std::max(grown_to, ring.segments());
    }
    done = true;
  });
  std::uint64_t expected = 0;
  std::uint64_t last_position = 0;
  std::uint64_t first_bad = k_records;  // the first record out of order or damaged
  while (!done.load() || !ring.empty()) {
    const std::size_t n =
        ring.drain([&](const ring_record_header& h, const std::byte* body, std::size_t size, std::uint64_t at) {
          std::uint64_t seq = 0;
          std::memcpy(&seq, body, sizeof seq);
          if (seq != expected || h.size != 16 + 8 * (seq * 2654435761u % 75) || (seq && at <= last_position) ||
              (size > sizeof seq &&
               body[size - 1] != static_cast<std::byte>((seq + size - 1 + sizeof(ring_record_header)) & 0xFF)))
            first_bad = std::min(first_bad, expected);
          expected = seq + 1;
          last_position = at;
        });
    if (n == 0) std::this_thread::yield();
  }
  producer.join();
  EXPECT_EQ(first_bad, k_records) << "record " << first_bad << " out of order or damaged";
  EXPECT_EQ(expected, k_records);
  EXPECT_LE(grown_to, 8u);
  EXPECT_EQ(ring.segments(), 1u);
  EXPECT_EQ(ring_growth_bytes(), before);
}

// A consumer that takes a fifth argument sees the records that follow, those published in the
// same segment, and may take some of them too: the drain then skips them.
TEST(ring, a_consumer_may_take_the_records_after_this_one) {
  spsc_ring ring(k_segment);
  for (std::uint64_t seq = 0; seq < 6; ++seq) ASSERT_TRUE(push(ring, seq, 32, k_no_growth));
  std::vector<std::uint64_t> seen;
  std::vector<std::size_t> following;
  const std::size_t n = ring.drain([&](const ring_record_header&, const std::byte* body, std::size_t, std::uint64_t,
                                       const following_records& after) -> std::uint64_t {
    std::uint64_t seq = 0;
    std::memcpy(&seq, body, sizeof seq);
    seen.push_back(seq);
    // Every record after this one, in order.
    std::size_t count = 0;
    std::uint64_t at = after.begin();
    for (const ring_record_header* r = after.at(at); r; r = after.at(at)) {
      std::uint64_t next_seq = 0;
      std::memcpy(&next_seq, r + 1, sizeof next_seq);
      EXPECT_EQ(next_seq, seq + 1 + count);
      ++count;
      at += r->size;
    }
    following.push_back(count);
    if (seq != 1) return 0;
    // Takes records 2 and 3 with record 1.
    const std::uint64_t two = after.at(after.begin())->size;
    return two + after.at(after.begin() + two)->size;
  });
  EXPECT_EQ(n, 6u);  // records 2 and 3 were read, by the call for record 1
  EXPECT_EQ(seen, (std::vector<std::uint64_t>{0, 1, 4, 5}));
  EXPECT_EQ(following, (std::vector<std::size_t>{5, 4, 1, 0}));
  EXPECT_TRUE(ring.empty());
  ASSERT_TRUE(push(ring, 6, 32, k_no_growth));
  EXPECT_EQ(drain_all(ring).size(), 1u);  // nothing of the first six is read again
}

// The producer asks for the lines ahead of it for writing (commit()); records longer than how
// far it looks ahead, records after a new segment and padding at a segment's end must all come
// out as written.
TEST(ring, records_of_every_size_read_back_whole_across_segments) {
  spsc_ring ring(k_segment);
  std::uint64_t seq = 0;
  for (int round = 0; round < 3; ++round) {
    for (std::size_t size = 16; size <= 1024; size += 24) ASSERT_TRUE(push(ring, seq++, size, k_roomy));
    EXPECT_GT(ring.segments(), 1u);  // the rounds do not fit one segment: the ring grew
    const auto got = drain_all(ring);
    ASSERT_EQ(got.size(), 43u);
    for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].seq, seq - 43 + i);
  }
}

// Whether the write prefetch is used follows what the CPU reports, as the kernel reads it.
TEST(ring, the_write_prefetch_is_used_where_the_cpu_has_it) {
#if defined(__x86_64__) && defined(__linux__)
  std::FILE* f = std::fopen("/proc/cpuinfo", "r");
  if (!f) GTEST_SKIP() << "no /proc/cpuinfo";
  std::string flags;
  char line[8192];
  while (std::fgets(line, sizeof line, f))
    if (std::strncmp(line, "flags", 5) == 0) {
      flags = line;
      break;
    }
  std::fclose(f);
  ASSERT_FALSE(flags.empty());
  flags.pop_back();  // the newline
  flags += ' ';
  const bool kernel_says = flags.find(" 3dnowprefetch ") != std::string::npos;
  // Valgrind runs the program on a CPU of its own, whose CPUID leaves the feature out.
  const char* preload = std::getenv("LD_PRELOAD");
  if (kernel_says && preload && std::strstr(preload, "vgpreload")) GTEST_SKIP() << "under valgrind";
  EXPECT_EQ(logfire::detail::cpu_prefetches_for_write(), kernel_says);
#else
  EXPECT_TRUE(logfire::detail::cpu_prefetches_for_write());
#endif
}
