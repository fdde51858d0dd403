#ifndef TIERWISE_COMMON_CLIENT_CHANNEL_H_
#define TIERWISE_COMMON_CLIENT_CHANNEL_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

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

// The option names of the TLS files, for error messages: a service passes its own flags
// (e.g. {"--classification_ca_file", "--classification_cert", "--classification_key"}).
struct TlsFileNames {
  std::string ca_file = "ca_file";
  std::string cert_file = "cert_file";
  std::string key_file = "key_file";
};

// Channel credentials for `options`, with the files read now: plaintext without ca_file, TLS
// trusting ca_file, mutual TLS presenting cert_file/key_file when both are set. Errors name
// the option: INVALID_ARGUMENT when only one of cert_file/key_file is set or a client
// certificate comes without ca_file; NOT_FOUND when a file cannot be read, is empty or holds
// no PEM block. For start-up, so a misconfigured binary stops instead of failing every call.
//
//   TW_ASSIGN_OR_RETURN(auto creds, MakeChannelCredentials(
//       {.ca_file = ca, .cert_file = cert, .key_file = key},
//       {"--peer_ca_file", "--peer_cert", "--peer_key"}));
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const ChannelOptions& options, const TlsFileNames& names = {});

// A channel to options.address with MakeChannelCredentials' credentials (and its errors).
absl::StatusOr<std::shared_ptr<grpc::Channel>> OpenChannel(const ChannelOptions& options,
                                                           const TlsFileNames& names = {});

// Creates a channel without checking the files first (an unreadable file is sent as empty, and
// the calls fail): for tools and tests. Services use OpenChannel. The token is not attached
// here: use Authorize() per call, so one channel can serve callers with different roles.
std::shared_ptr<grpc::Channel> MakeChannel(const ChannelOptions& options);

// Adds the bearer token (and, when given, a request id) to a client context.
void Authorize(grpc::ClientContext& context, const std::string& token,
               const std::string& request_id = "");

}  // namespace tierwise::client

#endif  // TIERWISE_COMMON_CLIENT_CHANNEL_H_
