#ifndef TIERWISE_COMMON_CLIENT_CHANNEL_H_
#define TIERWISE_COMMON_CLIENT_CHANNEL_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

namespace tierwise::client {

// How to reach a Tierwise service. With ca_file set the channel uses TLS (and mutual TLS when
// cert_file/key_file are set too); otherwise plaintext.
struct ChannelOptions {
  std::string address;  // host:port
  std::string token;    // bearer token sent as `authorization: Bearer <token>`
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
};

// Creates a channel. The token is not attached here: use Authorize() per call, so one channel
// can serve callers with different roles.
std::shared_ptr<grpc::Channel> MakeChannel(const ChannelOptions& options);

// Adds the bearer token (and, when given, a request id) to a client context.
void Authorize(grpc::ClientContext& context, const std::string& token,
               const std::string& request_id = "");

}  // namespace tierwise::client

#endif  // TIERWISE_COMMON_CLIENT_CHANNEL_H_
