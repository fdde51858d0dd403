#include "common/redis/redis_client.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "common/testing/test_env.h"
#include "gtest/gtest.h"

namespace tierwise::redis {
namespace {

TEST(RedisClientTest, CommandsRoundTripBinarySafely) {
  auto client = testing::NewRedisClient();
  const std::string key = testing::UniqueName("k");
  const std::string value("a\0b\r\n", 5);
  auto set = client->Command({"SET", key, value});
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->type, Reply::Type::kStatus);
  auto get = client->Command({"GET", key});
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->str, value);
  auto missing = client->Command({"GET", key + "-missing"});
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->is_nil());
  auto error = client->Command({"INCR", key});
  ASSERT_TRUE(error.ok());
  EXPECT_EQ(error->type, Reply::Type::kError);
}

TEST(RedisClientTest, PipelineAnswersEveryCommandInOrder) {
  auto client = testing::NewRedisClient();
  const std::string key = testing::UniqueName("p");
  std::vector<std::vector<std::string>> commands;
  for (int i = 0; i < 100; ++i) commands.push_back({"INCR", key});
  commands.push_back({"HGET", key, "f"});  // wrong type: an error reply, the rest still answer
  commands.push_back({"GET", key});
  auto replies = client->Pipeline(commands);
  ASSERT_TRUE(replies.ok()) << replies.status();
  ASSERT_EQ(replies->size(), 102u);
  EXPECT_EQ((*replies)[0].integer, 1);
  EXPECT_EQ((*replies)[99].integer, 100);
  EXPECT_EQ((*replies)[100].type, Reply::Type::kError);
  EXPECT_EQ((*replies)[101].str, "100");
  auto none = client->Pipeline({});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  RedisClient down(
      {.host = "127.0.0.1", .port = 1, .connect_timeout = std::chrono::milliseconds(200)});
  EXPECT_EQ(down.Pipeline({{"PING"}}).status().code(), absl::StatusCode::kUnavailable);
}

TEST(RedisClientTest, StreamAddWithExplicitIdsRejectsGoingBackwards) {
  auto client = testing::NewRedisClient();
  const std::string stream = testing::UniqueName("s");
  ASSERT_TRUE(client->XAdd(stream, "5-0", {{"f", "1"}}).ok());
  EXPECT_EQ(client->XAdd(stream, "5-0", {{"f", "2"}}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(client->XAdd(stream, "6-0", {{"f", "3"}}).ok());
  auto entries = client->XRange(stream);
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].id, "5-0");
  EXPECT_EQ((*entries)[1].Field("f"), "3");
}

TEST(RedisClientTest, ReconnectsAfterServerClosesTheConnection) {
  auto client = testing::NewRedisClient();
  ASSERT_TRUE(client->Ping().ok());
  // Ask Redis to drop every normal client connection, including ours.
  auto other = testing::NewRedisClient();
  ASSERT_TRUE(other->Command({"CLIENT", "KILL", "TYPE", "normal"}).ok());
  EXPECT_TRUE(client->Ping().ok());
}

TEST(RedisClientTest, UnreachableServerIsUnavailableWithinTimeout) {
  RedisClient client(
      {.host = "127.0.0.1", .port = 1, .connect_timeout = std::chrono::milliseconds(200)});
  EXPECT_EQ(client.Ping().code(), absl::StatusCode::kUnavailable);
}

// A one-connection server that answers every command with `reply` (a RESP error line).
class ScriptedServer {
 public:
  explicit ScriptedServer(std::string reply) : reply_(std::move(reply)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    socklen_t len = sizeof(addr);
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    ::listen(listener_, 4);
    thread_ = std::thread([this] {
      for (int served = 0; served < 2; ++served) {  // the command and its one reconnect
        const int conn = ::accept(listener_, nullptr, nullptr);
        if (conn < 0) return;
        char buffer[4096];
        if (::read(conn, buffer, sizeof(buffer)) > 0) {
          (void)!::write(conn, reply_.data(), reply_.size());
        }
        ::close(conn);
      }
    });
  }
  ~ScriptedServer() {
    ::shutdown(listener_, SHUT_RDWR);
    ::close(listener_);
    thread_.join();
  }
  int port() const { return port_; }

 private:
  std::string reply_;
  int listener_ = -1;
  int port_ = 0;
  std::thread thread_;
};

TEST(RedisClientTest, LoadingAfterARestartIsUnavailableNotAnErrorReply) {
  ScriptedServer server("-LOADING Redis is loading the dataset in memory\r\n");
  RedisClient client({.host = "127.0.0.1", .port = server.port()});
  auto reply = client.Command({"XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"});
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable) << reply.status();
  EXPECT_NE(reply.status().message().find("LOADING"), std::string::npos);
}

TEST(RedisClientTest, PermanentErrorRepliesStayReplies) {
  ScriptedServer server("-BUSYGROUP Consumer Group name already exists\r\n");
  RedisClient client({.host = "127.0.0.1", .port = server.port()});
  auto reply = client.Command({"XGROUP", "CREATE", "s", "g", "0"});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->type, Reply::Type::kError);
}

TEST(RedisClientTest, ParsesAddresses) {
  auto o = ParseRedisAddress("redis.internal:7001");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->host, "redis.internal");
  EXPECT_EQ(o->port, 7001);
  EXPECT_FALSE(ParseRedisAddress("host:notaport").ok());
}

}  // namespace
}  // namespace tierwise::redis
