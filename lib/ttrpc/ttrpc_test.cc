#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "lib/ttrpc/client.h"
#include "lib/ttrpc/server.h"
#include "lib/ttrpc/wire.h"
#include "tests/testing/matchers.h"
#include "tests/testing/temp_dir.h"

namespace berth::ttrpc {
namespace fs = std::filesystem;

namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kSvc[] = "test.v1.Echo";

TEST(WireTest, FrameHeaderIsBigEndian) {
  std::string out;
  AppendFrame(&out, Frame{0x01020304, FrameType::kResponse, kFlagRemoteClosed, "abc"});
  ASSERT_EQ(out.size(), kHeaderSize + 3);
  EXPECT_EQ(out.substr(0, 10), std::string("\0\0\0\3\1\2\3\4\2\1", 10));
  EXPECT_EQ(out.substr(10), "abc");
}

TEST(WireTest, ReaderReassemblesFramesCutAnywhere) {
  std::string bytes;
  for (uint32_t i = 1; i <= 5; ++i)
    AppendFrame(&bytes, Frame{i, FrameType::kData, 0, std::string(i * 1000, 'a' + i)});
  for (size_t step : {1, 3, 7, 10, 4096}) {
    FrameReader r;
    std::vector<Frame> got;
    for (size_t off = 0; off < bytes.size(); off += step) {
      r.Feed(bytes.data() + off, std::min(step, bytes.size() - off));
      for (;;) {
        absl::StatusOr<std::optional<Frame>> f = r.Next();
        ASSERT_THAT(f.status(), IsOk());
        if (!f->has_value())
          break;
        got.push_back(std::move(**f));
      }
    }
    ASSERT_EQ(got.size(), 5u) << "step " << step;
    for (uint32_t i = 1; i <= 5; ++i) {
      EXPECT_EQ(got[i - 1].stream_id, i);
      EXPECT_EQ(got[i - 1].payload, std::string(i * 1000, 'a' + i));
    }
  }
}

TEST(WireTest, OversizedFrameIsAnError) {
  FrameReader r;
  std::string h("\x7f\0\0\0\0\0\0\1\1\0", 10);
  r.Feed(h.data(), h.size());
  EXPECT_THAT(r.Next().status(), StatusIs(absl::StatusCode::kInvalidArgument, "over the limit"));
}

TEST(WireTest, RequestAndResponseRoundTrip) {
  Request in{.service = "s.v1.S",
             .method = "M",
             .payload = std::string("\0x\1", 3),
             .timeout_nano = 5000000000};
  absl::StatusOr<Request> out = DecodeRequest(EncodeRequest(in));
  ASSERT_THAT(out.status(), IsOk());
  EXPECT_EQ(out->service, in.service);
  EXPECT_EQ(out->method, in.method);
  EXPECT_EQ(out->payload, in.payload);
  EXPECT_EQ(out->timeout_nano, in.timeout_nano);

  std::string payload;
  EXPECT_THAT(DecodeResponse(EncodeResponse(absl::OkStatus(), "reply"), &payload), IsOk());
  EXPECT_EQ(payload, "reply");
  EXPECT_THAT(
      DecodeResponse(EncodeResponse(absl::NotFoundError("task \"x\": not found"), ""), &payload),
      StatusIs(absl::StatusCode::kNotFound, "task \"x\": not found"));
  EXPECT_THAT(DecodeRequest(std::string("\x0a\x05"
                                        "ab",
                                        4))
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// A server on a private socket, serving on its own thread.
class TtrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    socket_ = (dir_ / "t.sock").string();
    server_.RegisterUnary(kSvc, "Echo", [](const std::string& req, std::string* resp) {
      *resp = req;
      return absl::OkStatus();
    });
    server_.RegisterUnary(kSvc, "Fail", [](const std::string& req, std::string*) {
      return absl::FailedPreconditionError("task " + req + ": is running");
    });
    server_.RegisterUnary(kSvc, "Block", [this](const std::string&, std::string* resp) {
      release_.WaitForNotification();
      *resp = "released";
      return absl::OkStatus();
    });
    server_.RegisterUnary(kSvc, "Thread", [](const std::string&, std::string* resp) {
      *resp = std::to_string(::gettid());
      return absl::OkStatus();
    });
    server_.RegisterStream(kSvc, "Count", [](const std::string& req, const Server::Send& send) {
      for (int i = 0; i < std::stoi(req); ++i) {
        if (!send(std::to_string(i)))
          return absl::CancelledError("gone");
      }
      return absl::OkStatus();
    });
    server_.RegisterStream(kSvc, "Ticks", [](const std::string&, const Server::Send& send) {
      while (send("tick")) absl::SleepFor(absl::Milliseconds(10));
      return absl::CancelledError("client gone");
    });
    server_.RegisterStream(kSvc, "Tail", [this](const std::string&, const Server::Send& send) {
      finish_.WaitForNotification();  // then sends what it has left, and ends
      for (const char* msg : {"last-1", "last-2"}) {
        if (!send(msg))
          return absl::CancelledError("gone");
      }
      return absl::OkStatus();
    });
    ASSERT_THAT(server_.Listen(socket_), IsOk());
    thread_ = std::thread([this] { server_.Serve(absl::Milliseconds(500)); });
  }

  void TearDown() override {
    for (absl::Notification* n : {&release_, &finish_}) {
      if (!n->HasBeenNotified())
        n->Notify();
    }
    server_.Stop();
    thread_.join();
    server_.Shutdown(absl::Seconds(2));
  }

  std::unique_ptr<Client> Dial() {
    absl::StatusOr<std::unique_ptr<Client>> c = Client::Dial(socket_, absl::Seconds(5));
    EXPECT_THAT(c.status(), IsOk());
    return c.ok() ? std::move(*c) : nullptr;
  }

  // A server stream as the client sees it: its messages, then its end.
  struct Received {
    std::vector<std::string> messages;
    absl::Status end = absl::UnknownError("not done");
    absl::Notification done;
  };

  static void OpenStream(Client& c, const char* method, const std::string& req, Received* r) {
    c.OpenStream(
        kSvc, method, req, [r](std::string m) { r->messages.push_back(std::move(m)); },
        [r](absl::Status s) {
          r->end = s;
          r->done.Notify();
        });
  }

  berth::testing::TempDir dir_{"ttrpc"};
  std::string socket_;
  Server server_;
  std::thread thread_;
  absl::Notification release_;
  absl::Notification finish_;
};

TEST_F(TtrpcTest, UnaryCallsAndErrors) {
  std::unique_ptr<Client> c = Dial();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->Call(kSvc, "Echo", "hello", absl::Seconds(5)).value_or("?"), "hello");
  EXPECT_EQ(c->Call(kSvc, "Echo", "", absl::Seconds(5)).value_or("?"), "");
  EXPECT_THAT(c->Call(kSvc, "Fail", "\"t1\"", absl::Seconds(5)).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, "task \"t1\": is running"));
  EXPECT_THAT(c->Call(kSvc, "Nope", "", absl::Seconds(5)).status(),
              StatusIs(absl::StatusCode::kUnimplemented, "/test.v1.Echo/Nope"));
  EXPECT_THAT(c->Call("other.Svc", "Echo", "", absl::Seconds(5)).status(),
              StatusIs(absl::StatusCode::kUnimplemented, "/other.Svc/Echo"));
}

TEST_F(TtrpcTest, LargeMessagesCrossWhole) {
  std::unique_ptr<Client> c = Dial();
  ASSERT_NE(c, nullptr);
  std::string big(8 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7919 % 251);
  absl::StatusOr<std::string> r = c->Call(kSvc, "Echo", big, absl::Seconds(20));
  ASSERT_THAT(r.status(), IsOk());
  EXPECT_TRUE(*r == big);
}

TEST_F(TtrpcTest, BlockingCallDoesNotHoldUpOthers) {
  std::unique_ptr<Client> c = Dial();
  ASSERT_NE(c, nullptr);
  absl::StatusOr<std::string> blocked;
  std::thread t([&] { blocked = c->Call(kSvc, "Block", "", absl::Seconds(10)); });
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(c->Call(kSvc, "Echo", "x", absl::Seconds(2)).value_or("?"), "x");
  release_.Notify();
  t.join();
  EXPECT_EQ(blocked.value_or("?"), "released");
}

// A call does not start a thread of its own: calls one after another run on the few workers
// that the server keeps (one, unless a call comes before the last worker is back to idle), also
// next to a call that blocks (which holds a worker of its own).
TEST_F(TtrpcTest, CallsReuseIdleWorkers) {
  std::unique_ptr<Client> c = Dial();
  ASSERT_NE(c, nullptr);
  auto threads = [&c] {
    std::set<std::string> tids;
    for (int i = 0; i < 20; ++i)
      tids.insert(c->Call(kSvc, "Thread", "", absl::Seconds(5)).value_or("?"));
    return tids;
  };
  EXPECT_LE(threads().size(), 3u);
  absl::StatusOr<std::string> blocked;
  std::thread t([&] { blocked = c->Call(kSvc, "Block", "", absl::Seconds(10)); });
  absl::SleepFor(absl::Milliseconds(100));  // the blocking call holds a worker
  EXPECT_LE(threads().size(), 3u);
  release_.Notify();
  t.join();
  EXPECT_EQ(blocked.value_or("?"), "released");
}

TEST_F(TtrpcTest, ConcurrentCallsGetTheirOwnReplies) {
  std::unique_ptr<Client> c = Dial();
  ASSERT_NE(c, nullptr);
  std::atomic<int> wrong = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        std::string msg = std::to_string(t) + ":" + std::to_string(i) + std::string(i * 50, 'z');
        if (c->Call(kSvc, "Echo", msg, absl::Seconds(10)).value_or("?") != msg)
          ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST_F(TtrpcTest, DeadlineAndCancel) {
  std::unique_ptr<Client> c = Dial();
  ASSERT_NE(c, nullptr);
  EXPECT_THAT(c->Call(kSvc, "Block", "", absl::Milliseconds(100)).status(),
              StatusIs(absl::StatusCode::kDeadlineExceeded, "Block"));
  int asked = 0;
  EXPECT_THAT(c->Call(kSvc, "Block", "", absl::Seconds(10), [&] { return ++asked >= 2; }).status(),
              StatusIs(absl::StatusCode::kCancelled));
  // The connection still works after an abandoned call.
  EXPECT_EQ(c->Call(kSvc, "Echo", "ok", absl::Seconds(2)).value_or("?"), "ok");
}

TEST_F(TtrpcTest, ServerStream) {
  std::unique_ptr<Client> c = Dial();
  ASSERT_NE(c, nullptr);
  Received r;
  OpenStream(*c, "Count", "50", &r);
  ASSERT_TRUE(r.done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_THAT(r.end, IsOk());
  ASSERT_EQ(r.messages.size(), 50u);
  EXPECT_EQ(r.messages[0], "0");
  EXPECT_EQ(r.messages[49], "49");
}

TEST_F(TtrpcTest, ConnectionEndFailsCallsAndStreams) {
  std::unique_ptr<Client> c = Dial();
  ASSERT_NE(c, nullptr);
  absl::Status end;
  absl::Notification done;
  absl::StatusOr<std::string> blocked;
  std::thread t([&] { blocked = c->Call(kSvc, "Block", "", absl::Seconds(10)); });
  c->OpenStream(kSvc, "Count", "0", nullptr, [](absl::Status) {});
  std::atomic<int> ticks = 0;
  c->OpenStream(
      kSvc, "Ticks", "", [&](std::string) { ++ticks; },
      [&](absl::Status s) {
        end = s;
        done.Notify();
      });
  absl::SleepFor(absl::Milliseconds(100));
  server_.Stop();  // the running unary call is let finish and answered
  absl::SleepFor(absl::Milliseconds(100));
  release_.Notify();
  t.join();
  EXPECT_EQ(blocked.value_or("?"), "released");
  thread_.join();
  thread_ = std::thread([] {});
  server_.Shutdown(absl::Seconds(2));  // now the connection closes
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(5)));
  EXPECT_THAT(end, StatusIs(absl::StatusCode::kUnavailable, "connection closed"));
  EXPECT_GT(ticks.load(), 0);
  EXPECT_TRUE(c->Closed());
  EXPECT_THAT(c->Call(kSvc, "Echo", "x", absl::Seconds(1)).status(),
              StatusIs(absl::StatusCode::kUnavailable, "connection closed"));
}

// What a shim does when it stops: Stop, let the event stream send its last events and end,
// then Shutdown. The client gets every message and a clean end.
TEST_F(TtrpcTest, WaitForCallsLetsAStreamFinishBeforeShutdown) {
  std::unique_ptr<Client> c = Dial();
  ASSERT_NE(c, nullptr);
  Received r;
  OpenStream(*c, "Tail", "", &r);
  absl::SleepFor(absl::Milliseconds(100));  // the call is running
  server_.Stop();
  thread_.join();
  thread_ = std::thread([] {});
  EXPECT_FALSE(server_.WaitForCalls(absl::Milliseconds(50)));  // the stream still waits
  finish_.Notify();
  EXPECT_TRUE(server_.WaitForCalls(absl::Seconds(5)));
  server_.Shutdown(absl::Seconds(2));
  ASSERT_TRUE(r.done.WaitForNotificationWithTimeout(absl::Seconds(5)));
  EXPECT_THAT(r.end, IsOk());
  EXPECT_THAT(r.messages, ::testing::ElementsAre("last-1", "last-2"));
}

TEST(TtrpcDialTest, NoServerIsUnavailable) {
  berth::testing::TempDir dir("ttrpc");
  EXPECT_THAT(Client::Dial((dir / "none.sock").string(), absl::Milliseconds(50)).status(),
              StatusIs(absl::StatusCode::kUnavailable, "none.sock"));
}

TEST(TtrpcDialTest, SocketPathLongerThanSunPath) {
  // A bundle under a deep state dir with a 64-character container id: 150+ bytes.
  berth::testing::TempDir dir("ttrpc");
  fs::path deep = dir / "state/tasks/default" / std::string(64, 'a');
  fs::create_directories(deep);
  std::string path = (deep / "shim.sock").string();
  ASSERT_GT(path.size(), sizeof(sockaddr_un::sun_path));
  Server server;
  server.RegisterUnary(kSvc, "Echo", [](const std::string& req, std::string* resp) {
    *resp = req;
    return absl::OkStatus();
  });
  ASSERT_THAT(server.Listen(path), IsOk());
  EXPECT_TRUE(fs::exists(path));  // bound at the real path, not elsewhere
  std::thread t([&] { server.Serve(absl::Milliseconds(200)); });
  absl::StatusOr<std::unique_ptr<Client>> c = Client::Dial(path, absl::Seconds(2));
  ASSERT_THAT(c.status(), IsOk());
  EXPECT_EQ((*c)->Call(kSvc, "Echo", "deep", absl::Seconds(5)).value_or("?"), "deep");
  server.Stop();
  t.join();
  server.Shutdown(absl::Seconds(2));
}

TEST(TtrpcDialTest, PeerThatCloses) {
  // A listener that accepts and closes at once: the call fails with Unavailable, no hang.
  berth::testing::TempDir dir("ttrpc");
  std::string path = (dir / "close.sock").string();
  int lfd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, path.c_str());
  ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(lfd, 4), 0);
  std::thread t([lfd] {
    int fd = ::accept(lfd, nullptr, nullptr);
    char buf[16];
    (void)!::read(fd, buf, sizeof(buf));
    ::close(fd);
  });
  absl::StatusOr<std::unique_ptr<Client>> c = Client::Dial(path, absl::Seconds(2));
  ASSERT_THAT(c.status(), IsOk());
  EXPECT_THAT((*c)->Call(kSvc, "Echo", "x", absl::Seconds(5)).status(),
              StatusIs(absl::StatusCode::kUnavailable, "connection closed"));
  t.join();
  ::close(lfd);
}

}  // namespace
}  // namespace berth::ttrpc
