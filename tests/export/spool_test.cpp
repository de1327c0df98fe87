// The disk spool on its own: files written crash-safely and read back in order, the byte cap,
// corrupt files, and two holders of the same folder never taking the same file.
#include "export/spool.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "export_test_util.hpp"

namespace logfire::test {
namespace {

using detail::body_format;
using detail::body_meta;
using detail::spool;
using detail::spool_loss;

std::unique_ptr<spool> open_spool(const std::string& dir, std::uint64_t cap = 1 << 20) {
  std::string err;
  auto s = spool::open({.directory = dir, .max_bytes = cap}, err);
  EXPECT_TRUE(s) << err;
  return s;
}

body_meta meta(std::uint32_t records) {
  return meta_of(records);
}

TEST(Spool, BodiesComeBackInTheOrderTheyWereWritten) {
  temp_dir tmp;
  auto sp = open_spool(tmp.path() + "/a/b");  // parents are created
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(sp->write("body-" + std::to_string(i), meta(10 + i)).ok);
  EXPECT_EQ(sp->file_count(), 5u);
  EXPECT_EQ(sp->own_records(), 10u + 11 + 12 + 13 + 14);
  struct stat st {};
  ASSERT_EQ(::stat((tmp.path() + "/a/b").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);  // telemetry is private to the user
  std::vector<spool_loss> corrupt;
  for (int i = 0; i < 5; ++i) {
    auto c = sp->claim_oldest(corrupt);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->body, "body-" + std::to_string(i));
    EXPECT_EQ(c->meta.records, 10u + i);
    EXPECT_TRUE(c->own);
    sp->remove(*c);
  }
  EXPECT_FALSE(sp->claim_oldest(corrupt));
  EXPECT_TRUE(corrupt.empty());
  EXPECT_EQ(sp->own_records(), 0u);
  // Emptied: the folder goes (its parents stay).
  EXPECT_NE(::access((tmp.path() + "/a/b").c_str(), F_OK), 0);
  EXPECT_EQ(::access((tmp.path() + "/a").c_str(), F_OK), 0);
}

TEST(Spool, NoFolderUntilSomethingIsSpooledAndNoneAfterItIsSent) {
  temp_dir tmp;
  const std::string dir = tmp.path() + "/service-1234";
  auto sp = open_spool(dir);
  std::vector<spool_loss> corrupt;
  EXPECT_FALSE(sp->claim_oldest(corrupt));
  EXPECT_EQ(sp->own_records(), 0u);
  EXPECT_EQ(sp->file_count(), 0u);
  EXPECT_NE(::access(dir.c_str(), F_OK), 0) << "opened, scanned, claimed from: still no folder";
  ASSERT_TRUE(sp->write("one", meta(3)).ok);
  EXPECT_EQ(::access(dir.c_str(), F_OK), 0);
  auto c = sp->claim_oldest(corrupt);
  ASSERT_TRUE(c);
  sp->remove(*c);
  EXPECT_NE(::access(dir.c_str(), F_OK), 0);
  // And again: the folder comes back with the next file.
  ASSERT_TRUE(sp->write("two", meta(4)).ok);
  EXPECT_EQ(spool_files(dir).size(), 1u);
}

TEST(Spool, AnEmptyFolderLeftByAnEarlierProcessIsRemovedAtOpen) {
  temp_dir tmp;
  const std::string dir = tmp.path() + "/spool";
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  auto sp = open_spool(dir);
  EXPECT_NE(::access(dir.c_str(), F_OK), 0);
}

TEST(Spool, AFolderAnotherHolderEmptiedAndRemovedIsCreatedAgain) {
  temp_dir tmp;
  const std::string dir = tmp.path() + "/spool";
  auto writer = open_spool(dir);
  auto sender = open_spool(dir);  // another process of the same service
  ASSERT_TRUE(writer->write("first", meta(1)).ok);
  std::vector<spool_loss> corrupt;
  auto c = sender->claim_oldest(corrupt);
  ASSERT_TRUE(c);
  sender->remove(*c);
  ASSERT_NE(::access(dir.c_str(), F_OK), 0);  // the sender emptied it and removed it
  // The writer still holds the removed folder open: its next file lands in a new folder.
  auto w = writer->write("second", meta(2));
  ASSERT_TRUE(w.ok) << w.error;
  EXPECT_EQ(spool_files(dir).size(), 1u);
  auto c2 = sender->claim_oldest(corrupt);
  ASSERT_TRUE(c2);
  EXPECT_EQ(c2->body, "second");
  sender->remove(*c2);
  EXPECT_EQ(writer->own_records(), 0u);
  EXPECT_EQ(writer->take_taken_over(), 3u);  // both of its files were sent by the other holder
}

TEST(Spool, ANewProcessSeesTheFilesAsNotItsOwn) {
  temp_dir tmp;
  {
    auto sp = open_spool(tmp.path());
    ASSERT_TRUE(sp->write("one", meta(3)).ok);
    ASSERT_TRUE(sp->write("two", meta_of(4, body_format::json, true, true)).ok);
  }
  auto sp = open_spool(tmp.path());
  EXPECT_EQ(sp->own_records(), 0u);
  std::vector<spool_loss> corrupt;
  auto a = sp->claim_oldest(corrupt);
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->own);
  EXPECT_EQ(a->body, "one");
  sp->remove(*a);
  auto b = sp->claim_oldest(corrupt);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->meta.format, body_format::json);
  EXPECT_TRUE(b->meta.gzip);
  EXPECT_TRUE(b->meta.maybe_duplicate);
  EXPECT_EQ(b->meta.records, 4u);
  sp->release(*b);  // given back: it is still there
  EXPECT_EQ(spool_files(tmp.path()).size(), 1u);
}

TEST(Spool, AtItsCapTheOldestFilesAreDroppedAndCounted) {
  temp_dir tmp;
  const std::string body(1000, 'x');
  // Room for two files of 1001 body bytes + the header.
  const std::uint64_t cap = 2 * (1001 + detail::k_spool_header_bytes) + 10;
  auto sp = open_spool(tmp.path(), cap);
  std::vector<spool_loss> evicted;
  for (std::uint32_t i = 0; i < 5; ++i) {
    auto w = sp->write(body + std::to_string(i), meta(100 + i));
    ASSERT_TRUE(w.ok || !w.evicted.empty()) << w.error;
    if (!w.ok) continue;
    for (auto& e : w.evicted) evicted.push_back(e);
  }
  // The third, fourth and fifth writes each needed room.
  std::uint64_t dropped = 0;
  for (const auto& e : evicted) {
    EXPECT_TRUE(e.own);
    dropped += e.records;
  }
  ASSERT_EQ(evicted.size(), 3u);
  EXPECT_EQ(dropped, 100u + 101 + 102);  // the oldest three
  EXPECT_LE(sp->total_bytes(), cap);
  std::vector<spool_loss> corrupt;
  auto c = sp->claim_oldest(corrupt);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->meta.records, 103u);  // what is left are the newest
  sp->release(*c);

  auto too_big = sp->write(std::string(5000, 'y'), meta(7));
  EXPECT_FALSE(too_big.ok);
  EXPECT_TRUE(too_big.too_large);
}

TEST(Spool, CorruptFilesAreSkippedCountedAndDeleted) {
  temp_dir tmp;
  {
    auto sp = open_spool(tmp.path());
    ASSERT_TRUE(sp->write("first-good", meta(1)).ok);
    ASSERT_TRUE(sp->write("flipped-bit", meta(22)).ok);
    ASSERT_TRUE(sp->write("truncated-body", meta(33)).ok);
    ASSERT_TRUE(sp->write("bad-header", meta(44)).ok);
    ASSERT_TRUE(sp->write("last-good", meta(5)).ok);
  }
  auto files = spool_files(tmp.path());
  ASSERT_EQ(files.size(), 5u);
  auto path = [&](int i) { return tmp.path() + "/" + files[static_cast<std::size_t>(i)]; };
  {  // one body byte changed: the CRC catches it
    std::fstream f(path(1), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(detail::k_spool_header_bytes + 3);
    f.put('X');
  }
  ASSERT_EQ(::truncate(path(2).c_str(), detail::k_spool_header_bytes + 4), 0);
  {  // the magic overwritten
    std::fstream f(path(3), std::ios::in | std::ios::out | std::ios::binary);
    f.write("JUNK", 4);
  }
  auto sp = open_spool(tmp.path());
  std::vector<spool_loss> corrupt;
  auto a = sp->claim_oldest(corrupt);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->body, "first-good");
  sp->remove(*a);
  auto b = sp->claim_oldest(corrupt);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->body, "last-good");
  sp->remove(*b);
  ASSERT_EQ(corrupt.size(), 3u);
  EXPECT_EQ(corrupt[0].records, 22u);
  EXPECT_NE(corrupt[0].detail.find("checksum"), std::string::npos) << corrupt[0].detail;
  EXPECT_EQ(corrupt[1].records, 33u);
  EXPECT_NE(corrupt[1].detail.find("truncated"), std::string::npos) << corrupt[1].detail;
  EXPECT_EQ(corrupt[2].records, 0u);  // the header itself is unreadable
  EXPECT_NE(corrupt[2].detail.find("record count is unknown"), std::string::npos) << corrupt[2].detail;
  EXPECT_TRUE(spool_files(tmp.path()).empty());
}

TEST(Spool, TwoHoldersOfTheSameFolderNeverClaimTheSameFile) {
  temp_dir tmp;
  auto a = open_spool(tmp.path());
  auto b = open_spool(tmp.path());  // another process would behave the same (flock)
  ASSERT_TRUE(a->write("only", meta(9)).ok);
  std::vector<spool_loss> corrupt;
  auto ca = a->claim_oldest(corrupt);
  ASSERT_TRUE(ca);
  std::this_thread::sleep_for(300ms);      // past b's rescan interval
  EXPECT_FALSE(b->claim_oldest(corrupt));  // locked by a
  a->remove(*ca);
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(b->claim_oldest(corrupt));  // gone
  EXPECT_TRUE(corrupt.empty());
}

TEST(Spool, AFileDeletedAfterItWasListedIsNotSentTwice) {
  temp_dir tmp;
  auto a = open_spool(tmp.path());
  auto b = open_spool(tmp.path());
  ASSERT_TRUE(a->write("x", meta(1)).ok);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(b->file_count(), 1u);  // b has listed it
  std::vector<spool_loss> corrupt;
  auto ca = a->claim_oldest(corrupt);
  ASSERT_TRUE(ca);
  a->remove(*ca);                          // sent and deleted by a
  EXPECT_FALSE(b->claim_oldest(corrupt));  // b's listing is stale, but it does not resend
}

TEST(Spool, AForkedChildDoesNotPinTheParentsClaims) {
  temp_dir tmp;
  auto sp = open_spool(tmp.path());
  ASSERT_TRUE(sp->write("x", meta(1)).ok);
  std::vector<spool_loss> corrupt;
  auto c = sp->claim_oldest(corrupt);
  ASSERT_TRUE(c);
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // What the exporter does in a forked child.
    spool::close_inherited_locks();
    char b = 'r';
    if (::write(ready[1], &b, 1) != 1) ::_exit(1);
    ::sleep(30);  // alive while the parent checks; killed below
    ::_exit(0);
  }
  char b = 0;
  ASSERT_EQ(::read(ready[0], &b, 1), 1);
  sp->release(*c);  // the parent gives the file back while the child still runs
  auto other = open_spool(tmp.path());
  auto again = other->claim_oldest(corrupt);
  EXPECT_TRUE(again) << "the child still holds the parent's lock";
  if (again) other->release(*again);
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  ::close(ready[0]);
  ::close(ready[1]);
}

TEST(Spool, SplitHalvesKeepTheirPlaceInTheOrder) {
  temp_dir tmp;
  auto sp = open_spool(tmp.path());
  ASSERT_TRUE(sp->write("A", meta(1)).ok);
  ASSERT_TRUE(sp->write("B", meta(2)).ok);
  ASSERT_TRUE(sp->write("C", meta(3)).ok);
  std::vector<spool_loss> corrupt;
  auto a = sp->claim_oldest(corrupt);
  sp->remove(*a);
  auto b = sp->claim_oldest(corrupt);
  ASSERT_EQ(b->body, "B");
  const std::string stem(detail::spool_stem(b->name));
  ASSERT_TRUE(sp->write("B1", meta(1), stem + "a").ok);
  ASSERT_TRUE(sp->write("B2", meta(1), stem + "b").ok);
  sp->remove(*b);
  std::vector<std::string> order;
  while (auto c = sp->claim_oldest(corrupt)) {
    order.push_back(c->body);
    sp->remove(*c);
  }
  EXPECT_EQ(order, (std::vector<std::string>{"B1", "B2", "C"}));
}

TEST(Spool, LeftoverTempFilesOfACrashAreRemoved) {
  temp_dir tmp;
  const std::string stale = tmp.path() + "/.tmp-99999-1";
  const std::string fresh = tmp.path() + "/.tmp-99999-2";
  std::ofstream(stale) << "partial";
  std::ofstream(fresh) << "in progress";
  struct timespec old_times[2] = {{1'000'000'000, 0}, {1'000'000'000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, stale.c_str(), old_times, 0), 0);
  auto sp = open_spool(tmp.path());
  EXPECT_NE(::access(stale.c_str(), F_OK), 0);
  EXPECT_EQ(::access(fresh.c_str(), F_OK), 0);  // maybe another process is writing it
  std::vector<spool_loss> corrupt;
  EXPECT_FALSE(sp->claim_oldest(corrupt));  // temp files are never sent
}

TEST(Spool, AFolderThatCannotBeWrittenIsReportedNotCrashedOn) {
  temp_dir tmp;
  const std::string dir = tmp.path() + "/spool";
  auto sp = open_spool(dir);
  std::ofstream(dir) << "not a folder";  // the path taken by something else under the running process
  auto w = sp->write("x", meta(1));
  EXPECT_FALSE(w.ok);
  EXPECT_NE(w.error.find(dir), std::string::npos) << w.error;
  std::vector<spool_loss> corrupt;
  EXPECT_FALSE(sp->claim_oldest(corrupt));

  const std::string file = tmp.path() + "/a-file";
  std::ofstream(file) << "x";
  std::string err;
  EXPECT_FALSE(spool::open({.directory = file + "/spool", .max_bytes = 1000}, err));
  EXPECT_NE(err.find(file + "/spool"), std::string::npos) << err;
  EXPECT_NE(err.find("Not a directory"), std::string::npos) << err;
}

TEST(Spool, HeaderRoundTripAndRejection) {
  unsigned char h[detail::k_spool_header_bytes];
  detail::encode_spool_header(meta_of(77, body_format::json, true), "hello", h);
  auto d = detail::decode_spool_header(h, sizeof h);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->meta.records, 77u);
  EXPECT_EQ(d->body_bytes, 5u);
  EXPECT_EQ(d->body_crc, detail::crc32_of("hello"));
  EXPECT_EQ(detail::crc32_of("123456789"), 0xCBF43926u);  // the CRC-32 check value
  h[9] ^= 1;                                              // the record count changed
  EXPECT_FALSE(detail::decode_spool_header(h, sizeof h));
  EXPECT_FALSE(detail::decode_spool_header(h, 10));
}

}  // namespace
}  // namespace logfire::test
